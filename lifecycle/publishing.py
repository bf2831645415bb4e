"""Scheduled publishing: credentials whose time has come are published (and mailed)."""

import sqlalchemy as sa

import issuing
from models import Credential, write_transaction
from models.states import IssueState
from models.types import utcnow

CREDENTIALS = Credential.__table__


def publish_due(now=None, limit=500):
    """Publish up to limit scheduled credentials whose time has come; return how many."""
    now = now or utcnow()
    # SKIP LOCKED: several workers share the due credentials instead of waiting on each other.
    due = (sa.select(CREDENTIALS.c.id)
           .where(CREDENTIALS.c.issue_state == IssueState.SCHEDULED,
                  CREDENTIALS.c.scheduled_at <= now, Credential.shown())
           .order_by(CREDENTIALS.c.scheduled_at).limit(limit).with_for_update(skip_locked=True))
    with write_transaction() as connection:
        return len(issuing.publish(connection, connection.execute(due).scalars().all()))
