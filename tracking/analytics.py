"""The engagement funnel per group and opens and views per day, counted in the database."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from models import Credential, CredentialGroup, EmailEvent, EmailMessage, db
from models.types import utcnow

STAGES = ("sent", "opened", "viewed", "engaged")
STAGE_LABELS = {"sent": "Sent", "opened": "Opened", "viewed": "Viewed",
                "engaged": "Downloaded or LinkedIn"}
DAYS = 30
DAILY_TYPES = ("opened", "viewed")


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


def _flag(condition):
    return sa.case((condition, 1), else_=0)


def funnels(org_id, group_id=None):
    """The funnel of each of the organization's groups (or of one), by group name."""
    # Each credential's messages folded to two flags first, so a resent credential counts
    # once; then one pass over the credentials sums the stages per group.
    messages = (sa.select(EmailMessage.credential_id,
                          sa.func.max(_flag(EmailMessage.sent_at.is_not(None))).label("sent"),
                          sa.func.max(_flag(EmailMessage.opened_at.is_not(None)))
                          .label("opened"))
                .where(EmailMessage.org_id == org_id).group_by(EmailMessage.credential_id))
    if group_id is not None:  # one group's messages only, not the organization's
        messages = messages.where(EmailMessage.credential_id.in_(
            sa.select(Credential.id).where(Credential.group_id == group_id)))
    messages = messages.subquery()
    opened = sa.or_(messages.c.opened == 1, Credential.viewed_at.is_not(None))
    engaged = sa.or_(Credential.downloaded_at.is_not(None),
                     Credential.linkedin_clicked_at.is_not(None))
    query = (sa.select(Credential.group_id, sa.func.count(),
                       sa.func.coalesce(sa.func.sum(messages.c.sent), 0),
                       sa.func.sum(_flag(opened)),
                       sa.func.sum(_flag(Credential.viewed_at.is_not(None))),
                       sa.func.sum(_flag(engaged)))
             .outerjoin(messages, messages.c.credential_id == Credential.id)
             .where(Credential.org_id == org_id).group_by(Credential.group_id))
    groups = sa.select(CredentialGroup.id, CredentialGroup.name).where(
        CredentialGroup.org_id == org_id)
    if group_id is not None:
        query = query.where(Credential.group_id == group_id)
        groups = groups.where(CredentialGroup.id == group_id)
    found = {group: Funnel(group, name) for group, name in db.session.execute(groups)}
    for group, *counts in db.session.execute(query):
        found[group] = Funnel(group, found[group].group,
                              *(int(count or 0) for count in counts))
    return sorted(found.values(), key=lambda funnel: funnel.group.lower())


def daily(org_id, group_id=None, days=DAYS):
    """Opens and views per UTC day for the last `days` days, oldest first, zeros included:
    [(date, {"opened": n, "viewed": n})]."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    day = sa.func.date(EmailEvent.at)
    query = (sa.select(day, EmailEvent.type, sa.func.count())
             .join(Credential, Credential.id == EmailEvent.credential_id)
             .where(Credential.org_id == org_id, EmailEvent.type.in_(DAILY_TYPES),
                    EmailEvent.at >= datetime.combine(first, time.min, UTC))
             .group_by(day, EmailEvent.type))
    if group_id is not None:
        query = query.where(Credential.group_id == group_id)
    counts = {}
    for when, kind, count in db.session.execute(query):
        counts[(str(when)[:10], kind)] = count  # SQLite gives text, PostgreSQL a date
    dates = [first + timedelta(days=n) for n in range(days)]
    return [(date, {kind: counts.get((date.isoformat(), kind), 0) for kind in DAILY_TYPES})
            for date in dates]
