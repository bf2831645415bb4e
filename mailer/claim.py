"""Claiming due messages for one worker: a lease per message, within each organization's
daily limit and none of a paused organization's (reputation), in one statement; and
the batch a connection holds until it has sent it."""

import functools
import time

import sqlalchemy as sa
from flask import current_app

import reputation
from mailer import quota
from models import EmailMessage, write_transaction
from models.lease import Lease, lease_end
from models.states import MessageState
from models.types import UTCDateTime, utcnow

messages = EmailMessage.__table__
LEASE = Lease(messages)
# Given back unsent: as it was before the claim (never tried, or waiting for a retry).
UNSENT = sa.case((messages.c.attempts == 0, MessageState.QUEUED), else_=MessageState.RETRY)


def claim_messages(batch_size, owner, now=None, due_by=None):
    """Lease up to batch_size messages due by due_by (default now) to owner; return their
    row ids (oldest due first)."""
    return claim(batch_size, owner, now, due_by)[0]


def claim(batch_size, owner, now=None, due_by=None):
    """Lease up to batch_size due messages to owner, within each organization's daily limit
    (mailer.quota), in one statement; return (the leased row ids, oldest due first, how many
    of the oldest due were put back to wait for their organization's window). Together
    they are batch_size unless fewer were due."""
    now = now or utcnow()
    with write_transaction() as connection:
        rows = connection.execute(_claim_statement(), {
            "now": now, "due_by": due_by or now, "since": now - quota.WINDOW,
            "lease_until": lease_end(now=now), "owner": owner, "batch_size": batch_size,
            "limit": current_app.config["ORG_DAILY_LIMIT"]}).all()
    return sorted(id_ for id_, state in rows if state == MessageState.SENDING), sum(
        state != MessageState.SENDING for _, state in rows)


@functools.cache
def _claim_statement():
    """The claim's UPDATE, built once (its parameters are bound per claim)."""
    now = sa.bindparam("now", type_=UTCDateTime())
    due = EmailMessage.due(now, sa.bindparam("due_by", type_=UTCDateTime()))
    # FOR UPDATE SKIP LOCKED lets PostgreSQL workers pass each other's rows; SQLite has no
    # row locks and drops the clause: there the immediate transaction makes it atomic.
    oldest_due = (sa.select(messages.c.id).where(due)
                  .order_by(messages.c.next_attempt_at, messages.c.id)
                  .limit(sa.bindparam("batch_size")).with_for_update(skip_locked=True))
    # MATERIALIZED, here and below: SQLite would otherwise inline a CTE used more than
    # once, or run it again wherever a column of it is used (each count, many times). The
    # IN keeps SQLite's sort of the due rows to the first few; a CTE of its own would not.
    ranked = (sa.select(messages.c.id, messages.c.org_id, sa.func.row_number().over(
        partition_by=messages.c.org_id,
        order_by=(messages.c.next_attempt_at, messages.c.id)).label("rank"))
              .where(messages.c.id.in_(oldest_due))
              .cte("ranked").prefix_with("MATERIALIZED"))
    # Each organization's count is read once per claim, from an index.
    orgs = sa.select(ranked.c.org_id).distinct().subquery()
    used, oldest = quota.handed_since(orgs.c.org_id,
                                      sa.bindparam("since", type_=UTCDateTime()))
    usage = (sa.select(orgs.c.org_id, used.label("used"), oldest.label("oldest"))
             .cte("usage").prefix_with("MATERIALIZED"))
    place = usage.c.used + ranked.c.rank  # the count the message would make
    # wait_until: NULL for a message claimed now; for one past its organization's limit
    # (which this claim fills, if it was not full), when its oldest hand-over leaves the
    # window: the claims in between skip it.
    frees_at = quota.window_end(sa.func.coalesce(usage.c.oldest, now))
    decided = (sa.select(ranked.c.id, sa.case((place <= sa.bindparam("limit"), sa.null()),
                                              else_=frees_at).label("wait_until"))
               .join(usage, usage.c.org_id == ranked.c.org_id)
               .cte("decided").prefix_with("MATERIALIZED"))
    claimed = decided.c.wait_until.is_(None)
    lease = LEASE.taken(sa.bindparam("owner"), sa.bindparam("lease_until", type_=UTCDateTime()))
    return (sa.update(messages).where(messages.c.id == decided.c.id).values(
        state=sa.case((claimed, MessageState.SENDING), else_=UNSENT),
        # Leased if claimed now; no lease for a message put back to wait for its window.
        **{column: sa.case((claimed, value)) for column, value in lease.items()},
        handed_at=sa.case((claimed, now), else_=messages.c.handed_at),
        next_attempt_at=sa.case((claimed, messages.c.next_attempt_at),
                                else_=decided.c.wait_until),
    ).returning(messages.c.id, messages.c.state))


class HeldBatch:
    """The claimed messages a connection has not yet sent: their lease renewed as it goes,
    so a worker that dies holds nothing for longer than LEASE_SECONDS; claimed: when the
    claim began (time.monotonic())."""

    def __init__(self, ids, owner, claimed):
        self.held, self.owner, self.claimed = list(ids), owner, claimed
        self.renew_every = current_app.config["LEASE_SECONDS"] / 3
        self.renewed = time.monotonic()
        self.pauses, self.orgs = reputation.watch(current_app), None

    def paused(self, row_id):
        """Whether the organization of this held message was paused since the claim (which
        leased none of a paused organization's mail): it must go back unsent."""
        paused = self.pauses.since(self.claimed)
        if not paused:
            return False
        if self.orgs is None:  # read once per batch, and only then
            self.orgs = reputation.guarded_orgs(self.held)
        return self.orgs.get(row_id) in paused

    def done(self, row_id):
        self.held.remove(row_id)
        self.renew_if_due()

    def renew_if_due(self):
        if self.held and time.monotonic() - self.renewed >= self.renew_every:
            self.renewed = time.monotonic()
            with write_transaction() as connection:
                LEASE.renew(connection, self.held, self.owner, lease_end(),
                            messages.c.state == MessageState.SENDING)

    def give_back(self, ids=None):
        """Put the messages not sent (or these of them) back in the queue, as they were."""
        ids = list(self.held if ids is None else ids)
        with write_transaction() as connection:
            LEASE.release(connection, ids, self.owner,
                          messages.c.state == MessageState.SENDING, state=UNSENT)
        self.held = [row_id for row_id in self.held if row_id not in ids]
