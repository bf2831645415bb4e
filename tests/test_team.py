"""A team per organization, end to end through the queue and a real SMTP server:
invitations, roles, removal, password reset (DESIGN.md, "A team per organization")."""

import email
import email.policy
import re
import time

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Api, Auth

from accounts import create_user
from jobs import run_mail
from models import AccountToken, ApiKey, AuditEntry, EmailEvent, EmailMessage, StatusCount, User, db
from models.types import utcnow

pytestmark = pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)


def link_in(sink, number, path):
    """The one-time link of the number-th email the server received (1-based), and the
    email."""
    _, _, raw = sink.received[number - 1]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    text = mail.get_body(("plain",)).get_content()
    (link,) = re.findall(r"http://127\.0\.0\.1:5000(" + re.escape(path) + r"[\w.-]+)", text)
    assert link in mail.get_body(("html",)).get_content()
    return link, mail


def owner_browser(app):
    owner = create_user("owner@acme.test", "Acme Academy", PASSWORD)
    browser = app.test_client()
    assert Auth(browser).login(owner.email).status_code == 302
    return owner, browser


def test_an_invited_viewer_joins_reads_and_is_refused_issuing(mail_app, sink):
    owner, browser = owner_browser(mail_app)
    answer = browser.post("/settings/people/", data={"email": " Ada@Example.COM ",
                                                     "role": "viewer"})
    assert answer.status_code == 302
    assert "Invited ada@example.com as viewer" in browser.get("/settings/people/").text
    assert run_mail(mail_app)["sent"] == 1
    link, mail = link_in(sink, 1, "/invitations/")
    assert mail["To"] == "ada@example.com" and "Acme Academy" in mail["Subject"]
    assert "owner@acme.test invites you" in mail.get_body(("plain",)).get_content()
    # A system email: of no credential, counted nowhere.
    db.session.rollback()
    invitation = db.session.scalar(sa.select(EmailMessage))
    assert (invitation.purpose, invitation.credential_id, invitation.state) == (
        "invitation", None, "sent")
    for model in (EmailEvent, StatusCount):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0

    newcomer = mail_app.test_client()
    assert "ada@example.com at Acme Academy, as a viewer" in newcomer.get(link).text
    short = newcomer.post(link, data={"password": "short"})
    assert short.status_code == 422 and "at least 8 characters" in short.text
    assert newcomer.post(link, data={"password": "a new password"}).status_code == 302
    assert newcomer.get("/credentials").status_code == 200  # logged in, reads
    assert newcomer.get("/credentials/new").status_code == 403
    assert newcomer.post("/credentials/new", data={}).status_code == 403
    # The link worked once.
    again = mail_app.test_client().get(link)
    assert again.status_code == 410 and "used already" in again.text
    assert mail_app.test_client().get(link[:-2] + "xx").status_code == 410  # not ours
    assert Auth(mail_app.test_client()).login("ada@example.com",
                                              "a new password").status_code == 302
    db.session.rollback()
    assert [(e.action, e.actor) for e in db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action.in_(["person.invite", "person.join"])).order_by(AuditEntry.id))] \
        == [("person.invite", "owner@acme.test"), ("person.join", "ada@example.com")]


def test_an_invitation_expires_after_7_days_and_can_be_sent_again(mail_app, sink):
    owner, browser = owner_browser(mail_app)
    browser.post("/settings/people/", data={"email": "bob@example.com", "role": "issuer"})
    run_mail(mail_app)
    link, _ = link_in(sink, 1, "/invitations/")
    db.session.execute(sa.update(AccountToken).values(expires_at=utcnow()))
    db.session.commit()
    expired = mail_app.test_client().get(link)
    assert expired.status_code == 410 and "expired" in expired.text
    # Inviting someone in the organization already is refused; removed, they come back.
    twice = browser.post("/settings/people/", data={"email": "bob@example.com",
                                                    "role": "issuer"})
    assert twice.status_code == 422 and "in your organization already" in twice.text
    bob = db.session.scalar(sa.select(User).filter_by(email="bob@example.com"))
    assert browser.post(f"/settings/people/{bob.id}/remove").status_code == 302
    assert browser.post("/settings/people/", data={"email": "bob@example.com",
                                                   "role": "issuer"}).status_code == 302
    run_mail(mail_app)
    fresh, _ = link_in(sink, 2, "/invitations/")
    assert mail_app.test_client().post(fresh, data={"password": "bob's password"}) \
        .status_code == 302
    # An address of another organization cannot be invited.
    create_user("carol@rival.test", "Rival Institute", PASSWORD)
    other = browser.post("/settings/people/", data={"email": "carol@rival.test",
                                                    "role": "viewer"})
    assert other.status_code == 422 and "another organization" in other.text


def test_removing_a_person_ends_their_sessions_and_keys_and_the_last_owner_stays(
        mail_app, sink):
    owner, browser = owner_browser(mail_app)
    colleague = create_user("dan@acme.test", "Acme Academy", PASSWORD)
    colleague.role = "issuer"
    _, key = ApiKey.issue(colleague)
    db.session.commit()
    their_browser, their_key = mail_app.test_client(), Api(mail_app.test_client(), key)
    Auth(their_browser).login(colleague.email)
    assert their_browser.get("/credentials").status_code == 200
    assert their_key.get("/api/v1/credentials").status_code == 200

    assert browser.post(f"/settings/people/{colleague.id}/remove").status_code == 302
    assert their_browser.get("/credentials").status_code == 302  # to the login page
    assert their_key.get("/api/v1/credentials").status_code == 401
    assert Auth(mail_app.test_client()).login(colleague.email).status_code == 422
    assert f'id="person-{colleague.id}"' not in browser.get("/settings/people/").text

    # The last owner can be neither demoted nor removed (409), by page or API.
    demoted = browser.post(f"/settings/people/{owner.id}/role", data={"role": "issuer"})
    assert demoted.status_code == 409 and "last owner" in demoted.text
    assert browser.post(f"/settings/people/{owner.id}/remove").status_code == 409
    _, owner_key = ApiKey.issue(owner)
    db.session.commit()
    api = Api(mail_app.test_client(), owner_key)
    assert api.delete(f"/api/v1/people/{owner.id}").status_code == 409
    assert api.patch(f"/api/v1/people/{owner.id}", json={"role": "viewer"}).status_code == 409
    assert api.patch(f"/api/v1/people/{owner.id}", json={"role": "king"}).status_code == 422
    # The API invites too, and lists the people.
    made = api.post("/api/v1/people", json={"email": "eve@acme.test", "role": "owner"})
    assert made.status_code == 201 and made.json["role"] == "owner"
    assert api.post("/api/v1/people", json={"email": "eve@acme.test", "role": "owner"}) \
        .status_code == 409
    assert api.post("/api/v1/people", json={"email": "nope", "role": "viewer"}) \
        .status_code == 422
    assert [p["email"] for p in api.get("/api/v1/people").json["items"]] == [
        "eve@acme.test", "owner@acme.test"]
    # With a second owner, the first may step down.
    assert api.patch(f"/api/v1/people/{owner.id}", json={"role": "viewer"}).status_code == 200


def reset_answer(app, address):
    start = time.perf_counter()
    answer = app.test_client().post("/password/forgot", data={"email": address})
    return answer, time.perf_counter() - start


def test_a_password_reset_link_works_once_for_an_hour_and_ends_other_sessions(mail_app,
                                                                              sink):
    owner, old_browser = owner_browser(mail_app)
    known, _ = reset_answer(mail_app, "OWNER@acme.test")
    unknown, _ = reset_answer(mail_app, "nobody@acme.test")
    assert known.status_code == unknown.status_code == 200
    def page(answer, address):  # the page but for the address and its own CSRF token
        return re.sub(r"[\w.-]{40,}", "TOKEN", answer.text.replace(address, "X"))
    assert page(known, "owner@acme.test") == page(unknown, "nobody@acme.test")
    assert run_mail(mail_app)["password_resets"] == 1
    assert len(sink.received) == 1
    link, mail = link_in(sink, 1, "/password/reset/")
    assert mail["To"] == "owner@acme.test" and mail["Subject"] == "Reset your password"

    browser = mail_app.test_client()
    assert browser.post(link, data={"password": "brand new pass"}).status_code == 302
    assert browser.get("/credentials").status_code == 200  # logged in with it
    assert old_browser.get("/credentials").status_code == 302  # every other session ended
    assert mail_app.test_client().post(link, data={"password": "again again"}) \
        .status_code == 410
    assert Auth(mail_app.test_client()).login(owner.email, PASSWORD).status_code == 422
    assert Auth(mail_app.test_client()).login(owner.email, "brand new pass").status_code \
        == 302
    db.session.rollback()
    assert db.session.scalar(sa.select(AuditEntry.actor).filter_by(action="password.reset")) \
        == "owner@acme.test"
    # A link older than an hour does not work.
    reset_answer(mail_app, owner.email)
    run_mail(mail_app)
    late, _ = link_in(sink, 2, "/password/reset/")
    db.session.execute(sa.update(AccountToken).where(AccountToken.used_at.is_(None))
                       .values(expires_at=utcnow()))
    db.session.commit()
    assert mail_app.test_client().get(late).status_code == 410


def statements_of(app, address):
    """The SQL statements a reset request runs, their values left out."""
    seen = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert reset_answer(app, address)[0].status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    return seen


def test_the_reset_answer_does_the_same_work_whether_or_not_the_address_has_an_account(
        mail_app, sink):
    owner_browser(mail_app)
    # The same statements either way (one row for the mail job): nothing in the answer,
    # nor in its time, tells whether the address has an account.
    known = statements_of(mail_app, "owner@acme.test")
    assert any("INSERT INTO reset_requests" in statement for statement in known)
    assert known == statements_of(mail_app, "nobody@acme.test")
    assert not any("users" in statement for statement in known)
    for _ in range(4):
        reset_answer(mail_app, "owner@acme.test")
    assert reset_answer(mail_app, "owner@acme.test")[0].status_code == 429  # 5 an hour
    assert run_mail(mail_app)["password_resets"] == 1  # one link however often asked
