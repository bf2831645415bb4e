"""How fast mail may go: MAIL_RATE_LIMIT across every worker process (counted in the
database), and this process's pace after the mail server asked us to slow down."""

import threading
import time
from datetime import timedelta

import limits
import sqlalchemy as sa

from models import SendSlot, write_transaction
from models.types import utcnow

SLOTS = SendSlot.__table__
# Serializes the slot takers of every process on PostgreSQL (pg_advisory_xact_lock);
# SQLite's BEGIN IMMEDIATE does the same there.
SLOT_LOCK = 0x6D61696C  # "mail"
# How long an unfinished hand-over counts at most (its worker may have died mid-way).
IN_FLIGHT = timedelta(minutes=2)
# How often a connection that found the limit reached by hand-overs under way asks again.
POLL_SECONDS = 0.05


def parse_rate_limit(text):
    """[(amount, seconds)] from MAIL_RATE_LIMIT ("14 per second; 50000 per day", the
    `limits` library's syntax), shortest window first; ValueError when it cannot be read."""
    if not text or not text.strip():
        return []
    windows = sorted((item.amount, item.get_expiry()) for item in limits.parse_many(text))
    if any(amount < 1 for amount, _ in windows):
        raise ValueError("a limit must allow at least 1 message")
    return sorted(windows, key=lambda window: window[1])


def take_slot(windows):
    """Take a slot for one hand-over if every window has room: (slot id, 0); else (None,
    seconds to wait before asking again)."""
    with write_transaction() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(SLOT_LOCK)))
        now = utcnow()
        for amount, seconds in windows:
            since = now - timedelta(seconds=seconds)
            # The amount-th most recent hand-over still in the window, if there is one.
            nth = connection.scalar(sa.select(SLOTS.c.counts_at).where(SLOTS.c.counts_at > since)
                                    .order_by(SLOTS.c.counts_at.desc())
                                    .offset(amount - 1).limit(1))
            if nth is not None:
                # A finished one leaves the window at a known time; one under way soon ends.
                return None, (nth - since).total_seconds() if nth <= now else POLL_SECONDS
        longest = timedelta(seconds=windows[-1][1])
        connection.execute(sa.delete(SLOTS).where(SLOTS.c.counts_at < now - longest))
        slot = connection.scalar(sa.insert(SLOTS).values(counts_at=now + IN_FLIGHT)
                                 .returning(SLOTS.c.id))
        return slot, 0.0


def finish_slots(connection, slots):
    """The server answered: these hand-overs count from now (in the caller's transaction)."""
    if slots:
        connection.execute(sa.update(SLOTS).where(SLOTS.c.id.in_(slots))
                           .values(counts_at=utcnow()))


class Pace:
    """This process's pace. A throttling reply pauses every connection (the server's hint,
    else 1 s doubling up to a minute), then spaces hand-overs out; the gap shrinks with
    each message the server accepts, until full speed again."""

    MAX_GAP = 2.0  # seconds between two hand-overs of this process, at the slowest
    CALMING = 0.9  # the gap shrinks by this factor for each accepted message

    def __init__(self):
        self._lock = threading.Lock()
        self._pause = 0.0  # the last pause, doubled by the next throttling reply
        self._gap = 0.0
        self._resume_at = 0.0  # time.monotonic() values
        self._next_at = 0.0

    def throttled(self, retry_after=None):
        """The server said slow down."""
        with self._lock:
            self._pause = retry_after or min(60.0, max(1.0, self._pause * 2))
            self._resume_at = max(self._resume_at, time.monotonic() + self._pause)
            self._gap = min(self.MAX_GAP, max(0.1, self._gap * 2))

    def accepted(self):
        """The server took a message."""
        with self._lock:
            self._gap = self._gap * self.CALMING if self._gap > 0.01 else 0.0
            if not self._gap:
                self._pause = 0.0

    def next_turn(self):
        """Take the next turn to hand a message over; return the seconds to wait for it."""
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._resume_at, self._next_at)
            self._next_at = turn + self._gap
            return turn - now
