"""Bounce reports that come back after the server accepted the email."""

import pytest
from conftest import issue, mark_latest

from mailer.bounces import record_report
from models import db


def dsn(message_id, action="failed", status="5.1.1",
        diagnostic="smtp; 550 5.1.1 <jane@example.com>: Recipient address rejected: "
                   "User unknown", headers_only=False):
    """A delivery status notification as mail servers send them (RFC 3464)."""
    original = ('Content-Type: text/rfc822-headers\n\n' if headers_only
                else 'Content-Type: message/rfc822\n\n')
    text = f"""From: MAILER-DAEMON@mx.example.com
To: credentials@issuer.test
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; jane@example.com
Action: {action}
Status: {status}
Diagnostic-Code: {diagnostic}

--B
{original}Message-ID: {message_id}
Subject: Your credential

--B--
"""
    return text.replace("\n", "\r\n").encode()


@pytest.fixture
def delivered(issuer):
    return mark_latest(issue(issuer, action="publish"), "sent")


@pytest.mark.parametrize("headers_only", [False, True])
def test_a_late_failure_report_bounces_the_message(delivered, headers_only):
    result = record_report(dsn(delivered.latest_message.message_id, headers_only=headers_only))
    assert result == "bounced"
    db.session.rollback()
    assert delivered.email_status == "bounced"
    assert delivered.latest_message.bounce_reason == "The mailbox does not exist."
    event = delivered.events()[-1]
    assert event.type == "bounced" and event.detail.startswith("A bounce report came back")


def test_policy_bounce_reports_count_as_blocked(delivered):
    record_report(dsn(delivered.latest_message.message_id, status="5.7.1",
                      diagnostic="smtp; 554 5.7.1 Message rejected as spam"))
    db.session.rollback()
    assert delivered.latest_message.bounce_reason == (
        "Blocked as spam or by the receiving server's policy.")


@pytest.mark.parametrize("raw, expected", [
    (lambda ours: dsn("<unknown@issuer.test>"), "unknown"),
    # About our own message, but only delayed: nothing changes.
    (lambda ours: dsn(ours, action="delayed", status="4.4.7"), "ignored"),
    (lambda ours: b"From: someone@example.com\r\nSubject: hello\r\n\r\nJust a reply.",
     "not_a_report"),
    (lambda ours: b"\x00\xff garbage", "not_a_report"),
])
def test_other_mail_changes_nothing(delivered, raw, expected):
    assert record_report(raw(delivered.latest_message.message_id)) == expected
    db.session.rollback()
    assert delivered.email_status == "not_opened"


def test_cli_reads_files_and_maildirs(runner, delivered, tmp_path):
    import mailbox

    report = tmp_path / "bounce.eml"
    report.write_bytes(dsn(delivered.latest_message.message_id))
    box = mailbox.Maildir(tmp_path / "box", create=True)
    box.add(dsn("<unknown@issuer.test>"))
    result = runner.invoke(args=["bounces", "import", str(report), str(tmp_path / "box")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 bounced, 1 unknown"
