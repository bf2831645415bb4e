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
