"""Committing outcomes: each in a short transaction of its own, or several together (group
commit), and only while the worker still holds the message's lease."""

import functools
import threading

import sqlalchemy as sa

import timeline
from mailer import pace
from mailer.claim import LEASE
from mailer.outcomes import apply_outcome, outcome_values, outcome_writes
from models import EmailMessage, immediate_connection
from models.states import MessageState
from models.types import utcnow

messages = EmailMessage.__table__
# The databases whose sent outcomes are written in one statement (timeline.record_sent):
# SQLite has RETURNING but no data-modifying WITH.
ONE_STATEMENT = {"postgresql"}
HELD = (sa.select(messages.c.id, messages.c.credential_id, messages.c.attempts,
                  messages.c.created_at)
        .where(messages.c.id == sa.bindparam("row_id"),
               messages.c.state == MessageState.SENDING, LEASE.held_by(sa.bindparam("owner")))
        .with_for_update())


def record(row_id, outcome, owner, connection=None, slot=None):
    """Commit one outcome in its own short transaction, unless our lease was lost; slot:
    the rate-limit slot its hand-over took, which now counts from the server's answer."""
    if connection is None:
        with immediate_connection() as connection:
            return record(row_id, outcome, owner, connection, slot)
    return record_all(connection, [(row_id, outcome, slot)], owner)[0]


def record_all(connection, outcomes, owner):
    """Commit outcomes [(row id, Outcome, rate-limit slot or None)] in one transaction;
    return their states, "lease_lost" where our lease was gone."""
    with connection.begin():
        pace.finish_slots(connection, [slot for *_, slot in outcomes if slot is not None])
        sent = {row_id: outcome for row_id, outcome, _ in outcomes if outcome.action == "sent"}
        states = _record_sent(connection, sent, owner) if sent else {}
        for row_id, outcome, _ in outcomes:
            if row_id not in sent:
                states[row_id] = _record_other(connection, row_id, outcome, owner)
    return [states[row_id] for row_id, *_ in outcomes]


def _record_other(connection, row_id, outcome, owner):
    held = connection.execute(HELD, {"row_id": row_id, "owner": owner}).first()
    if held is None:
        return "lease_lost"
    # Only a message handed over uses an attempt: not one throttled (our pace), nor one
    # whose connection was gone (the server's state, not the message's).
    attempts = held.attempts + (1 if outcome.attempted else 0)
    return apply_outcome(connection, held, outcome, attempts, queued_at=held.created_at)


def _record_sent(connection, sent, owner):
    """The common outcome, which decides nothing from the rows: one statement checks the
    leases and writes the columns of all ({row id: Outcome}), then the recorder their
    events and what they imply, in the same statement where the database can (ONE_STATEMENT).
    Returns {row id: state}."""
    now = utcnow()
    columns, _ = outcome_values(next(iter(sent.values())), None, now)
    del columns["attempts"], columns["last_reply"]  # counted in SQL; the server's own words
    params = {"owner": owner, **{f"new_{k}": v for k, v in columns.items()}}
    for n, (row_id, outcome) in enumerate(sent.items()):
        params |= {f"id_{n}": row_id, f"reply_{n}": outcome.reply[:2000]}
    update = _update_held(tuple(sorted(columns)), len(sent))
    if connection.dialect.name in ONE_STATEMENT:
        details = {}  # each event's code and data
        for row_id, outcome in sent.items():
            _, (_, code, data) = outcome_values(outcome, None, now)
            details[row_id] = code, data
        held = timeline.record_sent(connection, update, params, now, details)
        return {row_id: "lease_lost" for row_id in sent} | {row.id: MessageState.SENT
                                                            for row in held}
    held = connection.execute(update, params).all()
    writes = [outcome_writes(row, sent[row.id], row.attempts, now) for row in held]
    timeline.record(connection, [write.event for write in writes])
    return {row_id: "lease_lost" for row_id in sent} | {w.message.id: w.state for w in writes}


class GroupCommit:
    """Commits the outcomes of a run's connections. Each connection waits for its outcome
    to be committed before its next hand-over (the at-most-one-in-flight rule), and one
    commit carries every outcome handed in while the one before it was being written: with
    several connections, fewer transactions and statements per message (group commit)."""

    def __init__(self, owner):
        self.owner = owner
        self.lock = threading.Lock()
        self.waiting = []  # tickets handed in, not yet being written
        self.writing = False  # a connection is writing a group now

    def record(self, connection, row_id, outcome, slot):
        """Commit this outcome, maybe with others; return its state."""
        ticket = _Ticket(row_id, outcome, slot)
        with self.lock:
            self.waiting.append(ticket)
            ticket.writes = not self.writing
            self.writing = True
        if not ticket.writes:
            ticket.done.wait()  # written by another connection, or our turn to write
        if ticket.writes:
            self._write_group(connection)
        if ticket.error:
            raise ticket.error
        return ticket.state

    def _write_group(self, connection):
        """Write every waiting outcome, ours among them; hand the turn to a later one."""
        with self.lock:
            group, self.waiting = self.waiting, []
        try:
            states = record_all(connection, [(t.row_id, t.outcome, t.slot) for t in group],
                                self.owner)
        except Exception as error:  # each connection stops as it would alone
            states = [None] * len(group)
            for ticket in group:
                ticket.error = error
        with self.lock:
            following = self.waiting[0] if self.waiting else None
            if following:
                following.writes = True
            self.writing = following is not None
        for ticket, state in zip(group, states, strict=True):
            ticket.state = state
            ticket.done.set()
        if following:
            following.done.set()


class _Ticket:
    """One outcome handed to the GroupCommit, and what became of it."""

    def __init__(self, row_id, outcome, slot):
        self.row_id, self.outcome, self.slot = row_id, outcome, slot
        self.state = self.error = None
        self.writes = False
        self.done = threading.Event()


@functools.cache
def _update_held(columns, count):
    """UPDATE of these columns of count messages still leased to their owner, each with its
    server's reply and one more attempt, returning what the outcomes' other writes need;
    built once per set of columns and count."""
    ids = [sa.bindparam(f"id_{n}") for n in range(count)]
    reply = sa.case(*((messages.c.id == id_, sa.bindparam(f"reply_{n}"))
                      for n, id_ in enumerate(ids)))
    return (sa.update(messages)
            .where(messages.c.id.in_(ids), messages.c.state == MessageState.SENDING,
                   LEASE.held_by(sa.bindparam("owner")))
            .values({**{column: sa.bindparam(f"new_{column}") for column in columns},
                     "attempts": messages.c.attempts + 1, "last_reply": reply})
            .returning(messages.c.id, messages.c.credential_id, messages.c.attempts,
                       messages.c.state, messages.c.opened_at))
