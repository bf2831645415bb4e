"""The queue against a real SMTP server on loopback, programmed per test."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import SENDER_CASES, assert_sender_parts, issue, make_app
from smtp_server import free_port

from accounts import create_user
from lifecycle.publishing import publish_due
from mailer.claim import claim_messages
from mailer.queue import send_due
from models import Credential, EmailEvent, EmailMessage, db
from models.types import utcnow


@pytest.fixture
def mail_app(tmp_path, sink):
    app = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port,
                   RETRY_BASE_SECONDS=0, MAX_ATTEMPTS=3, SMTP_TIMEOUT_SECONDS=5)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def user(mail_app):
    return create_user("issuer@acme.test", "Acme Academy", "correct horse battery")


def publish(user, *addresses):
    return [issue(user, name=f"Person {i}", email=address, action="publish")
            for i, address in enumerate(addresses)]


def events(credential):
    return [(e.type, e.detail) for e in db.session.scalars(
        sa.select(EmailEvent).filter_by(credential_id=credential.id).order_by(EmailEvent.id))]


def test_accepted_mail_is_sent_once_with_its_message_id(user, sink):
    (credential,) = publish(user, "jane@example.com")
    message_id = credential.latest_message.message_id
    counts = send_due()
    assert counts == {"claimed": 1, "sent": 1}
    db.session.expire_all()
    assert credential.email_status == "not_opened"
    assert credential.latest_message.state == "sent" and credential.latest_message.attempts == 1
    assert sink.message_ids() == [message_id]
    assert events(credential)[-1] == ("sent", "250 2.0.0 Ok: queued as Q1")
    raw = sink.received[0][2].decode()
    assert "Subject: Your credential: Course A" in raw
    assert "Content-Type: text/plain" in raw and "Content-Type: text/html" in raw
    assert send_due() == {"claimed": 0}  # nothing twice


def test_one_refused_recipient_does_not_stop_the_batch(user, sink):
    addresses = [f"r{i}@example.com" for i in range(10)]
    sink.answer("r4@example.com", "550 5.1.1 <r4@example.com>: Recipient address rejected: "
                "User unknown in virtual mailbox table")
    credentials = publish(user, *addresses)
    counts = send_due()
    assert counts == {"claimed": 10, "sent": 9, "bounced": 1}
    assert sink.connections == 1  # the whole batch over one connection
    db.session.expire_all()
    assert [c.email_status for c in credentials].count("not_opened") == 9
    bounced = credentials[4]
    assert bounced.email_status == "bounced"
    message = bounced.latest_message
    assert message.bounce_kind == "hard"
    assert message.bounce_reason == "The mailbox does not exist."
    assert message.last_reply.startswith("550 5.1.1")
    assert events(bounced)[-1][0] == "bounced" and "User unknown" in events(bounced)[-1][1]


def test_temporary_failure_is_retried_with_the_same_message_id(user, sink, mail_app):
    sink.answer("jane@example.com", "451 4.7.1 Greylisted, please try again in 120 seconds")
    (credential,) = publish(user, "jane@example.com")
    message_id = credential.latest_message.message_id
    before = utcnow()
    assert send_due() == {"claimed": 1, "retry": 1}
    db.session.expire_all()
    message = credential.latest_message
    assert credential.email_status == "sending" and message.state == "retry"
    assert timedelta(seconds=119) < message.next_attempt_at - before < timedelta(seconds=125)
    kind, detail = events(credential)[-1]
    assert kind == "deferred" and "Next try at" in detail and "Greylisted" in detail
    assert send_due() == {"claimed": 0}  # not due yet
    message.next_attempt_at = utcnow()
    db.session.commit()
    assert send_due() == {"claimed": 1, "sent": 1}
    assert sink.message_ids() == [message_id]
    db.session.expire_all()
    assert credential.latest_message.attempts == 2


def test_temporary_failures_run_out_into_a_soft_bounce(user, sink):
    sink.answer("jane@example.com", *["452 4.2.2 Mailbox full"] * 5)
    (credential,) = publish(user, "jane@example.com")
    outcomes = [send_due() for _ in range(3)]
    assert outcomes == [{"claimed": 1, "retry": 1}] * 2 + [{"claimed": 1, "bounced": 1}]
    db.session.expire_all()
    message = credential.latest_message
    assert credential.email_status == "bounced" and message.bounce_kind == "soft"
    assert message.bounce_reason == "Gave up after 3 tries: The mailbox is full."
    assert [e[0] for e in events(credential)] == [
        "queued", "deferred", "deferred", "bounced"]


def test_server_down_then_back_delivers_everything_once(user, sink):
    credentials = publish(user, *[f"r{i}@example.com" for i in range(5)])
    sink.stop()
    assert send_due() == {"claimed": 5, "retry": 5}
    db.session.expire_all()
    assert all(c.email_status == "sending" for c in credentials)
    assert "Could not reach the mail server" in events(credentials[0])[-1][1]
    sink.start()
    assert send_due() == {"claimed": 5, "sent": 5}
    expected = sorted(c.latest_message.message_id for c in credentials)
    assert sorted(sink.message_ids()) == expected


def test_connection_dropped_mid_batch(user, sink):
    credentials = publish(user, *[f"r{i}@example.com" for i in range(8)])
    sink.drop_at = {4}  # hang up while the 4th message is being handed over
    first = send_due()
    assert first["claimed"] == 8 and first["sent"] == 7 and first["retry"] == 1
    assert sink.connections == 2  # reconnected for the rest of the batch
    assert send_due() == {"claimed": 1, "sent": 1}
    expected = sorted(c.latest_message.message_id for c in credentials)
    assert sorted(sink.message_ids()) == expected  # each once


def test_a_server_that_throttles_and_hangs_up_bounces_nothing(user, sink, mail_app):
    """421 "slow down", then the connection closed (as Gmail and Outlook do): no message
    loses an attempt to it, nor to the connection it closed."""
    mail_app.config["MAX_ATTEMPTS"] = 2
    # Two in a row: the second comes on the connection opened again after the first hang-up
    # (each throttling reply doubles the process's pause, 1 s then 2 s; four took 15 s).
    sink.throttle = ["421 4.7.0 Too many messages, slow down"] * 2
    sink.hang_up_after_throttle = True
    credentials = publish(user, *[f"r{i}@example.com" for i in range(5)])
    for _ in range(10):  # each round: what is due goes, then the pause is over
        send_due()
        db.session.execute(sa.update(EmailMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        if len(sink.received) == 5:
            break
    db.session.expire_all()
    assert [c.latest_message.state for c in credentials] == ["sent"] * 5
    assert [c.latest_message.attempts for c in credentials] == [1] * 5


def test_a_message_never_handed_over_waits_for_the_server_then_bounces_by_age(user, sink,
                                                                              mail_app):
    (credential,) = publish(user, "jane@example.com")
    sink.stop()  # the mail server is down
    for _ in range(3):
        send_due()
        db.session.execute(sa.update(EmailMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
    db.session.expire_all()
    message = credential.latest_message
    assert (message.state, message.attempts) == ("retry", 0)  # no attempt used
    db.session.execute(sa.update(EmailMessage).values(
        created_at=utcnow() - mail_app.config["MAX_QUEUE_AGE"] - timedelta(minutes=1)))
    db.session.commit()
    send_due()
    db.session.expire_all()
    assert (message.state, message.bounce_kind, message.bounce_code) == (
        "bounced", "soft", "queue_expired")
    assert credential.bounce_reason.startswith(
        "Not sent: the mail server could not be reached for 3 days")


def test_expired_lease_is_claimed_again_and_late_results_are_ignored(user, sink, mail_app):
    from mailer.commit import record
    from mailer.replies import Outcome

    (credential,) = publish(user, "jane@example.com")
    message_id = credential.latest_message.id
    db.session.rollback()  # the worker's functions run their own short transactions
    assert claim_messages(10, "dead-worker") == [message_id]
    assert claim_messages(10, "other") == []  # leased
    later = utcnow() + timedelta(seconds=mail_app.config["LEASE_SECONDS"] + 1)
    assert claim_messages(10, "next-worker", now=later) == [message_id]
    assert record(message_id, Outcome("sent", "250 ok"), "dead-worker") == "lease_lost"
    assert record(message_id, Outcome("sent", "250 ok"), "next-worker") == "sent"


def test_scheduled_credentials_publish_when_due(user, sink):
    later = utcnow() + timedelta(minutes=5)
    scheduled = issue(user, action="schedule", scheduled_at=later)
    quiet = issue(user, name="Quiet", action="schedule", scheduled_at=later, send_email=False)
    assert publish_due() == 0
    assert publish_due(now=later + timedelta(seconds=1)) == 2
    db.session.rollback()  # end our snapshot to see what the job committed
    assert scheduled.issue_state == quiet.issue_state == "published"
    assert scheduled.email_status == "sending" and quiet.email_status == "not_sent"
    assert send_due() == {"claimed": 1, "sent": 1}


def test_unreachable_port_is_a_retry_not_a_crash(tmp_path):
    app = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
                   RETRY_BASE_SECONDS=30)
    with app.app_context():
        user = create_user("a@acme.test", "Acme", "correct horse battery")
        (credential,) = publish(user, "jane@example.com")
        assert send_due() == {"claimed": 1, "retry": 1}
        message = db.session.scalar(sa.select(EmailMessage))
        assert message.next_attempt_at > utcnow() + timedelta(seconds=25)
        assert db.session.scalar(sa.select(Credential)).email_status == "sending"
        db.engine.dispose()


@pytest.mark.parametrize("configured, org_name, from_line", SENDER_CASES)
def test_the_server_receives_the_sender_name_and_address_apart(tmp_path, sink, configured,
                                                               org_name, from_line):
    app = make_app(tmp_path, MAIL_PORT=sink.port, MAIL_DEFAULT_SENDER=configured)
    with app.app_context():
        user = create_user("issuer@acme.test", org_name, "correct horse battery")
        user.org.reply_to = "office@acme.example"
        (credential,) = publish(user, "jane@example.com")
        assert send_due() == {"claimed": 1, "sent": 1}
        ((_, message_id, raw),) = sink.received
        assert message_id == credential.latest_message.message_id
        assert sink.envelope_senders == ["certificates@acme.example"]
        assert_sender_parts(raw, from_line)
        db.engine.dispose()


@pytest.mark.parametrize("smtputf8", [True, False])
def test_an_international_mailbox_goes_out_in_utf8_or_not_at_all(tmp_path, smtputf8):
    from smtp_server import Sink

    sink = Sink(smtputf8=smtputf8).start()
    app = make_app(tmp_path, MAIL_PORT=sink.port)
    try:
        with app.app_context():
            user = create_user("issuer@acme.test", "Acme Academy", "correct horse battery")
            (credential,) = publish(user, "zoë@exämple.com")
            if not smtputf8:
                assert send_due() == {"claimed": 1, "bounced": 1}
                assert sink.received == []
                db.session.expire_all()
                assert "international addresses" in credential.latest_message.bounce_reason
                return
            assert send_due() == {"claimed": 1, "sent": 1}
            ((recipient, _, raw),) = sink.received
            assert recipient == "zoë@xn--exmple-cua.com"
            assert "To: zoë@xn--exmple-cua.com\r\n".encode() in raw
    finally:
        sink.stop()
        with app.app_context():
            db.engine.dispose()
