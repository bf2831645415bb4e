"""Each group's engagement funnel and its opens and views per day, counted as they happen.

The Analytics page shows how many of a group's credentials reached each stage and the
last 30 days' opens and views. Counting those from the credentials, messages and events
on every request cost in proportion to the history (235 ms at 100,000 credentials); so
every write that brings a credential to a stage for the first time, or writes an open or
a view, adds to these counts in its own transaction, as status_count does for statuses.
"""

import functools
from collections import Counter
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.counting import add
from models.credential import Credential
from models.email_event import EmailEvent
from models.email_message import EmailMessage

# A credential reaches each stage once (a resent or reopened email counts once); the stages
# it has reached are bits of Credential.funnel_stages. STAGES make the Analytics funnel
# ("engaged": downloaded or LinkedIn); all but "sent" and "opened" also give the totals of
# the Credentials page's engagement filters (views.queries.ENGAGEMENT).
STAGES = ("sent", "opened", "viewed", "engaged")
BITS = {"sent": 1, "opened": 2, "viewed": 4, "engaged": 8, "downloaded": 16, "linkedin": 32,
        "shared": 64}
DAILY_KINDS = ("opened", "viewed")  # the events the chart counts per day


class FunnelCount(db.Model):
    """How many of a group's credentials there are ("credentials") and reached each stage."""
    __tablename__ = "funnel_counts"

    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"),
                                              primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("credential_groups.id"),
                                                primary_key=True)
    stage: so.Mapped[str] = so.mapped_column(sa.String(12), primary_key=True)
    n: so.Mapped[int] = so.mapped_column(default=0)


class DailyCount(db.Model):
    """How many open or view events of a group's credentials one UTC day saw."""
    __tablename__ = "daily_counts"

    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"),
                                              primary_key=True)
    day: so.Mapped[date] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("credential_groups.id"),
                                                primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(12), primary_key=True)
    n: so.Mapped[int] = so.mapped_column(default=0)


CREDENTIALS, MESSAGES, EVENTS = (Credential.__table__, EmailMessage.__table__,
                                 EmailEvent.__table__)
STAGE_BITS = CREDENTIALS.c.funnel_stages


@functools.cache
def _reach(stage):
    bit = BITS[stage]
    return (sa.update(CREDENTIALS)
            .where(CREDENTIALS.c.id.in_(sa.bindparam("ids", expanding=True)),
                   STAGE_BITS.op("&")(bit) == 0)
            .values(funnel_stages=STAGE_BITS.op("|")(bit))
            .returning(CREDENTIALS.c.org_id, CREDENTIALS.c.group_id))


def reach(connection, stage, credential_ids):
    """These credentials reached the stage: those that had not before now count in it."""
    if not credential_ids:
        return
    newly = Counter((row.org_id, row.group_id, stage) for row in connection.execute(
        _reach(stage), {"ids": sorted(credential_ids)}))
    add(connection, FunnelCount, newly)


def org_total(org_id, stage):
    """How many of the organization's credentials reached the stage."""
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(FunnelCount.n), 0))
                             .where(FunnelCount.org_id == org_id, FunnelCount.stage == stage))


def count_days(connection, events, groups):
    """Count the opened and viewed events among these timeline rows per day; groups:
    {credential id: (org id, group id)} for their credentials."""
    days = Counter()
    for event in events:
        if event["type"] in DAILY_KINDS:
            org_id, group_id = groups[event["credential_id"]]
            days[(org_id, event["at"].date(), group_id, event["type"])] += 1
    add(connection, DailyCount, days)


def rebuild(connection, org_id):
    """Derive the organization's stages and counts again from the credentials, messages and
    events (a repair, and for bulk-loaded data; nothing calls it in normal work)."""
    def any_message(column):
        return sa.exists().where(MESSAGES.c.credential_id == CREDENTIALS.c.id,
                                 column.is_not(None))

    def flag(stage, condition):
        return sa.case((condition, BITS[stage]), else_=0)

    viewed = CREDENTIALS.c.viewed_at.is_not(None)
    downloaded = CREDENTIALS.c.downloaded_at.is_not(None)
    linkedin = CREDENTIALS.c.linkedin_clicked_at.is_not(None)
    connection.execute(CREDENTIALS.update().where(CREDENTIALS.c.org_id == org_id).values(
        funnel_stages=flag("sent", any_message(MESSAGES.c.sent_at))
        + flag("opened", sa.or_(viewed, any_message(MESSAGES.c.opened_at)))
        + flag("viewed", viewed) + flag("engaged", sa.or_(downloaded, linkedin))
        + flag("downloaded", downloaded) + flag("linkedin", linkedin)
        + flag("shared", CREDENTIALS.c.share_views > 0)))
    funnel, daily = FunnelCount.__table__, DailyCount.__table__
    connection.execute(funnel.delete().where(funnel.c.org_id == org_id))
    connection.execute(daily.delete().where(daily.c.org_id == org_id))
    mine = CREDENTIALS.c.org_id == org_id
    for stage, condition in [("credentials", sa.true()), *(
            (stage, STAGE_BITS.op("&")(bit) != 0) for stage, bit in BITS.items())]:
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
        .where(mine, EVENTS.c.type.in_(DAILY_KINDS))
        .group_by(CREDENTIALS.c.org_id, day, CREDENTIALS.c.group_id, EVENTS.c.type)))
