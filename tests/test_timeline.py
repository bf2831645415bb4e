"""The one door for every event: each event type and what recording it writes, the caps, the
set-based path, the database's check, and that nothing else writes events or webhooks."""

import traceback
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import derived_status, issue

import timeline
import work
from bounces.apply import apply_all
from bounces.reports import Finding
from mailer import commit
from mailer.claim import claim_messages
from mailer.replies import Outcome
from models import (
    Credential,
    DailyCount,
    EmailEvent,
    EmailMessage,
    FunnelCount,
    Suppression,
    WebhookEndpoint,
    WebhookMessage,
    db,
)
from models.states import EventType
from models.types import utcnow
from models.words import EVENT_LABELS
from timeline.rules import RULES
from tracking import engagement, opens

# What the writer has changed before it records the event (the message's state, the
# address), so the test sees what the recorder derives from it.
FACT = {EventType.QUEUED: {"state": "queued"}, EventType.DEFERRED: {"state": "retry"},
        EventType.BOUNCED: {"state": "bounced", "bounce_kind": "hard",
                            "bounce_code": "mailbox_unknown"},
        EventType.REVOKED: {"state": "cancelled"}}
NO_ADDRESS = {EventType.ADDRESS_CHANGED}
STAMPS = ("first_sent_at", "first_opened_at", "viewed_at", "downloaded_at",
          "linkedin_clicked_at")
# Every event type, and what recording one writes besides its timeline row, written out
# here apart from timeline.rules: the stored status (not_sent: left as it was, though the
# message would now give another), stamps, the email's opens, share views, the day chart,
# a suppressed address, the webhook, the job woken after the commit, and the
# organization's status lists made anew.
EXPECTED = {
    EventType.QUEUED: dict(status="sending", wakes={work.MAIL}),
    EventType.SENT: dict(status="not_opened", stamps={"first_sent_at"}, funnel={"sent"},
                         webhook="email.sent"),
    EventType.DEFERRED: dict(webhook="email.deferred"),
    EventType.BOUNCED: dict(status="bounced", suppressed="bounced", webhook="email.bounced"),
    EventType.DELIVERED: dict(),
    EventType.COMPLAINED: dict(suppressed="complained", webhook="email.complained"),
    EventType.OPENED: dict(status="opened", stamps={"first_opened_at"}, funnel={"opened"},
                           opens=1, daily="opened", webhook="email.opened"),
    EventType.AUTO_OPENED: dict(),
    EventType.VIEWED: dict(status="opened", stamps={"first_opened_at", "viewed_at"},
                           funnel={"opened", "viewed"}, opens=1, daily="viewed",
                           webhook="credential.viewed"),
    EventType.DOWNLOADED: dict(stamps={"downloaded_at"}, funnel={"downloaded", "engaged"},
                               webhook="credential.downloaded"),
    EventType.LINKEDIN_CLICKED: dict(stamps={"linkedin_clicked_at"},
                                     funnel={"linkedin", "engaged"}),
    EventType.SHARE_VIEWED: dict(funnel={"shared"}, share_views=1),
    EventType.ADDRESS_CHANGED: dict(status="not_provided"),
    EventType.RESENT: dict(),
    EventType.NAME_CHANGED: dict(),
    EventType.REVOKED: dict(status="not_sent", status_lists=1, webhook="credential.revoked"),
    EventType.REINSTATED: dict(status_lists=1, webhook="credential.reinstated"),
    # Its queued reminders are cancelled with it: the status is derived again.
    EventType.UNSUBSCRIBED: dict(status="not_opened"),
}
EMAIL_EVENTS = {EventType.QUEUED, EventType.SENT, EventType.DEFERRED, EventType.BOUNCED,
                EventType.DELIVERED, EventType.COMPLAINED, EventType.OPENED,
                EventType.AUTO_OPENED, EventType.VIEWED}


def test_every_event_type_has_a_rule_words_and_an_expectation():
    assert set(RULES) == set(EventType) == set(EXPECTED) == set(EVENT_LABELS)


@pytest.fixture
def endpoint(issuer):
    """An endpoint of the issuer's organization that wants every event."""
    hook = WebhookEndpoint(org_id=issuer.org_id, url="https://hooks.example/x", events=["*"])
    db.session.add(hook)
    db.session.commit()
    return hook


def credential_with_message(issuer, **message):
    """A draft credential (stored status not_sent) with an email in the given state."""
    credential = issue(issuer)
    db.session.add(EmailMessage(org_id=issuer.org_id, credential_id=credential.id,
                                to_address=credential.recipient_email,
                                message_id=f"<{credential.id}@test>",
                                **{"state": "sent", **message}))
    db.session.commit()
    return credential


def written(credential):
    """What is stored about the credential and its organization now."""
    db.session.expire_all()
    message = credential.latest_message
    org = credential.org_id
    return {
        "status": credential.email_status,
        "stamps": {name for name in STAMPS if getattr(credential, name)},
        "funnel": set(db.session.scalars(sa.select(FunnelCount.stage).where(
            FunnelCount.org_id == org, FunnelCount.stage != "credentials", FunnelCount.n > 0))),
        "opens": message.open_count if message else 0,
        "share_views": credential.share_views,
        "daily": db.session.scalar(sa.select(DailyCount.kind).where(DailyCount.org_id == org)),
        "suppressed": db.session.scalar(sa.select(Suppression.reason)
                                        .where(Suppression.org_id == org)),
        "webhook": db.session.scalar(sa.select(WebhookMessage.type)),
        "rows": db.session.scalars(sa.select(EmailEvent.type).where(
            EmailEvent.credential_id == credential.id)).all(),
        "status_lists": credential.org.status_version,
    }


@pytest.mark.parametrize("kind", list(EventType))
def test_each_event_type_writes_what_it_implies(app, issuer, endpoint, kind):
    credential = credential_with_message(issuer, **FACT.get(kind, {}))
    if kind in NO_ADDRESS:
        credential.recipient_email = None
    db.session.flush()
    message_id = credential.latest_message.id if kind in EMAIL_EVENTS else None
    work.taken()  # what setting up gave
    timeline.record(db.session.connection(), [timeline.Event(
        kind, credential.id, utcnow(), message_id, data={"agent": "Firefox"})])
    wakes = work.taken()
    db.session.commit()
    expected = EXPECTED[kind]
    assert written(credential) == {
        "status": expected.get("status", "not_sent"), "stamps": expected.get("stamps", set()),
        "funnel": expected.get("funnel", set()), "opens": expected.get("opens", 0),
        "share_views": expected.get("share_views", 0), "daily": expected.get("daily"),
        "suppressed": expected.get("suppressed"), "webhook": expected.get("webhook"),
        "rows": [kind], "status_lists": expected.get("status_lists", 0)}
    assert wakes == expected.get("wakes", set()) | ({work.WEBHOOKS} if "webhook" in expected
                                                    else set())
    if "status" in expected:
        assert credential.email_status == derived_status(credential)


def test_past_a_cap_events_count_but_are_not_written(app, issuer):
    credential = credential_with_message(issuer)
    now, message_id = utcnow(), credential.latest_message.id
    record = [timeline.Event(EventType.OPENED, credential.id, now, message_id)] * 25
    record += [timeline.Event(EventType.DOWNLOADED, credential.id, now)] * 15
    timeline.record(db.session.connection(), record[:30])  # 25 opens, 5 downloads
    timeline.record(db.session.connection(), record[30:] * 2)  # 20 downloads more
    db.session.commit()
    state = written(credential)
    assert state["rows"].count("opened") == 20 and state["opens"] == 25
    assert state["rows"].count("downloaded") == 20
    assert db.session.scalar(sa.select(DailyCount.n).where(DailyCount.kind == "opened")) == 20
    assert db.session.scalar(sa.select(FunnelCount.n).where(
        FunnelCount.stage == "downloaded")) == 1


def test_the_emails_of_credentials_issued_now_are_recorded_as_a_set(app, issuer):
    credentials = [issue(issuer, email=f"p{n}@example.com") for n in range(3)]
    for credential in credentials:
        db.session.add(EmailMessage(org_id=issuer.org_id, credential_id=credential.id,
                                    to_address=credential.recipient_email,
                                    message_id=f"<{credential.id}@test>"))
    db.session.flush()
    work.taken()
    newest = sa.select(EmailMessage.id).where(EmailMessage.org_id == issuer.org_id)
    connection = db.session.connection()
    assert timeline.record_issued(connection, EventType.QUEUED, newest, utcnow()) == 3
    assert work.taken() == {work.MAIL}
    with pytest.raises(ValueError):  # its events count one by one
        timeline.record_issued(connection, EventType.OPENED, newest, utcnow())
    db.session.commit()
    # Only the rows: such credentials are written with their status (issuing.new).
    assert [written(c)["rows"] for c in credentials] == [["queued"]] * 3
    assert [written(c)["status"] for c in credentials] == ["not_sent"] * 3


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_the_database_refuses_an_event_type_it_does_not_know(app, issuer):
    credential = issue(issuer)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.insert(EmailEvent).values(
            credential_id=credential.id, type="retracted", at=utcnow()))
    db.session.rollback()
    for kind in EventType:
        db.session.execute(sa.insert(EmailEvent).values(
            credential_id=credential.id, type=kind, at=utcnow()))
    db.session.commit()


APP_ROOT = Path(__file__).resolve().parent.parent
OWN_TABLES = (f"INSERT INTO {EmailEvent.__tablename__}",
              f"INSERT INTO {WebhookMessage.__tablename__}")


def test_only_the_recorder_writes_events_and_webhook_messages(logged_in, issuer, endpoint, app):
    """Every writer, driven as issuers, recipients and workers drive it: each INSERT into
    the events and webhook messages tables is made in timeline/."""
    writers = set()

    def who_wrote(conn, cursor, statement, *_):
        if statement.startswith(OWN_TABLES):
            ours = [Path(frame.filename) for frame in traceback.extract_stack()
                    if APP_ROOT in Path(frame.filename).parents]
            ours = [path for path in ours if not {"tests", ".venv"} & set(path.parts)]
            writers.add(ours[-1].relative_to(APP_ROOT).as_posix())

    person = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0",
              "Accept-Language": "en"}
    sa.event.listen(db.engine, "before_cursor_execute", who_wrote)
    try:
        logged_in.post("/credentials/new", data={
            "recipient_name": "Ada", "recipient_email": "ada@example.com", "group_id": "new",
            "new_group": "Maths", "action": "publish", "send_email": "y", "utc_offset": "0"})
        (row_id,) = claim_messages(1, "worker")
        commit.record(row_id, Outcome("sent", "250 ok"), "worker")
        ada = db.session.scalar(sa.select(Credential))
        message = ada.latest_message
        logged_in.get(f"/t/{message.token}.gif", headers=person)
        opens.recorder(app).flush()
        logged_in.get(f"/r/{message.token}", headers=person)
        logged_in.get(f"/c/{ada.token}.pdf", headers=person)
        logged_in.get(f"/v/{ada.public_id}", headers=person)
        engagement.shares(app).flush()
        apply_all("file", [[("complaint-1", Finding("complained", "ada@example.com",
                                                    message_id=message.message_id))]])
        logged_in.post(f"/credentials/{ada.id}/email", data={"recipient_email": "a@example.org"})
        logged_in.post(f"/credentials/{ada.id}/resend", data={})
        logged_in.post(f"/settings/webhooks/{endpoint.id}/test")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", who_wrote)
    db.session.rollback()
    kinds = set(db.session.scalars(sa.select(EmailEvent.type)))
    assert kinds == {"queued", "sent", "opened", "viewed", "downloaded", "share_viewed",
                     "complained", "address_changed", "resent"}
    assert writers == {"timeline/record.py", "timeline/webhooks.py"}
