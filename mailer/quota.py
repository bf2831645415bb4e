"""Per-organization daily limit (ORG_DAILY_LIMIT): the messages an organization hands to
the mail server in any 24 hours. The queue's claim applies it (mailer.queue); the Settings
page shows it.

A message counts from the moment it is claimed for a hand-over (handed_at, stamped by the
claim) for 24 hours, once however many times it is tried. Over the limit, an
organization's due messages are not claimed: they stay queued, due again when its oldest
hand-over leaves the window, and other organizations' messages go meanwhile.
"""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.ext.compiler import compiles

from models import EmailMessage, db
from models.states import MessageState
from models.types import UTCDateTime, utcnow

WINDOW = timedelta(hours=24)
messages = EmailMessage.__table__


class window_end(sa.sql.functions.FunctionElement):
    """SQL: when a hand-over at this time leaves the window (a second late at most, and half
    a millisecond: SQLite's datetime() rounds to the millisecond, then drops the fraction;
    early would find the message still counted)."""

    type = UTCDateTime()
    inherit_cache = True
    name = "window_end"


@compiles(window_end)
def _window_end_sqlite(element, compiler, **kw):
    seconds = int(WINDOW.total_seconds()) + 1
    return f"datetime({compiler.process(element.clauses, **kw)}, '+{seconds} seconds')"


@compiles(window_end, "postgresql")
def _window_end_postgresql(element, compiler, **kw):
    seconds = int(WINDOW.total_seconds()) + 1
    return f"({compiler.process(element.clauses, **kw)} + interval '{seconds} seconds')"


def handed_since(org_id, since):
    """SQL: (how many messages, the oldest hand-over) of org_id (a column or value) in the
    window that began at since, read from the (org_id, handed_at) index."""
    handed = messages.alias("handed")
    recent = sa.and_(handed.c.org_id == org_id, handed.c.handed_at > since)
    return (sa.select(sa.func.count()).where(recent).scalar_subquery(),
            sa.select(sa.func.min(handed.c.handed_at)).where(recent).scalar_subquery())


def usage(org_id, now=None):
    """The limit as it stands for one organization: {limit, used, held (mail waits for the
    window), waiting (its emails not yet handed over), next_at (when the next can go)}."""
    now = now or utcnow()
    limit = current_app.config["ORG_DAILY_LIMIT"]
    count, oldest = handed_since(org_id, now - WINDOW)
    used, oldest = db.session.execute(sa.select(count, oldest)).one()
    held = used >= limit
    # Counted only when it matters: it reads every message of the organization.
    waiting = held and db.session.scalar(sa.select(sa.func.count()).where(
        messages.c.org_id == org_id,
        messages.c.state.in_((MessageState.QUEUED, MessageState.RETRY))))
    return {"limit": limit, "used": used, "held": held, "waiting": waiting,
            "next_at": oldest + WINDOW if held and oldest else None}
