"""What happens to credentials after issuing: publish, schedule, a new address, a resend.

Each works on a set of credentials (one being a set of one), in the caller's transaction,
and records the events it makes (timeline), which derive the statuses it changed.
"""

import sqlalchemy as sa

import audit
import timeline
from issuing.corrections import expire_from_groups
from issuing.emails import CREDENTIALS, new_emails, queue_emails
from models import Suppression
from models.email_message import new_token
from models.search import search_text
from models.states import EventType, IssueState, MessagePurpose
from models.types import utcnow


def publish(connection, credential_ids, user_id=None, send_email=None, now=None):
    """Publish drafts and scheduled credentials now, with each one's email choice (or
    send_email for all); queue the email of those with email on and an address. Returns
    the ids published: those already published are left alone."""
    now = now or utcnow()
    values = {"issue_state": IssueState.PUBLISHED, "published_at": now, "scheduled_at": None}
    if send_email is not None:
        values["send_email"] = send_email
    published = connection.execute(
        sa.update(CREDENTIALS)
        .where(CREDENTIALS.c.id.in_(list(credential_ids)),
               CREDENTIALS.c.issue_state != IssueState.PUBLISHED)
        .values(values)
        .returning(CREDENTIALS.c.id, CREDENTIALS.c.token, CREDENTIALS.c.send_email,
                   CREDENTIALS.c.recipient_email)).all()
    expire_from_groups(connection, [row.id for row in published], now)
    audit.record("credential.publish", [row.id for row in published], connection=connection)
    mailed = [row for row in published if row.send_email and row.recipient_email]
    if mailed:
        queue_emails(connection, new_emails(row.token for row in mailed), user_id, now)
    return [row.id for row in published]


def schedule(connection, credential_ids, at_time, send_email):
    """Publish these drafts or scheduled credentials at a future time instead (validated
    by the caller); returns the ids scheduled. No status input changes."""
    scheduled = connection.execute(
        sa.update(CREDENTIALS)
        .where(CREDENTIALS.c.id.in_(list(credential_ids)),
               CREDENTIALS.c.issue_state != IssueState.PUBLISHED)
        .values(issue_state=IssueState.SCHEDULED, scheduled_at=at_time, send_email=send_email)
        .returning(CREDENTIALS.c.id)).scalars().all()
    audit.record("credential.schedule", scheduled,
                 {"at": at_time.isoformat(), "send_email": send_email}, connection=connection)
    return scheduled


def change_address(connection, credential_id, address, user_id=None, now=None):
    """Give the recipient a new address (or none) and a new credential link; it sends
    nothing. False when it was the same address already."""
    name, old = connection.execute(
        sa.select(CREDENTIALS.c.recipient_name, CREDENTIALS.c.recipient_email)
        .where(CREDENTIALS.c.id == credential_id)).one()
    if old == address:
        return False
    # A new credential link too: the old address's emails and pages stop showing it.
    connection.execute(sa.update(CREDENTIALS).where(CREDENTIALS.c.id == credential_id)
                       .values(recipient_email=address, token=new_token(),
                               search_text=search_text(name, address)))
    timeline.record(connection, [timeline.Event(
        EventType.ADDRESS_CHANGED, credential_id, now or utcnow(),
        data={"old": old, "new": address}, user_id=user_id)])
    audit.record("credential.address", [credential_id], {"recipient_email": [old, address]},
                 connection=connection)
    return True


def resend(connection, credentials, user_id=None, cause=None,
           purpose=MessagePurpose.DELIVERY, force=False, now=None):
    """Queue a new email for each credential (objects with id, and with org_id and
    recipient_email when forced, already checked by Credential.resend_refusal); the
    older messages stay in the timeline. cause is a models.words.RESEND_CAUSES code; force
    mails addresses that were suppressed again. Returns how many were queued."""
    # Every credential that passed resend_refusal has an address: each gets its email.
    credentials = list(credentials)
    if not credentials:
        return 0
    now = now or utcnow()
    if force:
        for org_id in {credential.org_id for credential in credentials}:
            Suppression.lift(connection, org_id, [c.recipient_email for c in credentials
                                                  if c.org_id == org_id])
    timeline.record(connection, [
        timeline.Event(EventType.RESENT, credential.id, now, code=cause, user_id=user_id)
        for credential in credentials])
    audit.record("credential.nudge" if cause == "nudge" else "credential.resend",
                 [credential.id for credential in credentials],
                 {**({"cause": cause} if cause else {}), **({"forced": True} if force else {})},
                 connection=connection)
    # Tokens as stored now: an address changed in this transaction gave a new one.
    tokens = dict(connection.execute(sa.select(CREDENTIALS.c.id, CREDENTIALS.c.token).where(
        CREDENTIALS.c.id.in_([credential.id for credential in credentials]))).all())
    queue_emails(connection, new_emails(tokens[c.id] for c in credentials), user_id, now,
                 purpose)
    return len(credentials)
