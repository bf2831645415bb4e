"""Automatic reminders: recipients who have not opened after N days, at most K times."""

from datetime import timedelta

import sqlalchemy as sa

import issuing
from lifecycle.unsubscribes import unsubscribed
from models import Credential, EmailEvent, EmailMessage, Organization, write_transaction
from models.states import EventType, MessagePurpose
from models.status import EmailStatus
from models.types import utcnow

CREDENTIALS, MESSAGES, EVENTS = Credential.__table__, EmailMessage.__table__, EmailEvent.__table__
ORGS = Organization.__table__


def due_reminders(connection, org, now):
    """(id, token) of the organization's credentials that should get a reminder now, locked
    until the caller's transaction ends.

    Several workers look at once: on PostgreSQL each takes the rows it found with FOR UPDATE
    SKIP LOCKED, so another skips them while they are being reminded, and a row reminded
    (its stored status now "sending") is re-checked by PostgreSQL and no longer matches once
    that transaction committed. SQLite's write transaction (BEGIN IMMEDIATE) runs one worker
    at a time, and the next one sees the reminders of the last.
    """
    cutoff = now - timedelta(days=org.reminder_after_days)
    ever_opened = sa.select(MESSAGES.c.id).where(
        MESSAGES.c.credential_id == CREDENTIALS.c.id, MESSAGES.c.opened_at.is_not(None))
    reminders = (sa.select(sa.func.count(EVENTS.c.id))
                 .where(EVENTS.c.credential_id == CREDENTIALS.c.id,
                        EVENTS.c.type == EventType.RESENT, EVENTS.c.code == "reminder")
                 .scalar_subquery())
    latest_sent = (sa.select(sa.func.max(MESSAGES.c.sent_at))
                   .where(MESSAGES.c.credential_id == CREDENTIALS.c.id).scalar_subquery())
    return connection.execute(
        sa.select(CREDENTIALS.c.id, CREDENTIALS.c.token).where(
            CREDENTIALS.c.org_id == org.id,
            CREDENTIALS.c.email_status == EmailStatus.NOT_OPENED.value,
            ~sa.exists(ever_opened),  # never after an open or a followed link
            reminders < org.reminder_max,
            CREDENTIALS.c.revoked_at.is_(None),  # nothing to remind of any more
            # The recipient asked for no more (one click): a delivery still goes.
            ~unsubscribed(CREDENTIALS.c.org_id, CREDENTIALS.c.recipient_email),
            sa.or_(CREDENTIALS.c.expires_at.is_(None), CREDENTIALS.c.expires_at > now),
            latest_sent <= cutoff,
        ).order_by(CREDENTIALS.c.id).limit(1000)
        .with_for_update(of=CREDENTIALS, skip_locked=True)).all()


def send_reminders(now=None):
    """Queue the reminders that are due in every organization; return how many."""
    now = now or utcnow()
    count = 0
    with write_transaction() as connection:
        orgs = connection.execute(sa.select(ORGS.c.id, ORGS.c.reminder_after_days,
                                            ORGS.c.reminder_max).where(
            ORGS.c.reminder_after_days.is_not(None), ORGS.c.reminder_max > 0)).all()
        for org in orgs:
            count += issuing.resend(connection, due_reminders(connection, org, now),
                                    cause="reminder", purpose=MessagePurpose.REMINDER)
    return count
