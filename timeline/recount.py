"""Deriving the Analytics counts again from the credentials, messages and events: a repair,
and for bulk-loaded data (migration 0017, bench/page.py); nothing calls it in normal work."""

import sqlalchemy as sa

from models import Credential, DailyCount, EmailEvent, EmailMessage, FunnelCount
from models.funnel_count import REACHED
from timeline.rules import PER_DAY

CREDENTIALS, MESSAGES, EVENTS = Credential.__table__, EmailMessage.__table__, EmailEvent.__table__


def recount_funnel(connection, org_id):
    """Derive the organization's first-sent and first-opened times and its funnel and daily
    counts again."""
    def first(column):
        return (sa.select(sa.func.min(column)).where(MESSAGES.c.credential_id == CREDENTIALS.c.id)
                .scalar_subquery())

    mine = CREDENTIALS.c.org_id == org_id
    email_opened, viewed = first(MESSAGES.c.opened_at), CREDENTIALS.c.viewed_at
    connection.execute(CREDENTIALS.update().where(mine).values(
        first_sent_at=first(MESSAGES.c.sent_at),
        # Following the link opens the email too, whether or not the image loaded.
        first_opened_at=sa.case((viewed.is_(None), email_opened),
                                (email_opened.is_(None), viewed),
                                (viewed < email_opened, viewed), else_=email_opened)))
    funnel, daily = FunnelCount.__table__, DailyCount.__table__
    connection.execute(funnel.delete().where(funnel.c.org_id == org_id))
    connection.execute(daily.delete().where(daily.c.org_id == org_id))
    for stage, condition in REACHED.items():
        connection.execute(funnel.insert().from_select(
            ["org_id", "group_id", "stage", "n"],
            sa.select(CREDENTIALS.c.org_id, CREDENTIALS.c.group_id, sa.literal(stage),
                      sa.func.count()).where(mine, condition)
            .group_by(CREDENTIALS.c.org_id, CREDENTIALS.c.group_id)))
    day = sa.func.date(EVENTS.c.at)
    connection.execute(daily.insert().from_select(
        ["org_id", "day", "group_id", "kind", "n"],
        sa.select(CREDENTIALS.c.org_id, day, CREDENTIALS.c.group_id, EVENTS.c.type,
                  sa.func.count())
        .join(CREDENTIALS, CREDENTIALS.c.id == EVENTS.c.credential_id)
        .where(mine, EVENTS.c.type.in_(PER_DAY))
        .group_by(CREDENTIALS.c.org_id, day, CREDENTIALS.c.group_id, EVENTS.c.type)))
