"""The SMTP reply classifier: one table of replies and what they mean."""

import pytest

from mailer.replies import classify

MAILBOX = "The mailbox does not exist."
SLOWER = "Our mail server asked us to send more slowly; sending goes on at a gentler pace."


@pytest.mark.parametrize("code, text, stage, action, reason, after", [
    (250, "2.0.0 Ok: queued as ABC", "data", "sent", None, None),
    (550, "5.1.1 <a@b.c>: Recipient address rejected: User unknown", "rcpt", "bounce",
     MAILBOX, None),
    (550, "No such user here", "rcpt", "bounce", MAILBOX, None),
    (552, "5.2.2 Mailbox full", "rcpt", "bounce", "The mailbox is full.", None),
    (550, "5.7.1 Message rejected as spam", "data", "bounce",
     "Blocked as spam or by the receiving server's policy.", None),
    (554, "5.7.1 Service unavailable; client host blocked using Spamhaus", "rcpt", "bounce",
     "Blocked as spam or by the receiving server's policy.", None),
    (550, "5.1.2 Host unknown: domain not found", "rcpt", "bounce",
     "The domain does not exist or does not accept mail.", None),
    (552, "5.3.4 Message size exceeds fixed limit", "data", "bounce",
     "The email is too large for the receiving server.", None),
    (451, "4.7.1 Greylisted, please try again in 300 seconds", "rcpt", "retry",
     "The receiving server is busy or asked us to try again later.", 300),
    (421, "4.3.2 Too many connections, retry after 2 minutes", "data", "retry", SLOWER, 120),
    (454, "Throttling failure: Maximum sending rate exceeded.", "data", "retry", SLOWER, None),
    (451, "4.7.1 Rate limited, slow down", "rcpt", "retry", SLOWER, None),
    (421, "4.7.0 Service not available, closing transmission channel", "rcpt", "retry",
     "The receiving server is busy or asked us to try again later.", None),
    (452, "4.2.2 Mailbox full", "rcpt", "retry", "The mailbox is full.", None),
    (None, "connection lost: [Errno 111] Connection refused", "connect", "retry",
     "Could not reach the mail server: connection lost: [Errno 111] Connection refused.", None),
    (530, "5.7.0 Authentication required", "sender", "retry",
     "Our mail server refused to send: 5.7.0 Authentication required", None),
])
def test_replies(code, text, stage, action, reason, after):
    outcome = classify(code, text, stage)
    assert outcome.action == action
    assert outcome.reason == reason
    assert outcome.retry_after == after
    assert text in outcome.reply


def test_bytes_replies_are_decoded():
    assert classify(550, b"5.1.1 unknown \xff user", "rcpt").reply.startswith("550 5.1.1 unknown")


@pytest.mark.parametrize("code, lost", [(None, True), (421, True), (451, False), (250, False),
                                        (550, False)])
def test_which_replies_end_the_connection(code, lost):
    assert classify(code, "4.3.2 closing" if code else "connection lost", "rcpt").connection_lost \
        is lost


@pytest.mark.parametrize("code, text, throttled", [
    (421, "4.7.0 Too many messages from your IP, slow down", True),
    (454, "4.7.0 Throttling failure: Maximum sending rate exceeded.", True),
    (451, "4.3.0 Rate limit exceeded, try again in 30 seconds", True),
    (451, "4.7.1 Greylisted, please try again in 300 seconds", False),  # the message's turn
    (452, "4.5.3 Too many recipients", False),  # not a code that says slow down
    (550, "5.7.1 Too many complaints, rate of spam too high", False),  # refused for good
])
def test_throttling_replies_are_told_apart(code, text, throttled):
    assert classify(code, text, "rcpt").throttled is throttled
