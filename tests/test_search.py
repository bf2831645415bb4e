"""The search of names and addresses (models.search): any 3+ character substring, whatever
its case and accents, through the trigram index on SQLite and PostgreSQL alike."""

import logging
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from conftest import _database_url, api_for, empty_postgres, issue, statuses_on_page
from flask_migrate import upgrade
from test_imports import checked, issue_import

import issuing
from app import create_app
from models import Credential, db, search
from views.queries import filtered, matching, page_of, revoked_count, status_counts

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)

PEOPLE = [("José Álvarez", "Jose.Alvarez@example.com"),
          ("Héloïse Dupont", "heloise@lyon.example.fr"),
          ("Zoë Ångström", "zoe@example.org"),
          ("Jürgen Straße", None),
          ("Ann 100% Sure", None),
          ("Bob_Smith", "bob@example.com"),
          ('Quinn "Q" O\'Neil', "quinn@example.net")]


@pytest.fixture
def people(issuer, rival):
    """The issuer's recipients (PEOPLE) and a rival organization's namesake of the first."""
    for name, email in PEOPLE:
        issue(issuer, name=name, email=email)
    issue(rival, name="José Álvarez", email="jose.alvarez@rival.example")


def names(api, text):
    found = api.get(f"/api/v1/credentials?q={quote(text)}").json
    assert found["total"] == len(found["items"])
    return {item["recipient_name"] for item in found["items"]}


# (text typed, the names it finds)
CASES = [
    ("jose", {"José Álvarez"}),  # no accent typed: found with one
    ("JOSÉ ÁLV", {"José Álvarez"}),
    ("ÉLO", {"Héloïse Dupont"}),
    ("he\u0301loi\u0308se", {"Héloïse Dupont"}),  # the accents as combining marks
    ("varez", {"José Álvarez"}),  # anywhere in the name
    ("alvarez@EXAMPLE.c", {"José Álvarez"}),  # and the address
    ("lyon.exa", {"Héloïse Dupont"}),  # part of its domain
    ("angstrom", {"Zoë Ångström"}),
    ("strasse", {"Jürgen Straße"}),  # ß is ss
    ("zo", {"Zoë Ångström"}),  # shorter than a trigram: read, not indexed
    ("100%", {"Ann 100% Sure"}),  # % _ " ' are literal
    ("%", {"Ann 100% Sure"}),
    ("b_s", {"Bob_Smith"}),
    ("_", {"Bob_Smith"}),
    ('"Q" O\'', {'Quinn "Q" O\'Neil'}),
    ('"', {'Quinn "Q" O\'Neil'}),
    ("o'neil", {'Quinn "Q" O\'Neil'}),
    ('" OR "', set()),
    ("example.com", {"José Álvarez", "Bob_Smith"}),
    ("nobody-like-this", set()),
    ("dupont\nheloise", set()),  # never across the name and the address
    ("rival", set()),  # another organization's
]


@BOTH
def test_finds_any_part_of_a_name_or_address_whatever_case_and_accents(api, people):
    found = {text: names(api, text) for text, _ in CASES}
    assert found == dict(CASES)


@BOTH
def test_the_page_finds_the_same_and_counts_its_statuses(app, logged_in, issuer, people):
    page = logged_in.get("/credentials?q=" + quote("ÉLOÏSE")).text
    assert "Héloïse Dupont" in page and len(statuses_on_page(page)) == 1
    page = logged_in.get("/credentials?q=example").text
    assert len(statuses_on_page(page)) == 5
    assert "José Álvarez" in page and "rival.example" not in page
    counts = status_counts(issuer.org_id, "example")
    assert counts["not_sent"] == 5 and sum(counts.values()) == 5
    assert page_of(issuer.org_id, text="EXAMPLE")[1] == 5


@BOTH
def test_search_combines_with_the_status_and_revoked_filters(app, api, issuer, rival):
    published = [issue(issuer, name=f"Amélie {n}", email=f"amelie{n}@example.com",
                       action="publish").id for n in range(3)]
    issue(issuer, name="Amélie draft", email="amelie.draft@example.com")
    issue(rival, name="Amélie rival", email="amelie@rival.example", action="publish")
    issuing.revoke(db.session.connection(), published[:1], "Mistake", issuer.id)
    db.session.commit()
    assert status_counts(issuer.org_id, "amelie") == {
        **dict.fromkeys(status_counts(issuer.org_id), 0), "sending": 2, "not_sent": 2}
    assert revoked_count(issuer.org_id, "AMÉLIE") == 1
    assert revoked_count(issuer.org_id, "draft") == 0
    revoked = db.session.scalars(filtered(issuer.org_id, text="amel", revoked=True)).all()
    assert [c.id for c in revoked] == published[:1]
    assert api.get("/api/v1/credentials?email_status=not_sent&q=amelie").json["total"] == 2
    assert api.get("/api/v1/credentials?email_status=sending&q=draft").json["total"] == 0


@BOTH
def test_search_follows_renames_and_address_changes(app, api, issuer):
    credential = issue(issuer, name="Jane Doe", email="jane@example.com")
    path = f"/api/v1/credentials/{credential.id}"
    assert api.patch(path, json={"recipient_name": "Renée Martin"}).status_code == 200
    assert names(api, "jane doe") == set() and names(api, "renee mar") == {"Renée Martin"}
    assert names(api, "jane@exa") == {"Renée Martin"}  # the address is still there
    assert api.patch(path, json={"recipient_email": "r.martin@école.example"}).status_code == 200
    assert names(api, "jane@exa") == set()
    assert names(api, "martin@ecole") == {"Renée Martin"}
    assert names(api, "renée") == {"Renée Martin"}  # the name is still there


@BOTH
def test_imported_recipients_are_found_fixed_addresses_included(app, logged_in, issuer):
    job = checked(app, logged_in, "name,email,group\nAnaïs Roux,anais@gmial.com,Course A\n"
                                  "Björn Berg,bjorn@example.com,Course A\n")
    logged_in.post(f"/imports/{job.id}/fixes", data={"line": "2"})
    issue_import(app, logged_in, job)
    api = api_for(logged_in, issuer)
    assert names(api, "anais") == {"Anaïs Roux"} and names(api, "BJORN") == {"Björn Berg"}
    assert names(api, "anais@gmail") == {"Anaïs Roux"} and names(api, "gmial") == set()


@BOTH
def test_the_query_plan_reads_the_index(app, issuer):
    credential_id = issue(issuer, name="Héloïse Dupont").id
    query = matching(sa.select(Credential.id), "heloise")
    compiled = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    connection = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled)]
        assert any(search.FTS in line for line in plan), plan
    else:  # a table this small is read whole unless told not to
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql("EXPLAIN " + compiled).scalars().all()
        assert any(search.TRIGRAM_INDEX in line for line in plan), plan
    assert search.indexed(connection)
    assert db.session.scalars(query).all() == [credential_id]


@BOTH
def test_without_the_index_the_search_reads_every_row_and_the_app_says_so(app, issuer,
                                                                         caplog):
    issue(issuer, name="Héloïse Dupont", email="heloise@example.com")
    org_id = issuer.org_id  # read here: in the later app's context it would use its engine
    db.session.commit()  # PostgreSQL's DROP INDEX waits for every transaction reading the table
    with db.engine.begin() as connection:
        search.drop_index(connection)
    with caplog.at_level(logging.WARNING, logger="models.search"):
        later = create_app({"SQLALCHEMY_DATABASE_URI": db.engine.url.render_as_string(False),
                            "MAIL_SERVER": "127.0.0.1", "SECRET_KEY": "x"})
    assert "search index of names and addresses is missing" in caplog.text
    with later.app_context():
        assert not search.uses_fts(db.engine)
        found = db.session.scalars(filtered(org_id, text="ÉLOÏSE")).all()
        assert [c.recipient_name for c in found] == ["Héloïse Dupont"]
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_migration_fills_the_rows_already_there(tmp_path, kind):
    app = create_app({"SQLALCHEMY_DATABASE_URI": _database_url(kind, tmp_path),
                      "MAIL_SERVER": "127.0.0.1", "SECRET_KEY": "x"})
    with app.app_context():
        if kind == "postgres":
            empty_postgres()
        upgrade(revision="0028")
        with db.engine.begin() as connection:
            for statement in [
                "INSERT INTO organizations (id, name, created_at, public_id) "
                "VALUES (1, 'Acme', '2026-01-01', 'o1')",
                "INSERT INTO credential_groups (id, org_id, name, created_at) "
                "VALUES (1, 1, 'G', '2026-01-01')",
                "INSERT INTO credentials (id, org_id, group_id, recipient_name, "
                "recipient_email, issue_state, send_email, token, created_at, email_status, "
                "public_id) VALUES (1, 1, 1, 'Zoë Ångström', 'Zoe@Example.com', 'draft', true, "
                "'t1', '2026-01-01', 'not_sent', 'p1')"]:
                connection.execute(sa.text(statement))
        upgrade()
        assert search.indexed(db.session.connection())
        for text in ("ZOE ANG", "zoe@exa"):
            assert [c.id for c in db.session.scalars(filtered(1, text=text))] == [1]
        db.session.remove()
        db.engine.dispose()
