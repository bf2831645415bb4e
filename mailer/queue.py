"""The outbound queue: connections that each claim a few due messages, send, record.

Rules (DESIGN.md, "The mail queue" and "Sending at production speed"): claims are atomic,
a claim is a lease that its connection renews while it works through it, no database
transaction is open during an SMTP conversation, and each outcome is committed before
that connection hands over its next message. A worker that dies can therefore send at
most the messages in flight (one per connection) twice, each with its own Message-ID, and
its other claims go to the other workers once LEASE_SECONDS have passed.
"""

import functools
import logging
import smtplib
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from flask_mail import Connection

from mailer import pace, quota
from mailer.compose import compose
from mailer.replies import Outcome, classify
from mailer.verp import envelope_sender
from models import (
    Credential,
    EmailEvent,
    EmailMessage,
    Suppression,
    db,
    funnel_count,
    immediate_connection,
    lease_owner,
    write_transaction,
)
from models.status_count import sync_statuses
from models.types import UTCDateTime, utcnow
from outbound import events as outbound_events

messages = EmailMessage.__table__
log = logging.getLogger("mailer")
# Set when the process is asked to stop: connections give back what they have not sent.
stop_sending = threading.Event()
# A rate limit that would keep a connection waiting longer than this ends its run: its
# claims go back to the queue rather than being held (a daily limit can wait for hours).
LONGEST_RATE_WAIT = 30.0


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
            "lease_until": _lease_end(now), "owner": owner, "batch_size": batch_size,
            "limit": current_app.config["ORG_DAILY_LIMIT"]}).all()
    return sorted(id_ for id_, state in rows if state == "sending"), sum(
        state != "sending" for _, state in rows)


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
    return (sa.update(messages).where(messages.c.id == decided.c.id).values(
        state=sa.case((claimed, "sending"), (messages.c.attempts == 0, "queued"),
                      else_="retry"),
        lease_until=sa.case((claimed, sa.bindparam("lease_until", type_=UTCDateTime()))),
        lease_owner=sa.case((claimed, sa.bindparam("owner"))),
        handed_at=sa.case((claimed, now), else_=messages.c.handed_at),
        next_attempt_at=sa.case((claimed, messages.c.next_attempt_at),
                                else_=decided.c.wait_until),
    ).returning(messages.c.id, messages.c.state))


def _lease_end(now):
    return now + timedelta(seconds=current_app.config["LEASE_SECONDS"])


def send_due(batch_size=None, owner=None):
    """Send what is due now over up to SMTP_CONCURRENCY connections, each claiming
    batch_size messages (BATCH_SIZE) at a time; return the counts. A message that falls due
    meanwhile (a retry) waits for the next call."""
    app = current_app._get_current_object()
    counts = Sending(app, batch_size or app.config["BATCH_SIZE"], owner or lease_owner()).run()
    db.session.rollback()  # the caller's session sees what the connections wrote
    return counts


def process_pace(app):
    """This process's Pace, shared by all its connections."""
    return app.extensions.setdefault("mail_pace", pace.Pace())


class Sending:
    """One send_due call: a connection opens only when the one before it claimed a full
    batch, so a few messages take one connection and a large queue takes them all."""

    def __init__(self, app, batch_size, owner):
        self.app, self.batch_size, self.owner = app, batch_size, owner
        self.due_by = utcnow()
        self.pace = process_pace(app)
        self.windows = app.config["MAIL_RATE_WINDOWS"]
        self.counts = Counter(claimed=0)
        self.recorder = Recorder(owner)
        self.threads = []
        self.lock = threading.Lock()
        self.stop = False  # a rate limit far ahead: no connection claims more

    def run(self):
        self._open_connection()
        joined = 0
        while True:
            with self.lock:
                if joined == len(self.threads):
                    return self.counts
                thread = self.threads[joined]
            thread.join()
            joined += 1

    def _open_connection(self):
        with self.lock:
            if len(self.threads) >= self.app.config["SMTP_CONCURRENCY"]:
                return
            thread = threading.Thread(target=self._connection, name="smtp", daemon=True)
            self.threads.append(thread)
        thread.start()

    def _connection(self):
        """Claim, send and record batch after batch until nothing more is due."""
        smtp = SmtpLink()
        with self.app.app_context():
            try:
                while not (self.stop or stop_sending.is_set()):
                    ids, held = claim(self.batch_size, self.owner, due_by=self.due_by)
                    self._count(claimed=len(ids))
                    if len(ids) == self.batch_size:
                        self._open_connection()
                    if ids:
                        self._send_batch(ids, smtp)
                    if len(ids) + held < self.batch_size:  # nothing more due, or not ours
                        return
            except Exception:  # the database went away: the leases expire, others resend
                log.exception("mail connection stopped")
            finally:
                smtp.close()
                db.session.remove()

    def _count(self, **counts):
        with self.lock:
            self.counts.update(counts)

    def _send_batch(self, ids, smtp):
        lease = Lease(ids, self.owner)
        batch = _compose_all(ids)
        with immediate_connection() as connection:  # a transaction per outcome
            for row_id, to_address, mail in batch:
                slot = None
                if isinstance(mail, Outcome) or smtp.unreachable:
                    outcome = smtp.unreachable or mail
                else:
                    slot = self._wait_for_turn(lease)
                    if slot is False or stop_sending.is_set():
                        lease.give_back()
                        return
                    outcome = smtp.hand_over(row_id, to_address, mail)
                state = self.recorder.record(connection, row_id, outcome, slot)
                lease.done(row_id)
                self._count(**{state: 1})
                self._after(outcome, state, mail)

    def _wait_for_turn(self, lease):
        """Wait for this process's pace and the rate limit, renewing the lease meanwhile;
        return the rate-limit slot taken (None without a limit), or False to stop."""
        _sleep(self.pace.next_turn(), lease)
        if not self.windows:
            return None
        while True:
            slot, wait = pace.take_slot(self.windows)
            if slot is not None:
                return slot
            if wait > LONGEST_RATE_WAIT or stop_sending.is_set():
                self.stop = True
                return False
            _sleep(wait, lease)

    def _after(self, outcome, state, mail):
        """Slow down after a throttling reply; log one line per outcome."""
        if outcome.throttled:
            self.pace.throttled(outcome.retry_after)
        elif outcome.action == "sent":
            self.pace.accepted()
        code = outcome.reply[:3] if outcome.reply[:3].isdigit() else "-"
        log.info("mail outcome=%s message_id=%s reply_code=%s reason=%s", state,
                 getattr(mail, "msgId", "-"), code, outcome.code or "-")


def _sleep(seconds, lease):
    """Sleep, renewing the lease when it is a third gone; wake when the process stops."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if stop_sending.wait(min(left, lease.renew_every)):
            return
        lease.renew_if_due()


class Lease:
    """The claimed messages a connection has not yet sent: renewed as it goes, so a worker
    that dies holds nothing for longer than LEASE_SECONDS."""

    def __init__(self, ids, owner):
        self.held, self.owner = list(ids), owner
        self.renew_every = current_app.config["LEASE_SECONDS"] / 3
        self.renewed = time.monotonic()

    def done(self, row_id):
        self.held.remove(row_id)
        self.renew_if_due()

    def renew_if_due(self):
        if self.held and time.monotonic() - self.renewed >= self.renew_every:
            self.renewed = time.monotonic()
            self._update(lease_until=_lease_end(utcnow()))

    def give_back(self):
        """Put the messages not sent back in the queue, as they were."""
        self._update(state=sa.case((messages.c.attempts == 0, "queued"), else_="retry"),
                     lease_until=None, lease_owner=None)
        self.held = []

    def _update(self, **values):
        if self.held:
            with write_transaction() as connection:
                connection.execute(sa.update(messages).values(**values).where(
                    messages.c.id.in_(self.held), messages.c.state == "sending",
                    messages.c.lease_owner == self.owner))


def _compose_all(ids):
    """[(row id, address, mail or the Outcome of a message that could not be built)]."""
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
    return batch


class SmtpLink:
    """One SMTP connection, opened at the first message and again after one was lost;
    once the server could not be reached, the rest of the run gets that outcome."""

    def __init__(self):
        self.connection = None
        self.unreachable = None  # the Outcome of a failed connect: the rest of the batch

    def hand_over(self, row_id, to_address, mail):
        if self.unreachable:
            return self.unreachable
        if self.connection is None:
            try:
                self.connection = _connect()
            except (OSError, smtplib.SMTPException) as error:
                self.unreachable = _failure(error, "connect")
                return self.unreachable
        outcome = _deliver(self.connection.host, mail, to_address, envelope_sender(row_id))
        if outcome.connection_lost:
            self.close()  # reconnect for the next message
        return outcome

    def close(self):
        if self.connection is not None:
            _close(self.connection)
            self.connection = None


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
    if outcome.throttled:  # our pace, not the message: back in the queue after a pause
        next_try = now + timedelta(seconds=outcome.retry_after or THROTTLED_RETRY_SECONDS)
        return ({**values, "state": "retry", "next_attempt_at": next_try},
                ("deferred", outcome.code, reply))
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
# When a throttled message is due again, unless the server said when.
THROTTLED_RETRY_SECONDS = 10
# Hard bounces that say nothing about the address: it is not suppressed for them.
NOT_THE_ADDRESS = {"bad_header"}


@functools.cache
def _update(columns):
    """UPDATE of these columns of one message, built once per set of columns."""
    return (sa.update(messages).where(messages.c.id == sa.bindparam("row_id"))
            .values({column: sa.bindparam(f"new_{column}") for column in columns}))


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
    # A throttling reply is about our pace, not the message: it uses up no attempt.
    attempts = held.attempts + (0 if outcome.throttled else 1)
    return apply_outcome(connection, held, outcome, attempts)


def _record_sent(connection, sent, owner):
    """The common outcome, which decides nothing from the rows: one statement checks the
    leases and writes the columns of all ({row id: Outcome}), then one writes their events
    and one or two their statuses. Returns {row id: state}."""
    now = utcnow()
    columns, _ = _outcome_values(next(iter(sent.values())), None, now)
    del columns["attempts"], columns["last_reply"]  # counted in SQL; the server's own words
    params = {"owner": owner, **{f"new_{k}": v for k, v in columns.items()}}
    for n, (row_id, outcome) in enumerate(sent.items()):
        params |= {f"id_{n}": row_id, f"reply_{n}": outcome.reply[:2000]}
    held = connection.execute(_update_held(tuple(sorted(columns)), len(sent)), params).all()
    writes = [outcome_writes(row, sent[row.id], row.attempts, now) for row in held]
    write_outcomes(connection, writes, columns=False)
    return {row_id: "lease_lost" for row_id in sent} | {w.message.id: w.state for w in writes}


class Recorder:
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
    """One outcome handed to the Recorder, and what became of it."""

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
            .where(messages.c.id.in_(ids), messages.c.state == "sending",
                   messages.c.lease_owner == sa.bindparam("owner"))
            .values({**{column: sa.bindparam(f"new_{column}") for column in columns},
                     "attempts": messages.c.attempts + 1, "last_reply": reply})
            .returning(messages.c.id, messages.c.credential_id, messages.c.org_id,
                       messages.c.to_address, messages.c.attempts))


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


def write_outcomes(connection, writes, events=True, columns=True):
    """Make the writes of outcomes in the caller's transaction, a statement for all of a
    kind: the messages' columns (unless written already), their events (unless the caller
    inserts them, in an order of its own), suppressed addresses, the statuses."""
    if not writes:
        return
    by_columns = {}
    for write in writes if columns else ():
        by_columns.setdefault(tuple(sorted(write.columns)), []).append(
            {"row_id": write.message.id, **{f"new_{k}": v for k, v in write.columns.items()}})
    for names, params in by_columns.items():
        connection.execute(_update(names), params)
    if events:
        events = [write.event for write in writes]
        # One row as a plain INSERT: psycopg's executemany costs a pipeline round for it.
        connection.execute(EVENT, events[0] if len(events) == 1 else events)
        outbound_events.emit(connection, events)
    Suppression.add_bounced(connection, {write.message.id for write in writes if write.suppress})
    funnel_count.stamp(connection, "sent", {write.message.credential_id for write in writes
                                            if write.state == "sent"}, writes[0].event["at"])
    # sending → retry is Sending either way: no status to derive again.
    settled = {write.message.credential_id for write in writes if write.state != "retry"}
    if settled:
        sync_statuses(connection, settled)
