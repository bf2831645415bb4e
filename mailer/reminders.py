"""Automatic reminders: recipients who have not opened after N days, at most K times."""

from datetime import timedelta

import sqlalchemy as sa

from models import Credential, EmailEvent, EmailMessage, Organization, db, write_lock
from models.status import EmailStatus
from models.types import utcnow

WHY = "automatic reminder"


def due_reminders(org, now):
    """The organization's credentials that should get a reminder now."""
    cutoff = now - timedelta(days=org.reminder_after_days)
    ever_opened = sa.select(EmailMessage.id).where(
        EmailMessage.credential_id == Credential.id, EmailMessage.opened_at.is_not(None))
    reminders = (sa.select(sa.func.count(EmailEvent.id))
                 .where(EmailEvent.credential_id == Credential.id, EmailEvent.type == "resent",
                        EmailEvent.detail == WHY).scalar_subquery())
    latest_sent = (sa.select(sa.func.max(EmailMessage.sent_at))
                   .where(EmailMessage.credential_id == Credential.id).scalar_subquery())
    return db.session.scalars(
        sa.select(Credential).where(
            Credential.org_id == org.id,
            Credential.email_status == EmailStatus.NOT_OPENED.value,
            ~sa.exists(ever_opened),  # never after an open or a followed link
            reminders < org.reminder_max,
            latest_sent <= cutoff,
        ).order_by(Credential.id).limit(1000)).all()


def send_reminders(now=None):
    """Queue the reminders that are due in every organization; return how many."""
    now = now or utcnow()
    write_lock()
    orgs = db.session.scalars(sa.select(Organization).where(
        Organization.reminder_after_days.is_not(None), Organization.reminder_max > 0)).all()
    count = 0
    for org in orgs:
        for credential in due_reminders(org, now):
            credential.resend(why=WHY, reminder=True)
            count += 1
    db.session.commit()
    return count
