"""Bounce reports that come back after the server accepted a message (RFC 3464 DSNs)."""

import email
import re
from email import policy

import sqlalchemy as sa

from mailer.queue import apply_outcome
from mailer.replies import classify
from models import EmailMessage, write_transaction

MESSAGES = EmailMessage.__table__


def read_report(raw):
    """(original Message-ID, {Action, Status, Diagnostic-Code}) of a delivery status
    notification, or (None, None) when it is not one."""
    report = email.message_from_bytes(raw, policy=policy.default)
    status, original = None, None
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status" and status is None:
            blocks = part.get_payload()
            recipients = [block for block in blocks[1:] if block.get("Action")]
            if recipients:
                status = {key: str(recipients[0].get(key, "")).strip()
                          for key in ("Action", "Status", "Diagnostic-Code")}
        elif kind == "message/rfc822" and original is None:
            original = part.get_payload()[0].get("Message-ID")
        elif kind == "text/rfc822-headers" and original is None:
            found = re.search(r"^Message-ID:\s*(<[^>]+>)", part.get_content(), re.M | re.I)
            original = found and found.group(1)
    return (str(original).strip() if original else None), status


def record_report(raw):
    """Mark the reported message bounced if the report says delivery failed for good.

    Returns what happened: "bounced", "ignored" (not a failure report), "unknown" (no
    message of ours), or "not_a_report".
    """
    message_id, status = read_report(raw)
    if status is None:
        return "not_a_report"
    if status["Action"].lower() != "failed" or not status["Status"].startswith("5"):
        return "ignored"  # "delayed" and "delivered" reports change nothing
    diagnostic = status["Diagnostic-Code"].partition(";")[2].strip() or status["Status"]
    code = re.match(r"([5]\d\d)\s+(.*)", diagnostic)  # a final failure is a 5xx
    outcome = classify(int(code.group(1)) if code else 550,
                       code.group(2) if code else diagnostic, "data")
    with write_transaction() as connection:
        found = connection.execute(
            sa.select(MESSAGES.c.id, MESSAGES.c.credential_id, MESSAGES.c.attempts)
            .where(MESSAGES.c.message_id == message_id)).first()
        if found is None:
            return "unknown"
        # A late report is not another attempt: the attempts stay as they were.
        return apply_outcome(connection, found.id, found.credential_id, outcome,
                             found.attempts, late=True)
