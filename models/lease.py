"""Leases on queued work and the wait before a retry: one helper for every queue (the mail
queue, the outbound webhook messages, the spreadsheet imports).

A worker claims rows by leasing them (its name and an end time in the row), renews the
lease while it works, and writes its result only while it still holds the lease: a
worker that dies leaves rows whose lease runs out, and another claims them again.
"""

import os
import socket
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from models.types import utcnow

RELEASED = {"lease_owner": None, "lease_until": None}


def lease_owner():
    """A name for who holds a lease on queued work: host, process and a random part (pids
    are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_end(seconds=None, now=None):
    """When a lease taken now runs out: after seconds, by default LEASE_SECONDS."""
    if seconds is None:
        seconds = current_app.config["LEASE_SECONDS"]
    return (now or utcnow()) + timedelta(seconds=seconds)


def retry_delay(attempts, base_seconds, longest, hint=None):
    """The wait after the attempts-th failed try: hint (seconds the other side asked for),
    else base_seconds doubling with each try; never more than longest (a timedelta)."""
    seconds = hint if hint else base_seconds * 2 ** (attempts - 1)
    return min(timedelta(seconds=seconds), longest)


class Lease:
    """The lease columns of one queue table (lease_owner, lease_until) and the SQL that
    takes, checks, renews and gives back a lease on its rows."""

    def __init__(self, table):
        self.table = table
        self.owner, self.until = table.c.lease_owner, table.c.lease_until

    def free(self, now):
        """SQL: no worker holds the row (never leased, given back, or the lease ran out)."""
        return sa.or_(self.until.is_(None), self.until < now)

    def held_by(self, owner):
        """SQL: the row is leased to owner, and no other worker has claimed it since."""
        return self.owner == owner

    @staticmethod
    def taken(owner, until):
        """The columns of a row leased to owner until then."""
        return {"lease_owner": owner, "lease_until": until}

    def claim(self, connection, candidates, owner, until):
        """Lease the rows candidates selects (a select of ids) to owner until then; return
        the ids taken."""
        return connection.execute(
            sa.update(self.table).where(self.table.c.id.in_(candidates))
            .values(self.taken(owner, until)).returning(self.table.c.id)).scalars().all()

    def renew(self, connection, ids, owner, until, *conditions):
        """Extend owner's lease on the rows of these ids still held (and meeting the
        conditions); return how many."""
        return self.write(connection, ids, owner, *conditions, lease_until=until)

    def release(self, connection, ids, owner, *conditions, **values):
        """Give back owner's lease on the rows of these ids still held (and meeting the
        conditions), writing values with it; return how many."""
        return self.write(connection, ids, owner, *conditions, **RELEASED, **values)

    def write(self, connection, ids, owner, *conditions, **values):
        """Write values to the rows of these ids that owner still holds; return how many."""
        if not ids:
            return 0
        return connection.execute(
            sa.update(self.table).where(self.table.c.id.in_(list(ids)), self.held_by(owner),
                                        *conditions).values(values)).rowcount
