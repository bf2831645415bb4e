"""One-click unsubscribe from reminders (RFC 8058): reminders and expiry notices carry the
headers and a footer link, a POST without cookie or CSRF token stops every later reminder
to that address from that organization, a GET only shows a page, the issuer sees it."""

import email
import email.policy
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, api_for, issue, mark_latest

import issuing
from accounts import create_user
from lifecycle import unsubscribes
from lifecycle.expiry import send_expiry_notices
from lifecycle.reminders import send_reminders
from mailer.compose import compose
from mailer.queue import send_due
from models import Credential, EmailEvent, EmailMessage, Unsubscribe, db
from models.states import MessagePurpose
from models.types import utcnow

both = pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)
ONE_CLICK = {"List-Unsubscribe": "One-Click"}  # the body RFC 8058's POST carries


def received(sink, address):
    """The messages the sink got for address, parsed, in arrival order."""
    return [email.message_from_bytes(raw, policy=email.policy.default)
            for rcpt, _, raw in sink.received if rcpt == address]


def text_of(mail, kind):
    return mail.get_body((kind,)).get_content()


class Statements(list):
    """The SQL statements the database gets while in the block."""

    def note(self, conn, cursor, statement, *args):
        self.append(statement)

    def __enter__(self):
        sa.event.listen(db.engine, "before_cursor_execute", self.note)
        return self

    def __exit__(self, *exc):
        sa.event.remove(db.engine, "before_cursor_execute", self.note)


def unsubscribe_events(credential):
    return db.session.scalars(sa.select(EmailEvent).where(
        EmailEvent.credential_id == credential.id, EmailEvent.type == "unsubscribed")).all()


def remindable(user, name, days_ago=4):
    """A published credential whose email was delivered days ago and never opened."""
    credential = mark_latest(issue(user, name=name, email=f"{name.lower()}@example.com",
                                   action="publish"), "sent")
    credential.latest_message.sent_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()
    return credential


def reminder_of(credential):
    """Queue a reminder of the credential now (as the reminders job does); its message."""
    issuing.resend(db.session.connection(), [credential], cause="reminder",
                   purpose=MessagePurpose.REMINDER)
    db.session.commit()
    return credential.messages[-1]


@both
def test_a_reminder_unsubscribed_with_one_click_stops_the_next_ones_only(mail_app, sink):
    mail_app.config["WTF_CSRF_ENABLED"] = True  # on, as in production: the POST needs none
    issuer = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    issuer.org.reminder_after_days, issuer.org.reminder_max = 3, 3
    ada, bob = (issue(issuer, name=name, email=f"{name.lower()}@example.com", action="publish")
                for name in ("Ada", "Bob"))
    send_due()
    sink.wait_for(2)
    (delivery,) = received(sink, "ada@example.com")
    assert delivery["List-Unsubscribe"] is None and delivery["List-Unsubscribe-Post"] is None
    assert "Unsubscribe" not in text_of(delivery, "plain")

    assert send_reminders(now=utcnow() + timedelta(days=4)) == 2
    send_due()
    sink.wait_for(4)
    reminder = received(sink, "ada@example.com")[-1]
    assert reminder["Subject"].startswith("Reminder: ")
    base = re.escape(mail_app.config["PUBLIC_BASE_URL"])
    link = re.fullmatch(rf"<({base}/u/[\w.-]{{20,}})>", reminder["List-Unsubscribe"]).group(1)
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in text_of(reminder, "plain") and f'href="{link}"' in text_of(reminder, "html")
    assert "Unsubscribe from reminders" in text_of(reminder, "html")
    # The same link on every retry of that email, and none other's.
    db.session.expire_all()
    ada_reminder = db.session.get(Credential, ada.id).messages[-1]
    assert compose(ada_reminder).extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert link not in received(sink, "bob@example.com")[-1]["List-Unsubscribe"]

    # A mail program's one-click POST: no cookie, no CSRF token, no login.
    stranger = mail_app.test_client(use_cookies=False)
    assert stranger.post("/login", data={"email": "issuer@acme.test",
                                         "password": PASSWORD}).status_code == 400  # CSRF on
    path = urlsplit(link).path
    answer = stranger.post(path, data=ONE_CLICK)
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    assert "Acme Academy will send you no more reminders" in answer.text
    (row,) = db.session.scalars(sa.select(Unsubscribe)).all()
    assert (row.org_id, row.address, row.credential_id) == (issuer.org_id, "ada@example.com",
                                                            ada.id)
    (event,) = unsubscribe_events(ada)
    assert "with their mail program's unsubscribe button" in event.detail
    # Again: nothing changes, and it still answers 200.
    assert stranger.post(path, data=ONE_CLICK).status_code == 200
    assert len(db.session.scalars(sa.select(Unsubscribe)).all()) == 1
    assert len(unsubscribe_events(ada)) == 1 and unsubscribe_events(bob) == []

    # The next reminders: Bob's only.
    later = utcnow() + timedelta(days=8)
    assert send_reminders(now=later) == 1
    send_due()
    sink.wait_for(5)
    assert len(received(sink, "ada@example.com")) == 2
    assert len(received(sink, "bob@example.com")) == 3
    assert send_reminders(now=later + timedelta(days=30)) == 1  # Bob's third and last
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailMessage).where(
        EmailMessage.credential_id == ada.id)) == 2

    # The issuer's own resend is no reminder: it goes, without the headers.
    api = api_for(mail_app.test_client(), issuer)
    assert api.post(f"/api/v1/credentials/{ada.id}/resend", json={}).status_code == 202
    send_due()
    sink.wait_for(7)
    resent = received(sink, "ada@example.com")[-1]
    assert resent["List-Unsubscribe"] is None and not resent["Subject"].startswith("Reminder")
    items = {item["recipient_email"]: item
             for item in api.get("/api/v1/credentials").json["items"]}
    assert items["ada@example.com"]["unsubscribed_at"] is not None
    assert items["bob@example.com"]["unsubscribed_at"] is None
    types = [e["type"] for e in api.get(f"/api/v1/credentials/{ada.id}/events").json]
    assert types.count("unsubscribed") == 1


def test_a_get_shows_a_page_with_a_button_and_unsubscribes_nobody(app, issuer, client):
    credential = remindable(issuer, "Zoe")
    credential.group.language = "fr"
    link = unsubscribes.url(reminder_of(credential))
    path = urlsplit(link).path
    page = client.get(path)
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "Se désabonner des rappels" in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script (CSP)
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    assert form.group(1) == path and "csrf_token" not in form.group(2)
    assert 'type="submit"' in form.group(2)
    assert client.head(path).status_code == 200  # a scanner's look changes nothing either
    assert db.session.scalars(sa.select(Unsubscribe)).all() == []
    assert unsubscribe_events(credential) == []

    done = app.test_client(use_cookies=False).post(path, data={**ONE_CLICK, "from": "page"})
    assert done.status_code == 200 and "Votre désabonnement est enregistré" in done.text
    (event,) = unsubscribe_events(credential)
    assert event.label == "Unsubscribed from reminders"
    assert "on the page the link in a reminder opens" in event.detail


def test_links_that_are_not_ours_get_404_and_write_nothing(app, issuer, client):
    message = reminder_of(remindable(issuer, "Ada"))
    token = urlsplit(unsubscribes.url(message)).path.rsplit("/", 1)[1]
    app.config["SECRET_KEY"] = "another-secret"
    forged = unsubscribes.url(message).rsplit("/", 1)[1]
    app.config["SECRET_KEY"] = "test-secret"
    with Statements() as statements:
        for bad in (forged, token[:-2], token.split(".")[0], "x" * 500, "MTIz"):
            for method in (client.get, client.post):
                answer = method(f"/u/{bad}", data=ONE_CLICK)
                assert answer.status_code == 404, (bad, method)
                assert "This unsubscribe link is not valid" in answer.text
    assert statements == []  # a stranger's guess costs a signature check, no query
    assert db.session.scalars(sa.select(Unsubscribe)).all() == []


def test_expiry_notices_carry_the_link_and_stop_too(app, issuer, client):
    app.config["EXPIRY_NOTICE_DAYS"] = 30
    soon, other, control = (remindable(issuer, name) for name in ("Soon", "Other", "Control"))
    for credential in (soon, other):
        credential.expires_at = utcnow() + timedelta(days=10)
    db.session.commit()
    assert send_expiry_notices() == 2
    db.session.rollback()
    notice = soon.latest_message
    assert notice.purpose == "expiry_notice"
    raw = compose(notice).as_bytes()
    link = unsubscribes.url(notice)
    assert f"List-Unsubscribe: <{link}>".encode() in raw.replace(b"\r\n ", b" ")
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert client.post(urlsplit(link).path, data=ONE_CLICK).status_code == 200
    # A second credential to the same address (any case) gets no notice nor reminder.
    again = issue(issuer, name="Soon", email="SOON@Example.com", group="Course B",
                  action="publish")
    mark_latest(again, "sent")
    again.expires_at = utcnow() + timedelta(days=10)
    again.latest_message.sent_at = utcnow() - timedelta(days=4)
    issuer.org.reminder_after_days, issuer.org.reminder_max = 3, 2
    db.session.commit()
    assert send_expiry_notices() == 0
    assert send_reminders() == 1  # the control's (Other waits for its notice)
    db.session.rollback()
    assert control.latest_message.purpose == "reminder" and len(again.messages) == 1


def test_a_queued_reminder_is_cancelled_in_that_organization_only(app, issuer, client):
    rival = create_user("issuer@rival.test", "Rival Institute", PASSWORD)
    first = remindable(issuer, "Ada")
    second = remindable(issuer, "Ada")  # the same person, another credential
    elsewhere = remindable(rival, "Ada")
    link = unsubscribes.url(reminder_of(first))
    for credential in (second, elsewhere):
        reminder_of(credential)
    assert second.email_status == "sending"
    assert client.post(urlsplit(link).path, data=ONE_CLICK).status_code == 200
    db.session.expire_all()
    for credential in (first, second):
        assert credential.messages[-1].state == "cancelled"
        assert credential.email_status == "not_opened"  # the status follows the others
        (event,) = unsubscribe_events(credential)
        assert "The reminder waiting to go was cancelled." in event.detail
    assert elsewhere.messages[-1].state == "queued" and unsubscribe_events(elsewhere) == []


def test_the_issuer_sees_it_on_the_list_and_nudges_skip_it(app, issuer, logged_in):
    quiet, loud = remindable(issuer, "Quiet", days_ago=10), remindable(issuer, "Loud", 10)
    more = [remindable(issuer, f"More{n}", 10) for n in range(3)]
    for credential in (quiet, *more):
        link = unsubscribes.url(reminder_of(credential))
        assert logged_in.post(urlsplit(link).path, data=ONE_CLICK).status_code == 200
    with Statements() as statements:
        page = logged_in.get("/credentials").text
    rows = dict(re.findall(r'<tr id="credential-(\d+)"(.*?)</tr>', page, re.S))
    assert "Unsubscribed from reminders" in rows[str(quiet.id)]
    assert "Unsubscribed from reminders" not in rows[str(loud.id)]
    # Read with the rows: one statement for the page, however many are marked.
    assert sum("unsubscribes" in statement for statement in statements) == 1
    panel = logged_in.get(f"/credentials/{quiet.id}").text
    assert "Unsubscribed from reminders" in panel and "an email you send yourself" in panel

    answer = logged_in.post("/credentials/bulk/resend", data={"mode": "unopened", "days": "7"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert loud.latest_message.purpose == "reminder"
    assert [m.purpose for m in quiet.messages] == ["delivery", "reminder"]
    assert "4 skipped: unsubscribed from reminders" in logged_in.get("/credentials").text
