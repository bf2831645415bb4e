"""The engagement funnel per group and opens and views per day, read from the counts that
models.funnel_count keeps as things happen."""

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from models import CredentialGroup, DailyCount, FunnelCount, db
from models.funnel_count import STAGES
from models.types import utcnow
from timeline.rules import PER_DAY

STAGE_LABELS = {"sent": "Sent", "opened": "Opened", "viewed": "Viewed",
                "engaged": "Downloaded or LinkedIn"}
DAYS = 30


@dataclass
class Funnel:
    """One group's credentials at each stage; each credential counts once per stage."""
    group_id: int
    group: str
    credentials: int = 0
    sent: int = 0
    opened: int = 0
    viewed: int = 0
    engaged: int = 0

    def rate(self, stage):
        """The stage's share of the sent emails (sent: of the credentials), 0.0 when there
        is nothing to divide by."""
        base = self.credentials if stage == "sent" else self.sent
        return getattr(self, stage) / base if base else 0.0

    def as_json(self):
        counts = {stage: getattr(self, stage) for stage in STAGES}
        return {"group_id": self.group_id, "group": self.group,
                "credentials": self.credentials, "counts": counts,
                "rates": {stage: round(self.rate(stage), 4) for stage in STAGES}}


def funnels(org_id, group_id=None):
    """The funnel of each of the organization's groups (or of one), by group name."""
    groups = sa.select(CredentialGroup.id, CredentialGroup.name).where(
        CredentialGroup.org_id == org_id)
    counts = sa.select(FunnelCount.group_id, FunnelCount.stage, FunnelCount.n).where(
        FunnelCount.org_id == org_id)
    if group_id is not None:
        groups = groups.where(CredentialGroup.id == group_id)
        counts = counts.where(FunnelCount.group_id == group_id)
    found = {group: Funnel(group, name) for group, name in db.session.execute(groups)}
    for group, stage, n in db.session.execute(counts.where(
            FunnelCount.stage.in_(("credentials", *STAGES)))):
        if group in found:
            setattr(found[group], stage, n)
    return sorted(found.values(), key=lambda funnel: funnel.group.lower())


def daily(org_id, group_id=None, days=DAYS):
    """Opens and views per UTC day for the last `days` days, oldest first, zeros included:
    [(date, {"opened": n, "viewed": n})]."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    query = (sa.select(DailyCount.day, DailyCount.kind, sa.func.sum(DailyCount.n))
             .where(DailyCount.org_id == org_id, DailyCount.day >= first)
             .group_by(DailyCount.day, DailyCount.kind))
    if group_id is not None:
        query = query.where(DailyCount.group_id == group_id)
    counts = {(day, kind): int(n) for day, kind, n in db.session.execute(query)}
    dates = [first + timedelta(days=n) for n in range(days)]
    return [(date, {kind: counts.get((date, kind), 0) for kind in PER_DAY})
            for date in dates]
