"""Expiry notices: EXPIRY_NOTICE_DAYS before a credential expires, its recipient gets one
email saying so, through the same queue (off unless that setting is given)."""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

import issuing
from lifecycle.unsubscribes import unsubscribed
from models import Credential, EmailMessage, write_transaction
from models.states import IssueState, MessagePurpose
from models.status import EmailStatus
from models.types import utcnow

CREDENTIALS, MESSAGES = Credential.__table__, EmailMessage.__table__


def due_notices(connection, now, days, limit=1000):
    """(id, token) of published, valid credentials expiring within days that were mailed
    before and have had no notice, locked until the caller's transaction ends (SKIP LOCKED:
    workers share them)."""
    noticed = sa.select(MESSAGES.c.id).where(MESSAGES.c.credential_id == CREDENTIALS.c.id,
                                             MESSAGES.c.purpose == MessagePurpose.EXPIRY_NOTICE)
    return connection.execute(
        sa.select(CREDENTIALS.c.id, CREDENTIALS.c.token).where(
            CREDENTIALS.c.issue_state == IssueState.PUBLISHED,
            CREDENTIALS.c.expires_at > now, CREDENTIALS.c.expires_at <= now + timedelta(days),
            CREDENTIALS.c.revoked_at.is_(None), CREDENTIALS.c.send_email,
            CREDENTIALS.c.recipient_email.is_not(None),
            # Not to an address that bounced, nor while an email is on its way.
            CREDENTIALS.c.email_status.in_([EmailStatus.NOT_OPENED.value,
                                            EmailStatus.OPENED.value]),
            ~sa.exists(noticed),
            ~unsubscribed(CREDENTIALS.c.org_id, CREDENTIALS.c.recipient_email),
        ).order_by(CREDENTIALS.c.expires_at).limit(limit)
        .with_for_update(of=CREDENTIALS, skip_locked=True)).all()


def send_expiry_notices(now=None):
    """Queue the expiry notices that are due; return how many."""
    days = current_app.config["EXPIRY_NOTICE_DAYS"]
    if not days:
        return 0
    with write_transaction() as connection:
        return issuing.resend(connection, due_notices(connection, now or utcnow(), days),
                              cause="expiry_notice", purpose=MessagePurpose.EXPIRY_NOTICE)
