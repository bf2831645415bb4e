"""Which column holds what: recognised from the header names, corrected by the issuer."""

import re

# Normalized header names recognised for each role (DESIGN: name, email, group).
HEADERS = {
    "name": {"name", "recipient name", "full name", "recipient", "participant", "student"},
    "email": {"email", "recipient email", "e-mail", "email address", "e-mail address",
              "mail", "recipient e-mail"},
    "group": {"group", "group name", "course", "credential group", "event"},
}


def normalized(header):
    """Lower case, words separated by one space (underscores count as spaces)."""
    return " ".join(re.sub(r"[_\s]+", " ", header or "").lower().split())


def guess(columns):
    """{role: column index or None}, the first column whose header names the role."""
    found = dict.fromkeys(HEADERS)
    for index, header in enumerate(columns):
        for role, names in HEADERS.items():
            if found[role] is None and normalized(header) in names:
                found[role] = index
                break
    return found


def proposal(found):
    """The import's fields an inspection (importer.files) fills in: the file's shape and the
    guessed mapping."""
    guessed = guess(found.columns)
    return {"kind": found.kind, "delimiter": found.delimiter, "columns": found.columns,
            "sample": found.sample, "expected_rows": found.expected_rows,
            "name_col": guessed["name"], "email_col": guessed["email"],
            "group_col": guessed["group"]}
