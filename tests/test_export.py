"""CSV export: the filter, the status columns, formula neutralisation, a round trip."""

import contextvars
import csv
import io

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, issue, make_app, mark_latest
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

import issuing
from accounts import create_user
from jobs import run_import_job
from models import Credential, db


def rows(response):
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_export_round_trip_with_statuses(logged_in, issuer, rival):
    mark_latest(issue(issuer, name="Zoë Müller", email="zoe@example.com", action="publish"),
           "bounced")
    mark_latest(issue(issuer, name="Ann", email="ann@example.com", action="publish"), "sent",
           opened=True)
    issue(issuer, name="Draft", email=None)
    issue(rival, name="Their Recipient")
    response = logged_in.get("/credentials/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    exported = rows(response)
    assert [r["recipient_name"] for r in exported] == ["Zoë Müller", "Ann", "Draft"]
    assert exported[0]["email_status"] == "bounced"
    assert exported[0]["bounce_reason"] == "The mailbox does not exist."
    assert exported[1]["email_status_label"] == "Email is opened" and exported[1]["opened_at"]
    assert exported[2]["recipient_email"] == "" and exported[2]["email_status"] == "not_provided"
    only_bounced = rows(logged_in.get("/credentials/export.csv?status=bounced"))
    assert [r["recipient_name"] for r in only_bounced] == ["Zoë Müller"]
    assert [r["recipient_name"] for r in rows(logged_in.get("/credentials/export.csv?q=ann"))] == [
        "Ann"]


def test_formulas_are_neutralised(logged_in, issuer):
    for name in ('=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "Plain"):
        issue(issuer, name=name, group="=cmd|' /C calc'!A0")
    exported = rows(logged_in.get("/credentials/export.csv"))
    assert [r["recipient_name"] for r in exported] == [
        "'=HYPERLINK(\"http://x\")", "'+1+1", "'-2", "'@SUM(A1)", "Plain"]
    assert {r["group"] for r in exported} == {"'=cmd|' /C calc'!A0"}


def test_export_needs_login(client, issuer):
    assert client.get("/credentials/export.csv").status_code == 302


def test_downloads_stream_after_the_request_ends(tmp_path):
    """As in production, no app context outlives the request: the rows must still stream."""
    app = make_app(tmp_path)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        issue(user, name="Jane Doe", email="jane@example.com")
        db.session.remove()
    client = app.test_client()
    client.post("/login", data={"email": "issuer@acme.test", "password": PASSWORD})
    response = client.get("/credentials/export.csv")
    assert response.status_code == 200 and "Jane Doe" in response.text
    boundary, body = encode_multipart({"file": FileStorage(
        io.BytesIO(b"name,email,group\n=bad,x@example.com,A\n"), "people.csv")})
    client.post("/imports", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    client.post("/imports/1/mapping", data={"name_col": "0", "email_col": "1", "group_col": "2"})
    run_import_job(app)
    response = client.get("/imports/1/problems.csv")
    assert response.status_code == 200 and "'=bad" in response.text
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_the_export_streams_in_batches(app, logged_in, issuer, rival):
    """The first chunk leaves before most rows are read; then every row comes, once, in
    order, and only the organization's."""
    count = 2500  # the export reads 500 rows at a time, a batch ahead
    issuing.issue_new(db.session.connection(), issuer.org_id, issuer.id, [
        issuing.NewCredential(f"Recipient {n}", f"r{n}@example.com", "Course A", "publish")
        for n in range(count)])
    issue(rival, name="Their Recipient")
    db.session.commit()
    loaded = []
    listener = lambda credential, _context: loaded.append(credential.id)  # noqa: E731
    sa.event.listen(Credential, "load", listener)
    try:
        # Requested and read as a server would: in a context of its own, outside the test's
        # (and its session), the same from the first chunk to the last.
        context = contextvars.Context()
        response = context.run(FlaskClient.open, logged_in, "/credentials/export.csv",
                               buffered=False)
        assert response.is_streamed
        chunks = iter(response.response)
        first = context.run(next, chunks)
        read_at_first = len(loaded)
        text = (first + b"".join(context.run(list, chunks))).decode("utf-8")
        context.run(response.close)
    finally:
        sa.event.remove(Credential, "load", listener)
    assert first.count(b"\n") < count // 2 and read_at_first < count // 2
    exported = list(csv.DictReader(io.StringIO(text[1:])))
    assert [r["recipient_name"] for r in exported] == [f"Recipient {n}" for n in range(count)]
    assert {r["email_status"] for r in exported} == {"sending"}
