"""The outbound queue: claim due messages, send them over one SMTP connection, record.

Rules (DESIGN.md, "The mail queue"): claims are atomic, a claim is a lease that expires,
no database transaction is open during an SMTP conversation, and each outcome is
committed before the next message is handed over, so a worker that dies can send at most
the one message in flight twice, with the same Message-ID.
"""

import functools
import smtplib
from collections import Counter
from datetime import timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from flask_mail import Connection

from mailer.compose import compose
from mailer.replies import Outcome, classify
from mailer.verp import envelope_sender
from models import (
    Credential,
    EmailEvent,
    EmailMessage,
    Suppression,
    db,
    immediate_connection,
    lease_owner,
    write_transaction,
)
from models.status_count import sync_statuses
from models.types import utcnow

messages = EmailMessage.__table__


def claim_messages(batch_size, owner, now=None):
    """Lease up to batch_size due messages to owner; return their row ids (oldest due
    first)."""
    now = now or utcnow()
    due = sa.or_(
        sa.and_(messages.c.state.in_(("queued", "retry")), messages.c.next_attempt_at <= now),
        sa.and_(messages.c.state == "sending", messages.c.lease_until < now),  # expired lease
    )
    # FOR UPDATE SKIP LOCKED lets PostgreSQL workers pass each other's rows; SQLite has no
    # row locks and drops the clause: there the immediate transaction makes it atomic.
    oldest_due = (sa.select(messages.c.id).where(due)
                  .order_by(messages.c.next_attempt_at, messages.c.id)
                  .limit(batch_size).with_for_update(skip_locked=True))
    lease = now + timedelta(seconds=current_app.config["LEASE_SECONDS"])
    statement = (sa.update(messages).where(messages.c.id.in_(oldest_due))
                 .values(state="sending", lease_until=lease, lease_owner=owner)
                 .returning(messages.c.id))
    with write_transaction() as connection:
        return sorted(connection.execute(statement).scalars())


def send_due(batch_size=None, owner=None):
    """Claim one batch, send it over one SMTP connection, record each outcome; return counts."""
    owner = owner or lease_owner()
    ids = claim_messages(batch_size or current_app.config["BATCH_SIZE"], owner)
    counts = Counter(claimed=len(ids))
    if not ids:
        return counts
    batch = []
    for message in db.session.scalars(
        sa.select(EmailMessage).where(EmailMessage.id.in_(ids)).order_by(EmailMessage.id)
        .options(sa.orm.joinedload(EmailMessage.credential).joinedload(Credential.group),
                 sa.orm.joinedload(EmailMessage.credential).joinedload(Credential.org))
    ):
        try:
            mail = compose(message)
        except Exception as error:  # a broken template must not stop the batch
            current_app.logger.exception("could not compose message %s", message.id)
            mail = Outcome("retry", str(error), "compose_failed")
        batch.append((message.id, message.to_address, mail))
    db.session.rollback()  # end the read transaction before talking SMTP
    with immediate_connection() as connection:  # one per batch, a transaction per outcome
        for row_id, outcome in _send(batch):
            counts[record(row_id, outcome, owner, connection)] += 1
    return counts


def _send(batch):
    """Yield (message row id, Outcome) for each message, reusing one SMTP connection."""
    connection = None
    for index, (row_id, to_address, mail) in enumerate(batch):
        if isinstance(mail, Outcome):
            yield row_id, mail
            continue
        if connection is None:
            try:
                connection = _connect()
            except (OSError, smtplib.SMTPException) as error:
                outcome = _failure(error, "connect")
                for rest_id, _, _ in batch[index:]:  # the server is unreachable for all
                    yield rest_id, outcome
                return
        outcome = _deliver(connection.host, mail, to_address, envelope_sender(row_id))
        if outcome.connection_lost:
            _close(connection)
            connection = None  # reconnect for the next message
        yield row_id, outcome
    if connection is not None:
        _close(connection)


class TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout, so a silent server cannot stall us."""

    def configure_host(self):
        timeout = current_app.config["SMTP_TIMEOUT_SECONDS"]
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def _connect():
    connection = TimedConnection(current_app.extensions["mail"])
    connection.__enter__()
    connection.host.ehlo_or_helo_if_needed()
    return connection


def _close(connection):
    try:
        connection.host.quit()
    except (OSError, smtplib.SMTPException):
        connection.host.close()


def _failure(error, stage):
    """The Outcome of an exception raised while talking to the server."""
    if isinstance(error, smtplib.SMTPResponseException):
        return classify(error.smtp_code, error.smtp_error, stage)
    return classify(None, f"connection lost: {error or type(error).__name__}", stage)


def _envelope_address(address):
    """The address for RCPT TO: an international domain in its ASCII (IDNA) form."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _deliver(host, mail, recipient, sender):
    """MAIL, RCPT and DATA for one message; the Outcome of the step that decided it."""
    if mail.has_bad_headers():
        return Outcome("bounce", "not sent", "bad_header")
    stage = "sender"
    try:
        recipient = _envelope_address(recipient)
        options = []
        if not recipient.isascii():
            if not host.has_extn("smtputf8"):
                return Outcome("bounce", "not sent: the server does not offer SMTPUTF8",
                               "no_smtputf8")
            options = ["SMTPUTF8"]
        # The envelope sender is where bounce reports go (mailer.verp).
        code, text = host.mail(_envelope_address(sender), options)
        if code == 250:
            stage = "rcpt"
            code, text = host.rcpt(recipient)
        if code in (250, 251):
            stage = "data"
            code, text = host.data(mail.as_bytes())
        if not 200 <= code < 300:
            host.rset()
        return classify(code, text, stage)
    except (OSError, smtplib.SMTPException) as error:
        return _failure(error, stage)
    except Exception as error:  # one odd message must not stop the batch
        current_app.logger.exception("could not send %s", mail.msgId)
        try:
            host.rset()
        except (OSError, smtplib.SMTPException):
            pass  # the next message will find the connection gone and reconnect
        return Outcome("retry", f"not sent: {error}", "send_failed")


def retry_delay(attempts, outcome):
    """Seconds before the next try: the server's hint, else RETRY_BASE_SECONDS doubling."""
    if outcome.retry_after:
        return min(outcome.retry_after, 24 * 3600)
    return current_app.config["RETRY_BASE_SECONDS"] * 2 ** (attempts - 1)


def _outcome_values(outcome, attempts, now):
    """The message's new columns and its timeline event (type, code, data) for one
    outcome."""
    values = {"attempts": attempts, "last_reply": outcome.reply[:2000], "lease_until": None,
              "lease_owner": None}
    reply = {"reply": outcome.reply}
    if outcome.action == "sent":
        return {**values, "state": "sent", "sent_at": now}, ("sent", None, reply)
    if outcome.action == "bounce" or attempts >= current_app.config["MAX_ATTEMPTS"]:
        hard = outcome.action == "bounce"
        return ({**values, "state": "bounced", "bounce_kind": "hard" if hard else "soft",
                 "bounce_code": outcome.code},
                ("bounced", outcome.code, reply if hard else {**reply, "gave_up_after": attempts}))
    next_try = now + timedelta(seconds=retry_delay(attempts, outcome))
    return ({**values, "state": "retry", "next_attempt_at": next_try},
            ("deferred", outcome.code, {**reply, "next_try": f"{next_try:%Y-%m-%d %H:%M:%S}"}))


HELD = (sa.select(messages.c.id, messages.c.credential_id, messages.c.org_id,
                  messages.c.to_address, messages.c.attempts)
        .where(messages.c.id == sa.bindparam("row_id"), messages.c.state == "sending",
               messages.c.lease_owner == sa.bindparam("owner")).with_for_update())
EVENT = sa.insert(EmailEvent.__table__)
# Hard bounces that say nothing about the address: it is not suppressed for them.
NOT_THE_ADDRESS = {"bad_header"}


@functools.cache
def _update(columns):
    """UPDATE of these columns of one message, built once per set of columns."""
    return (sa.update(messages).where(messages.c.id == sa.bindparam("row_id"))
            .values({column: sa.bindparam(f"new_{column}") for column in columns}))


def record(row_id, outcome, owner, connection=None):
    """Commit one outcome in its own short transaction, unless our lease was lost."""
    if connection is None:
        with immediate_connection() as connection:
            return record(row_id, outcome, owner, connection)
    with connection.begin():
        held = connection.execute(HELD, {"row_id": row_id, "owner": owner}).first()
        if held is None:
            return "lease_lost"
        return apply_outcome(connection, held, outcome, held.attempts + 1)


def apply_outcome(connection, message, outcome, attempts, late=None):
    """Write an outcome in the caller's transaction: the message's columns, its timeline
    event and the derived status; an address refused for good is suppressed. message: a
    row with id, credential_id, org_id and to_address. late: the data of the report that
    brought it after the server had accepted the message (its source and time). Returns
    the message's new state."""
    writes = outcome_writes(message, outcome, attempts, utcnow(), late)
    write_outcomes(connection, [writes])
    return writes.state


class OutcomeWrites(NamedTuple):
    """What one outcome writes: the message's new columns, its event, maybe a suppression."""

    message: object
    state: str
    columns: dict
    event: dict
    suppress: bool


def outcome_writes(message, outcome, attempts, now, late=None):
    """The writes of one outcome, not yet made (write_outcomes makes many at once)."""
    values, (kind, code, data) = _outcome_values(outcome, attempts, now)
    event = {"credential_id": message.credential_id, "type": kind, "code": code,
             "data": {**data, **(late or {})}, "email_message_id": message.id, "at": now}
    suppress = values.get("bounce_kind") == "hard" and code not in NOT_THE_ADDRESS
    return OutcomeWrites(message, values["state"], values, event, suppress)


def write_outcomes(connection, writes, events=True):
    """Make the writes of outcomes in the caller's transaction, a statement for all of a
    kind: the messages' columns, their events (unless the caller inserts them, in an order
    of its own), suppressed addresses, the statuses."""
    if not writes:
        return
    by_columns = {}
    for write in writes:
        by_columns.setdefault(tuple(sorted(write.columns)), []).append(
            {"row_id": write.message.id, **{f"new_{k}": v for k, v in write.columns.items()}})
    for columns, params in by_columns.items():
        connection.execute(_update(columns), params)
    if events:
        connection.execute(EVENT, [write.event for write in writes])
    Suppression.add_bounced(connection, {write.message.id for write in writes if write.suppress})
    # sending → retry is Sending either way: no status to derive again.
    settled = {write.message.credential_id for write in writes if write.state != "retry"}
    if settled:
        sync_statuses(connection, settled)
