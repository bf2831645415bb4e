"""The one door for every event of a credential: record() writes the events and everything
each implies by timeline.rules, in the caller's transaction, so a writer cannot forget a
step: the timeline rows, the email's open count, first-time stamps with the funnel and
daily counts, the public page's views, suppressed addresses, the stored email status with
its counts, the outbound webhook messages, the judgement of the organization's reputation
guard (reputation), and the background work to start once the caller commits.

The writer changes only what is its own (a queue row's state, a credential's address),
then records the events that change made.
"""

from collections import Counter
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

import reputation
import work
from models import (
    Credential,
    EmailEvent,
    EmailMessage,
    Organization,
    Suppression,
    funnel_count,
)
from models.states import EventType
from models.status_count import sync_statuses
from timeline import webhooks
from timeline.rules import RULES, Rule

CREDENTIALS, MESSAGES, EVENTS = Credential.__table__, EmailMessage.__table__, EmailEvent.__table__
ORGS = Organization.__table__
BUMP_STATUS_LISTS = (sa.update(ORGS).where(ORGS.c.id.in_(sa.bindparam("orgs", expanding=True)))
                     .values(status_version=ORGS.c.status_version + 1))
INSERT = sa.insert(EVENTS)
# How many rows of some types the timelines of some credentials hold already.
ROWS_SO_FAR = (sa.select(EVENTS.c.credential_id, EVENTS.c.type, sa.func.count())
               .where(EVENTS.c.credential_id.in_(sa.bindparam("ids", expanding=True)),
                      EVENTS.c.type.in_(sa.bindparam("types", expanding=True)))
               .group_by(EVENTS.c.credential_id, EVENTS.c.type))
# The emails opens are about: opened before, how often, and their credentials' owners.
EMAILS = (sa.select(MESSAGES.c.id, MESSAGES.c.credential_id, MESSAGES.c.opened_at,
                    MESSAGES.c.open_count, CREDENTIALS.c.org_id, CREDENTIALS.c.group_id)
          .join(CREDENTIALS, CREDENTIALS.c.id == MESSAGES.c.credential_id)
          .where(MESSAGES.c.id.in_(sa.bindparam("ids", expanding=True))))
OWNERS = (sa.select(CREDENTIALS.c.id, CREDENTIALS.c.org_id, CREDENTIALS.c.group_id)
          .where(CREDENTIALS.c.id.in_(sa.bindparam("ids", expanding=True))))
COUNT_OPENS = (sa.update(MESSAGES).where(MESSAGES.c.id == sa.bindparam("opened_id"))
               .values(open_count=MESSAGES.c.open_count + sa.bindparam("opens"),
                       opened_at=sa.func.coalesce(MESSAGES.c.opened_at, sa.bindparam("first"))))


class Event(NamedTuple):
    """One thing that happened to a credential (or to one of its emails)."""

    type: EventType
    credential_id: int
    at: datetime
    email_message_id: int | None = None
    code: str | None = None  # why: a models.words reason or resend cause
    data: dict | None = None  # what came from outside with it (models.words.event_detail)
    user_id: int | None = None  # the issuer who caused it


def record(connection, events):
    """Write events (in timeline order) and all they imply, in the caller's transaction."""
    # A test of an organization's email belongs to no credential: what happens to it (sent,
    # bounced, opened) changes its message row only, and counts nowhere.
    events = [event for event in events if event.credential_id is not None]
    if not events:
        return
    owners = _Owners(connection)
    opens = [e for e in events if RULES[e.type].opens_email]
    emails = _opened_emails(connection, opens, owners)
    kept = _within_caps(connection, events, emails)
    if kept:  # one row as a plain INSERT: psycopg's executemany costs a pipeline round for it
        rows = [event._asdict() for event in kept]
        connection.execute(INSERT, rows[0] if len(rows) == 1 else rows)
    first_opens = _count_opens(connection, opens, emails)
    views = Counter(e.credential_id for e in events if RULES[e.type].share_view)
    funnel_count.add_share_views(connection, views)
    stamps = {"opened": [e for e in events
                         if RULES[e.type].opens_email and e.credential_id in first_opens]}
    for event in events:
        for stage in RULES[event.type].stamps:
            stamps.setdefault(stage, []).append(event)
    for stage, reached in stamps.items():
        if reached:  # the batch's first time stands for all of it
            funnel_count.stamp(connection, stage, {e.credential_id for e in reached},
                               min(e.at for e in reached))
    # In any order: a complaint outranks a bounce of the same address either way.
    for reason in {RULES[e.type].suppresses for e in events} - {None}:
        Suppression.add(connection, reason, {e.email_message_id for e in events
                                             if RULES[e.type].suppresses == reason})
    settled = {e.credential_id for e in events if RULES[e.type].status} | first_opens
    if settled:
        sync_statuses(connection, settled)
    daily = [e for e in kept if RULES[e.type].per_day]
    if daily:
        groups = owners.groups({e.credential_id for e in daily})
        funnel_count.count_days(connection, [(*groups[e.credential_id], e.at, e.type)
                                             for e in daily])
    webhooks.announce(connection, [(RULES[e.type].webhook, e) for e in kept
                                   if RULES[e.type].webhook],
                      lambda: owners.orgs({e.credential_id for e in kept}))
    listed = {e.credential_id for e in events if RULES[e.type].status_list}
    if listed:
        orgs = owners.orgs(listed)
        connection.execute(BUMP_STATUS_LISTS, {"orgs": sorted({orgs[c] for c in listed})})
    judged = {e.credential_id for e in events if RULES[e.type].judges_sender}
    if judged:
        reputation.judge(connection, sorted(set(owners.orgs(judged).values())))
    for job in {RULES[e.type].wakes for e in events} - {None}:
        work.note(job)


def record_issued(connection, kind, messages, at, user_id=None):
    """Write an event of kind for each message of a set (a select of message ids) of the
    credentials issued in this transaction, set-based: a few statements however many (an
    import's 100,000); return how many. Such a credential is written with the status its
    first events give it (issuing.new applies the one rule as it inserts them), so what
    is left of the rule is the rows and the job to wake; a kind that implies more is
    recorded one event at a time (record)."""
    rule = RULES[kind]
    if rule._replace(status=False, wakes=None) != Rule():
        raise ValueError(f"{kind} events are recorded one by one (timeline.record)")
    written = connection.execute(sa.insert(EVENTS).from_select(
        ["credential_id", "email_message_id", "user_id", "type", "at"],
        sa.select(MESSAGES.c.credential_id, MESSAGES.c.id, sa.literal(user_id, sa.Integer),
                  sa.literal(str(kind)), sa.literal(at, EVENTS.c.at.type))
        .where(MESSAGES.c.id.in_(messages.correlate(None))).order_by(MESSAGES.c.id))
        .execution_options(preserve_rowcount=True)).rowcount  # kept for an INSERT too
    if rule.wakes and written:
        work.note(rule.wakes)
    return written


def _opened_emails(connection, opens, owners):
    """{message id: row} of the emails these opens are about, as they were before: their
    credential, opened_at and open count (and their owners, noted)."""
    if not opens:
        return {}
    emails = {row.id: row for row in connection.execute(
        EMAILS, {"ids": sorted({e.email_message_id for e in opens})})}
    owners.found.update({row.credential_id: (row.org_id, row.group_id)
                         for row in emails.values()})
    return emails


def _within_caps(connection, events, emails):
    """The events that get a timeline row: an event type with a cap keeps that many rows per
    credential; an open, per email (counted by the email's opens). Later ones only count."""
    capped = [e for e in events if RULES[e.type].cap]
    if not capped:
        return events
    seen = Counter({("email", row_id): row.open_count for row_id, row in emails.items()})
    others = [e for e in capped if not RULES[e.type].opens_email]
    if others:
        seen.update({("credential", key, kind): n for key, kind, n in connection.execute(
            ROWS_SO_FAR, {"ids": sorted({e.credential_id for e in others}),
                          "types": sorted({e.type for e in others})})})
    kept = []
    for event in events:
        if RULES[event.type].cap:
            seen[_scope(event)] += 1
            if seen[_scope(event)] > RULES[event.type].cap:
                continue
        kept.append(event)
    return kept


def _scope(event):
    """What an event's cap counts within: an open's email, or else its credential."""
    if RULES[event.type].opens_email:
        return "email", event.email_message_id
    return "credential", event.credential_id, event.type


def _count_opens(connection, opens, emails):
    """One more open of each event's email, its first open's time kept on it; return the
    credentials whose email was opened for the first time."""
    if not opens:
        return set()
    counts = {}
    for event in opens:
        n, first = counts.get(event.email_message_id, (0, event.at))
        counts[event.email_message_id] = (n + 1, min(first, event.at))
    connection.execute(COUNT_OPENS, [{"opened_id": row_id, "opens": n, "first": first}
                                     for row_id, (n, first) in counts.items()])
    return {row.credential_id for row in emails.values() if row.opened_at is None}


class _Owners:
    """The organization and group of credentials, read once if anything needs them."""

    def __init__(self, connection):
        self.connection, self.found = connection, {}

    def groups(self, credential_ids):
        """{credential id: (org id, group id)}."""
        missing = set(credential_ids) - self.found.keys()
        if missing:
            self.found.update({row.id: (row.org_id, row.group_id) for row in
                               self.connection.execute(OWNERS, {"ids": sorted(missing)})})
        return self.found

    def orgs(self, credential_ids):
        """{credential id: org id}."""
        return {key: org_id for key, (org_id, _) in self.groups(credential_ids).items()}
