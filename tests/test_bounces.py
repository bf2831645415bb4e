"""Bounce reports that come back after the server accepted the email: applied once."""

import mailbox

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, issue, make_app, mark_latest

import samples
from accounts import create_user
from bounces.mailbox import receive
from mailer.verp import envelope_sender
from models import EmailEvent, Suppression, db


@pytest.fixture
def delivered(issuer):
    return mark_latest(issue(issuer, action="publish"), "sent")


def events_of(credential):
    db.session.rollback()  # end our snapshot to see what the intake committed
    return [(e.type, e.detail) for e in credential.events()]


@pytest.mark.parametrize("sample, reason", [
    (samples.postfix, "The mailbox does not exist."),
    (samples.gmail, "The mailbox does not exist."),
    (samples.microsoft365, "The mailbox does not exist."),
    (samples.qmail, "The mailbox does not exist."),
    (samples.exim, "The mailbox is full."),
    (samples.yahoo, "The mailbox does not exist."),
    (samples.exchange, "The mailbox does not exist."),
])
def test_a_late_failure_report_bounces_the_message(delivered, sample, reason):
    assert receive(sample(delivered.latest_message.message_id), "file") == "applied"
    kind, detail = events_of(delivered)[-1]
    assert delivered.email_status == "bounced"
    assert delivered.latest_message.bounce_reason == reason
    assert kind == "bounced" and detail.startswith("A bounce report came back (from a file")
    assert reason in detail and "Server said: 5" in detail
    assert db.session.get(Suppression, (delivered.org_id, "jane@example.com")).reason == \
        "bounced"


def test_the_same_report_twice_is_applied_once(delivered):
    raw = samples.postfix(delivered.latest_message.message_id)
    assert receive(raw, "mailbox") == "applied"
    # Read again, from the mailbox or from a file: the same report changes nothing more.
    assert [receive(raw, "mailbox"), receive(raw, "file")] == ["duplicate", "duplicate"]
    assert [kind for kind, _ in events_of(delivered)].count("bounced") == 1


def test_policy_bounce_reports_count_as_blocked(delivered):
    raw = samples.postfix(delivered.latest_message.message_id).replace(
        b"550 5.1.1 <jane@example.com>: Recipient address rejected:\r\n    User unknown",
        b"554 5.7.1 Message rejected as spam by\r\n    policy")
    receive(raw, "file")
    db.session.rollback()
    assert delivered.latest_message.bounce_code == "blocked"
    assert delivered.latest_message.bounce_reason == (
        "Blocked as spam or by the receiving server's policy.")


def test_a_delay_report_is_a_deferred_event_and_nothing_more(delivered):
    assert receive(samples.delayed(delivered.latest_message.message_id), "mailbox") == "applied"
    kind, detail = events_of(delivered)[-1]
    assert delivered.email_status == "not_opened"
    assert kind == "deferred" and detail.startswith(
        "A delay report came back (in the bounce mailbox, reported 2026-12-01 14:00 UTC)")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0


def test_a_success_report_is_a_delivered_event(delivered):
    assert receive(samples.delivered(delivered.latest_message.message_id), "mailbox") == \
        "applied"
    kind, detail = events_of(delivered)[-1]
    assert kind == "delivered" and detail == (
        "Delivered to the recipient's mail server (in the bounce mailbox, reported 2026-12-01 "
        "10:00 UTC). Server said: 250 2.0.0 Ok: queued as 9F1E2D3C4B")
    assert delivered.email_status == "not_opened" and delivered.latest_message.state == "sent"


def test_a_complaint_is_recorded_and_suppresses_the_address(delivered):
    assert receive(samples.complaint(delivered.latest_message.message_id), "file") == "applied"
    kind, detail = events_of(delivered)[-1]
    assert kind == "complained" and "reported the email as spam" in detail
    assert delivered.email_status == "not_opened"
    assert db.session.get(Suppression, (delivered.org_id, "jane@example.com")).reason == \
        "complained"


def test_a_bounce_after_an_open_is_recorded_and_the_open_stands(delivered):
    mark_latest(delivered, "sent", opened=True)
    receive(samples.gmail(delivered.latest_message.message_id), "file")
    kind, detail = events_of(delivered)[-1]
    assert kind == "bounced" and "The mailbox does not exist." in detail
    assert delivered.email_status == "opened" and delivered.latest_message.state == "sent"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0


@pytest.mark.parametrize("raw, expected", [
    (lambda ours: samples.postfix("<unknown@issuer.test>", recipient="nobody@example.com"),
     "unknown"),
    (samples.out_of_office, "auto_reply"),
    (samples.challenge, "auto_reply"),
    (samples.human_reply, "not_report"),
    (lambda ours: b"\x00\xff garbage", "not_report"),
])
def test_other_mail_changes_nothing(delivered, raw, expected):
    before = events_of(delivered)
    assert receive(raw(delivered.latest_message.message_id), "file") == expected
    assert events_of(delivered) == before and delivered.email_status == "not_opened"


def test_without_a_message_id_the_latest_message_to_the_address_is_meant(issuer):
    older = mark_latest(issue(issuer, name="Old", action="publish"), "sent")
    newer = mark_latest(issue(issuer, name="New", action="publish"), "sent")
    raw = samples.qmail("<not-ours@elsewhere.example>").replace(
        b"Message-ID: <not-ours@elsewhere.example>", b"")
    assert receive(raw, "file") == "applied"
    db.session.rollback()
    assert (older.email_status, newer.email_status) == ("not_opened", "bounced")


@pytest.fixture
def verp_app(tmp_path):
    app = make_app(tmp_path, BOUNCE_ADDRESS="bounces@bounce.acme.example")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_the_verp_address_alone_names_the_message(verp_app):
    user = create_user("issuer@acme.test", "Acme", PASSWORD)
    first = mark_latest(issue(user, name="First", action="publish"), "sent")
    second = mark_latest(issue(user, name="Second", action="publish"), "sent")
    envelope = envelope_sender(first.latest_message.id)
    assert envelope.startswith(f"bounces+{first.latest_message.id}-")
    assert envelope.endswith("@bounce.acme.example")
    # A report that quotes nothing of the message: only the address it came back to.
    raw = samples.exim("<x@y>", recipient="someone@else.example", to=envelope).replace(
        b"Message-ID: <x@y>", b"")
    assert receive(raw, "file") == "applied"
    db.session.rollback()
    assert (first.email_status, second.email_status) == ("bounced", "not_opened")


def test_a_forged_verp_tag_names_nothing(verp_app):
    user = create_user("issuer@acme.test", "Acme", PASSWORD)
    victim = mark_latest(issue(user, action="publish"), "sent")
    forged = f"bounces+{victim.latest_message.id}-000000000000@bounce.acme.example"
    raw = samples.exim("<x@y>", recipient="someone@else.example", to=forged).replace(
        b"Message-ID: <x@y>", b"")
    assert receive(raw, "file") == "unknown"
    db.session.rollback()
    assert victim.email_status == "not_opened"


def test_cli_reads_maildirs_mbox_files_and_eml_files(runner, issuer, tmp_path):
    credentials = [mark_latest(issue(issuer, name=f"P{i}", email=f"p{i}@example.com",
                                     action="publish"), "sent") for i in range(3)]
    eml = tmp_path / "bounce.eml"
    eml.write_bytes(samples.postfix(credentials[0].latest_message.message_id,
                                    recipient="p0@example.com"))
    box = mailbox.Maildir(tmp_path / "box", create=True)
    box.add(samples.gmail(credentials[1].latest_message.message_id, recipient="p1@example.com"))
    box.add(samples.human_reply("<x@y>"))
    mbox = mailbox.mbox(tmp_path / "bounces.mbox", create=True)
    mbox.add(samples.qmail(credentials[2].latest_message.message_id, recipient="p2@example.com"))
    mbox.add(samples.postfix("<unknown@issuer.test>", recipient="nobody@example.com"))
    mbox.close()
    result = runner.invoke(args=["bounces", "import", str(eml), str(tmp_path / "box"),
                                 str(tmp_path / "bounces.mbox")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "3 applied, 1 not_report, 1 unknown"
    db.session.rollback()
    assert [c.email_status for c in credentials] == ["bounced"] * 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailEvent).where(
        EmailEvent.type == "bounced")) == 3
