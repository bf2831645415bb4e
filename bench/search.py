"""The search of names and addresses (q=) on the Credentials page and the API list, with
1,000 and 100,000 credentials in the database.

Prints the median server time of each case at each size and the ratio of 100,000 to 1,000;
the target is a ratio under 2: the trigram index (models.search) finds the few matches
without reading every credential. The fill is bench/fill.py's ("Recipient N",
rN@example.com), with five recipients given an accented name and an address of their own
through the app's rename and address change. A trigram index reads the candidates of the
query's rarest trigram: "r50@" finds one address, but its trigrams "r50" and "50@" are in
1% of the addresses, so its cost grows with the table (shown, not a target).
Run: .venv/bin/python bench/search.py [DATABASE_URL]   (default: SQLite)
"""

import sys
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

import issuing  # noqa: E402
from bench.common import sized  # noqa: E402
from bench.fill import measured  # noqa: E402
from models import Credential, db, refresh_statistics  # noqa: E402

SIZES = sized((1_000, 100_000), (100, 1_000))
NAMES = ("1,000", "100,000")  # the full sizes' (the tests read these lines)
ROUNDS = sized(15, 2)
ACCENTED = 5  # recipients named "Héloïse Lefèvre-Ångström N", spread through the list
NAME_QUERY = "ÉLOÏSE LEFEVRE"  # finds those five: other case, accents dropped or not
ADDRESS_QUERY = "lefevre3@ecole"  # finds heloise.lefevre3@école.example alone
SHARED_QUERY = "r50@"  # finds bench/fill.py's r50@… alone, at every size


def page(text, **headers):
    """A call that searches the Credentials page and checks it found rows."""
    def call(site):
        response = site.client.get(f"/credentials?q={quote(text)}", headers=headers)
        assert response.status_code == 200 and b"data-email-status" in response.data, text
    return call


def api(text, found):
    """A call that searches the API list and checks it found that many."""
    def call(site):
        response = site.client.get(f"/api/v1/credentials?q={quote(text)}",
                                   headers=site.api_headers)
        assert response.status_code == 200 and response.json["total"] == found, text
    return call


def cases():
    """(label, call, a target) for every measured case."""
    yield "page, a name", page(NAME_QUERY), True
    yield "page, an address", page(ADDRESS_QUERY), True
    yield "htmx page, a name", page(NAME_QUERY, **{"HX-Request": "true"}), True
    yield "API list, a name", api(NAME_QUERY, ACCENTED), True
    yield "API list, an address", api(ADDRESS_QUERY, 1), True
    yield "page, r50@", page(SHARED_QUERY), False
    yield "API list, r50@", api(SHARED_QUERY, 1), False


def rename_some(site):
    """Give ACCENTED recipients, spread through the list, an accented name and address."""
    with site.app.app_context():
        ids = db.session.scalars(sa.select(Credential.id).where(
            Credential.org_id == site.org_id).order_by(Credential.id)).all()
        connection = db.session.connection()
        for n in range(ACCENTED):
            credential_id = ids[len(ids) * n // ACCENTED + 7]
            issuing.rename(connection, credential_id, f"Héloïse Lefèvre-Ångström {n}")
            issuing.change_address(connection, credential_id,
                                   f"heloise.lefevre{n}@école.example")
        db.session.commit()
        refresh_statistics()


def main():
    database, found = measured({label: call for label, call, _ in cases()}, SIZES, ROUNDS,
                               prepare=rename_some)
    print("database:", database,
          "sizes:", ", ".join(f"{count:,}" for count in SIZES))
    print(f"{'':24}{NAMES[0]:>12}{NAMES[1]:>12}{NAMES[1] + '/' + NAMES[0]:>18}")
    for label, _, _ in cases():
        ms = found[label]
        print(f"{label:24}{ms[0]:>10.2f}ms{ms[1]:>10.2f}ms{ms[1] / ms[0]:>18.2f}")
    for label, _, target in cases():
        ratio = found[label][1] / found[label][0]
        if target:
            print(f"search {NAMES[1]} / {NAMES[0]} = {ratio:.2f} ({label}; target < 2)")


if __name__ == "__main__":
    main()
