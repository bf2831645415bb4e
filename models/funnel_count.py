"""Each group's engagement funnel and its opens and views per day, counted as they happen.

The Analytics page shows how many of a group's credentials reached each stage and the
last 30 days' opens and views. Counting those from the credentials, messages and events
on every request cost in proportion to the history (235 ms at 100,000 credentials); so
every event that brings a credential to a stage for the first time, or is an open or a
view, adds to these counts in its own transaction (timeline.record calls these), as
status_count does for statuses.
"""

import functools
from collections import Counter
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.counting import add
from models.credential import Credential

# A credential reaches each stage once, when the stage's column on it is first stamped (a
# resent or reopened email counts once). STAGES make the Analytics funnel; "viewed",
# "downloaded", "linkedin" and "shared" are also the Credentials page's engagement filters.
STAGES = ("sent", "opened", "viewed", "engaged")
STAMPED = {"sent": "first_sent_at", "opened": "first_opened_at", "viewed": "viewed_at",
           "downloaded": "downloaded_at", "linkedin": "linkedin_clicked_at"}
ENGAGED = ("downloaded", "linkedin")  # the first of these makes a credential "engaged"


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


CREDENTIALS = Credential.__table__
# Which credentials count in each stage: the one rule for the counts, the repair and the
# Credentials page's filters.
REACHED = {"credentials": sa.true(),
           **{stage: CREDENTIALS.c[column].is_not(None) for stage, column in STAMPED.items()},
           "engaged": sa.or_(*(CREDENTIALS.c[STAMPED[stage]].is_not(None) for stage in ENGAGED)),
           "shared": CREDENTIALS.c.share_views > 0}
# The Credentials page's engagement filters: a partial index each finds a page of the
# newest credentials that did the thing without reading the others (a credential enters
# it once, when first stamped or first shared; on PostgreSQL a share view's update is then
# no longer in place, a cost that only the public page's visits pay).
FILTERS = ("viewed", "downloaded", "linkedin", "shared")
for _stage in FILTERS:
    sa.Index(f"ix_credentials_org_{_stage}", CREDENTIALS.c.org_id, CREDENTIALS.c.id,
             sqlite_where=REACHED[_stage], postgresql_where=REACHED[_stage])


@functools.cache
def _stamp(stage):
    column = CREDENTIALS.c[STAMPED[stage]]
    return (sa.update(CREDENTIALS)
            .where(CREDENTIALS.c.id.in_(sa.bindparam("ids", expanding=True)), column.is_(None))
            .values({column: sa.bindparam("at")})
            .returning(CREDENTIALS.c.org_id, CREDENTIALS.c.group_id,
                       *(CREDENTIALS.c[STAMPED[other]] for other in ENGAGED)))


def stamp(connection, stage, credential_ids, at):
    """These credentials reached the stage at that time: stamp it on those that had not
    (they now count in it), and count "engaged" for the first of ENGAGED."""
    if not credential_ids:
        return
    newly = Counter()
    others = [STAMPED[other] for other in ENGAGED if other != stage] if stage in ENGAGED else None
    for row in connection.execute(_stamp(stage), {"ids": sorted(credential_ids), "at": at}):
        newly[(row.org_id, row.group_id, stage)] += 1
        if others is not None and all(row._mapping[other] is None for other in others):
            newly[(row.org_id, row.group_id, "engaged")] += 1
    add(connection, FunnelCount, newly)


_SHARE_VIEWS = (sa.update(CREDENTIALS).where(CREDENTIALS.c.id == sa.bindparam("credential_id"))
                .values(share_views=CREDENTIALS.c.share_views + sa.bindparam("views"))
                .returning(CREDENTIALS.c.org_id, CREDENTIALS.c.group_id,
                           CREDENTIALS.c.share_views))


def add_share_views(connection, views):
    """Others saw these credentials' public pages ({credential id: views}); a credential
    seen for the first time counts as "shared"."""
    shared = Counter()
    for credential_id, n in sorted(views.items()):
        row = connection.execute(_SHARE_VIEWS, {"credential_id": credential_id,
                                                "views": n}).first()
        if row is not None and row.share_views == n:
            shared[(row.org_id, row.group_id, "shared")] += 1
    add(connection, FunnelCount, shared)


def org_total(org_id, stage):
    """How many of the organization's credentials reached the stage."""
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(FunnelCount.n), 0))
                             .where(FunnelCount.org_id == org_id, FunnelCount.stage == stage))


def count_days(connection, events):
    """Count events per UTC day: events are (org id, group id, time, kind)."""
    add(connection, DailyCount, Counter((org_id, at.date(), group_id, kind)
                                        for org_id, group_id, at, kind in events))
