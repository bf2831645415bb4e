"""Queueing delivery emails for a set of credentials: the queue rows and their events."""

from datetime import UTC, datetime

import sqlalchemy as sa

import timeline
import work
from models import Credential, EmailMessage, Suppression
from models.email_message import new_message_id, new_token
from models.states import (
    BounceKind,
    EventType,
    MessagePurpose,
    MessageState,
    SuppressionReason,
)
from models.types import UTCDateTime

CREDENTIALS, MESSAGES = Credential.__table__, EmailMessage.__table__
SUPPRESSIONS = Suppression.__table__
SUPPRESSED = {SuppressionReason.BOUNCED: "suppressed_bounce",
              SuppressionReason.COMPLAINED: "suppressed_complaint"}
# An email of an import still issuing is due at this time, never reached, until the import
# is shown and sets its real one (importer.run): the queue's claim needs no other condition.
HELD = datetime(9999, 1, 1, tzinfo=UTC)
# A set of emails to queue: the credential (by token) and the new message's identity.
QUEUE_COLUMNS = (sa.column("line", sa.Integer), sa.column("token", sa.String),
                 sa.column("message_id", sa.String), sa.column("message_token", sa.String))


def at(moment):
    """A time as a typed SQL value (stored as naive UTC like every time column)."""
    return sa.literal(moment, UTCDateTime)


def values_cte(columns, rows, name):
    """Python rows as one SQL set (WITH name(columns) AS (VALUES …)), usable where a table
    of staged rows would be."""
    # A bare NULL would leave PostgreSQL to guess its column's type (text): type each one.
    typed = [tuple(sa.literal(None, column.type) if value is None else value
                   for column, value in zip(columns, row, strict=True)) for row in rows]
    return sa.values(*columns, name=name).data(typed).cte(name)


def new_emails(tokens):
    """A set of new emails, one for each credential token, with the Message-ID and
    tracking token each keeps through every retry."""
    rows = [(line, token, new_message_id(), new_token()) for line, token in enumerate(tokens)]
    return values_cte(QUEUE_COLUMNS, rows, "new_emails")


def queue_emails(connection, rows, user_id, now, purpose=MessagePurpose.DELIVERY):
    """Queue one message per row (the credential's token, message_id, message_token, line)
    whose credential has an address, and record its "queued" event with all it implies;
    return how many. For credentials issued before (publish, resend, reminders: at most a
    bulk resend's 10,000)."""
    _insert_messages(connection, rows, user_id, now, purpose)
    queued = connection.execute(
        sa.select(MESSAGES.c.id, MESSAGES.c.credential_id)
        .join_from(rows, MESSAGES, MESSAGES.c.message_id == rows.c.message_id)
        .order_by(rows.c.line)).all()
    timeline.record(connection, [timeline.Event(EventType.QUEUED, row.credential_id, now,
                                                row.id, user_id=user_id) for row in queued])
    _bounce_suppressed(connection, rows, now)
    return len(queued)


def queue_issued(connection, rows, user_id, now, held=False):
    """queue_emails for credentials issued in this transaction, however many (an import's
    100,000), set-based: each was written with the status its queued email gives it.
    held: for an import still issuing, the emails wait (HELD) and one to a suppressed
    address is only marked bounced, its event recorded when the import is shown."""
    _insert_messages(connection, rows, user_id, now, due=HELD if held else now)
    queued = sa.select(MESSAGES.c.id).join_from(
        rows, MESSAGES, MESSAGES.c.message_id == rows.c.message_id)
    count = timeline.record_issued(connection, EventType.QUEUED, queued, now, user_id)
    _bounce_suppressed(connection, rows, now, record=not held)
    return count


def _insert_messages(connection, rows, user_id, now, purpose=MessagePurpose.DELIVERY,
                     due=None):
    """The queue rows of the rows' emails, to credentials that have an address."""
    connection.execute(sa.insert(MESSAGES).from_select(
        ["org_id", "credential_id", "requested_by_id", "to_address", "state", "attempts",
         "next_attempt_at", "message_id", "token", "created_at", "open_count", "purpose"],
        sa.select(CREDENTIALS.c.org_id, CREDENTIALS.c.id, sa.literal(user_id, sa.Integer),
                  CREDENTIALS.c.recipient_email, sa.literal(str(MessageState.QUEUED)),
                  sa.literal(0), at(due or now),
                  rows.c.message_id, rows.c.message_token, at(now), sa.literal(0),
                  sa.literal(str(purpose)))
        .join_from(rows, CREDENTIALS, CREDENTIALS.c.token == rows.c.token)
        .where(CREDENTIALS.c.recipient_email.is_not(None)).order_by(rows.c.line)))


def _bounce_suppressed(connection, rows, now, record=True):
    """New emails to addresses their organization no longer mails (models.Suppression)
    bounce at once, saying why, without reaching the mail server (record: their events
    now, else by the caller with record_bounces)."""
    if not connection.execute(sa.select(sa.exists().select_from(SUPPRESSIONS))).scalar():
        return  # the common case: one cheap look, nothing more
    suppressed = connection.execute(
        sa.select(MESSAGES.c.id, MESSAGES.c.credential_id, SUPPRESSIONS.c.reason)
        .join_from(rows, MESSAGES, MESSAGES.c.message_id == rows.c.message_id)
        .join(SUPPRESSIONS, sa.and_(SUPPRESSIONS.c.org_id == MESSAGES.c.org_id,
                                    SUPPRESSIONS.c.address == sa.func.lower(MESSAGES.c.to_address)))
    ).all()
    if not suppressed:
        return
    connection.execute(
        sa.update(MESSAGES).where(MESSAGES.c.id == sa.bindparam("row_id"))
        .values(state=MessageState.BOUNCED, bounce_kind=BounceKind.HARD,
                bounce_code=sa.bindparam("code")),
        [{"row_id": row.id, "code": SUPPRESSED[row.reason]} for row in suppressed])
    if record:
        record_bounces(connection, [(row.id, row.credential_id, SUPPRESSED[row.reason])
                                    for row in suppressed], now)


def record_bounces(connection, bounced, now):
    """The events of emails bounced as suppressed: (message id, credential id, code)."""
    timeline.record(connection, [timeline.Event(EventType.BOUNCED, credential_id, now,
                                                message_id, code)
                                 for message_id, credential_id, code in bounced])


def queue_system_email(connection, org_id, user_id, address, purpose, now):
    """Queue an email of no credential (a test of the organization's email to the issuer
    who asked, an invitation, a password reset): it counts nowhere (timeline.record keeps
    nothing of it); return its row id."""
    message_id = connection.execute(sa.insert(MESSAGES).values(
        org_id=org_id, credential_id=None, requested_by_id=user_id, to_address=address,
        state=MessageState.QUEUED, attempts=0, next_attempt_at=now,
        message_id=new_message_id(), token=new_token(), created_at=now, open_count=0,
        purpose=purpose).returning(MESSAGES.c.id)).scalar_one()
    work.note(work.MAIL)
    return message_id
