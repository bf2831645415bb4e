"""Bounce reports that come back after the server accepted a message (RFC 3464 DSNs)."""

import email
import re
from email import policy

import sqlalchemy as sa

from mailer.replies import classify
from models import EmailEvent, EmailMessage, db
from models.status_count import sync_statuses
from models.types import utcnow

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
    code = re.match(r"(\d{3})\s+(.*)", diagnostic)
    outcome = classify(int(code.group(1)) if code else 550,
                       code.group(2) if code else diagnostic, "data")
    with db.engine.connect().execution_options(sqlite_immediate=True) as connection:
        with connection.begin():
            found = connection.execute(
                sa.select(MESSAGES.c.id, MESSAGES.c.credential_id)
                .where(MESSAGES.c.message_id == message_id)).first()
            if found is None:
                return "unknown"
            connection.execute(
                sa.update(MESSAGES).where(MESSAGES.c.id == found.id).values(
                    state="bounced", bounce_kind="hard", bounce_reason=outcome.reason,
                    last_reply=outcome.reply[:2000], lease_until=None, lease_owner=None))
            connection.execute(sa.insert(EmailEvent.__table__).values(
                credential_id=found.credential_id, message_id=found.id, type="bounced",
                at=utcnow(), detail=f"A bounce report came back: {outcome.reason} "
                                    f"Server said: {outcome.reply}"))
            sync_statuses(connection, [found.credential_id])
    return "bounced"
