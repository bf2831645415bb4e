"""What one outcome writes: the message's new columns, and the event it records (timeline),
whether the outcome is the mail server's answer (mailer.commit) or a report that came
back later (bounces.apply)."""

import functools
from datetime import timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app

import timeline
from models import EmailMessage
from models.lease import RELEASED, retry_delay
from models.states import BounceKind, EventType, MessageState
from models.types import utcnow

messages = EmailMessage.__table__
# When a throttled message is due again, unless the server said when.
THROTTLED_RETRY_SECONDS = 10
LONGEST_RETRY = timedelta(hours=24)


def outcome_values(outcome, attempts, now, queued_at=None):
    """The message's new columns and its timeline event (type, code, data) for one
    outcome; queued_at: when the message was queued, for one never handed over."""
    values = {"attempts": attempts, "last_reply": outcome.reply[:2000], **RELEASED}
    reply = {"reply": outcome.reply}
    config = current_app.config
    if not outcome.attempted and queued_at and now - queued_at >= config["MAX_QUEUE_AGE"]:
        # Never handed over for as long as mail may wait (MTAs wait as long): given up.
        return ({**values, "state": MessageState.BOUNCED, "bounce_kind": BounceKind.SOFT,
                 "bounce_code": "queue_expired"},
                (EventType.BOUNCED, "queue_expired",
                 {**reply, "waited_days": config["MAX_QUEUE_AGE"].days}))
    if outcome.throttled:  # our pace, not the message: back in the queue after a pause
        next_try = now + timedelta(seconds=outcome.retry_after or THROTTLED_RETRY_SECONDS)
        return ({**values, "state": MessageState.RETRY, "next_attempt_at": next_try},
                (EventType.DEFERRED, outcome.code, reply))
    if outcome.action == "sent":
        return ({**values, "state": MessageState.SENT, "sent_at": now},
                (EventType.SENT, None, reply))
    if outcome.action == "bounce" or attempts >= config["MAX_ATTEMPTS"]:
        hard = outcome.action == "bounce"
        return ({**values, "state": MessageState.BOUNCED,
                 "bounce_kind": BounceKind.HARD if hard else BounceKind.SOFT,
                 "bounce_code": outcome.code},
                (EventType.BOUNCED, outcome.code,
                 reply if hard else {**reply, "gave_up_after": attempts}))
    # Waiting for the server to come back (nothing handed over) takes the first try's pause.
    next_try = now + retry_delay(max(attempts, 1), config["RETRY_BASE_SECONDS"],
                                 LONGEST_RETRY, outcome.retry_after)
    return ({**values, "state": MessageState.RETRY, "next_attempt_at": next_try},
            (EventType.DEFERRED, outcome.code,
             {**reply, "next_try": f"{next_try:%Y-%m-%d %H:%M:%S}"}))


class OutcomeWrites(NamedTuple):
    """What one outcome writes: the message's new columns and its event."""

    message: object  # a row with id and credential_id
    state: MessageState
    columns: dict
    event: timeline.Event


def outcome_writes(message, outcome, attempts, now, late=None, queued_at=None):
    """The writes of one outcome, not yet made; late: the data of the report that brought
    it after the server had accepted the message (its source and time)."""
    columns, (kind, code, data) = outcome_values(outcome, attempts, now, queued_at)
    event = timeline.Event(kind, message.credential_id, now, message.id, code,
                           {**data, **(late or {})})
    return OutcomeWrites(message, columns["state"], columns, event)


def write_columns(connection, writes):
    """Write the messages' new columns, a statement for all messages with the same ones."""
    by_columns = {}
    for write in writes:
        by_columns.setdefault(tuple(sorted(write.columns)), []).append(
            {"row_id": write.message.id, **{f"new_{k}": v for k, v in write.columns.items()}})
    for names, params in by_columns.items():
        connection.execute(_update(names), params)


@functools.cache
def _update(columns):
    """UPDATE of these columns of one message, built once per set of columns."""
    return (sa.update(messages).where(messages.c.id == sa.bindparam("row_id"))
            .values({column: sa.bindparam(f"new_{column}") for column in columns}))


def apply_outcome(connection, message, outcome, attempts, late=None, queued_at=None):
    """Write an outcome in the caller's transaction: the message's columns and its event
    with all it implies. message: a row with id and credential_id. Returns the message's
    new state."""
    writes = outcome_writes(message, outcome, attempts, utcnow(), late, queued_at)
    write_columns(connection, [writes])
    timeline.record(connection, [writes.event])
    return writes.state
