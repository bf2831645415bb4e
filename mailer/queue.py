"""The outbound queue: connections that each claim a few due messages, send, record.

Rules (DESIGN.md, "The mail queue" and "Sending at production speed"): claims are atomic,
a claim is a lease that its connection renews while it works through it, no database
transaction is open during an SMTP conversation, and each outcome is committed before
that connection hands over its next message. A worker that dies can therefore send at
most the messages in flight (one per connection) twice, each with its own Message-ID, and
its other claims go to the other workers once LEASE_SECONDS have passed.

This module runs the connections (threads); mailer.claim leases, mailer.smtp talks to the
server, mailer.commit writes what came of each message.
"""

import logging
import threading
import time
from collections import Counter

import sqlalchemy as sa
from flask import current_app

from mailer import pace, signing
from mailer.claim import HeldBatch, claim
from mailer.commit import GroupCommit
from mailer.compose import compose
from mailer.replies import Outcome
from mailer.smtp import SmtpLink
from models import (
    Credential,
    EmailMessage,
    Organization,
    SignedMessage,
    db,
    immediate_connection,
    write_transaction,
)
from models.lease import lease_owner
from models.states import MessageState
from models.types import utcnow

log = logging.getLogger("mailer")
# Set when the process is asked to stop: connections give back what they have not sent.
stop_sending = threading.Event()
# A rate limit that would keep a connection waiting longer than this ends its run: its
# claims go back to the queue rather than being held (a daily limit can wait for hours).
LONGEST_RATE_WAIT = 30.0


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
        self.commit = GroupCommit(owner)
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
                    claimed = time.monotonic()  # the claim cannot see a pause made after this
                    ids, held = claim(self.batch_size, self.owner, due_by=self.due_by)
                    self._count(claimed=len(ids))
                    if len(ids) == self.batch_size:
                        self._open_connection()
                    if ids:
                        self._send_batch(ids, smtp, claimed)
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

    def _send_batch(self, ids, smtp, claimed):
        held = HeldBatch(ids, self.owner, claimed)
        batch = _compose_all(ids)
        with immediate_connection() as connection:  # a transaction per outcome
            for row_id, to_address, mail in batch:
                slot = None
                if isinstance(mail, Outcome) or smtp.unreachable:
                    outcome = smtp.unreachable or mail
                elif held.paused(row_id):  # by the reputation guard, since the claim
                    held.give_back([row_id])
                    self._count(paused=1)
                    continue
                else:
                    slot = self._wait_for_turn(held)
                    if slot is False or stop_sending.is_set():
                        held.give_back()
                        return
                    outcome = smtp.hand_over(row_id, to_address, mail)
                state = self.commit.record(connection, row_id, outcome, slot)
                if state == MessageState.RETRY and isinstance(mail, signing.SignedMail) \
                        and not mail.kept:
                    _keep_signed(row_id, mail)
                held.done(row_id)
                self._count(**{state: 1})
                self._after(outcome, state, mail)

    def _wait_for_turn(self, held):
        """Wait for this process's pace and the rate limit, renewing the held batch's lease
        meanwhile; return the rate-limit slot taken (None without a limit), or False to
        stop."""
        _sleep(self.pace.next_turn(), held)
        if not self.windows:
            return None
        while True:
            slot, wait = pace.take_slot(self.windows)
            if slot is not None:
                return slot
            if wait > LONGEST_RATE_WAIT or stop_sending.is_set():
                self.stop = True
                return False
            _sleep(wait, held)

    def _after(self, outcome, state, mail):
        """Slow down after a throttling reply; log one line per outcome."""
        if outcome.throttled:
            self.pace.throttled(outcome.retry_after)
        elif outcome.action == "sent":
            self.pace.accepted()
        code = outcome.reply[:3] if outcome.reply[:3].isdigit() else "-"
        log.info("mail outcome=%s message_id=%s reply_code=%s reason=%s", state,
                 getattr(mail, "msgId", "-"), code, outcome.code or "-")


def _sleep(seconds, held):
    """Sleep, renewing the held batch's lease when it is a third gone; wake when the
    process stops."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if stop_sending.wait(min(left, held.renew_every)):
            return
        held.renew_if_due()


def _compose_all(ids):
    """[(row id, address, mail or the Outcome of a message that could not be built)]: a
    message signed before is sent as it was signed (mailer.signing), the others are composed
    in the read transaction and signed after it."""
    kept = dict(db.session.execute(sa.select(SignedMessage.message_id, SignedMessage.raw)
                                   .where(SignedMessage.message_id.in_(ids))).all())
    batch, signers = [], {}
    for message in db.session.scalars(
        sa.select(EmailMessage).where(EmailMessage.id.in_(ids)).order_by(EmailMessage.id)
        .options(sa.orm.joinedload(EmailMessage.credential).joinedload(Credential.group),
                 sa.orm.joinedload(EmailMessage.credential).joinedload(Credential.org))
    ):
        if message.id in kept:
            mail = signing.SignedMail(kept[message.id], message.message_id, kept=True)
        else:
            try:
                mail = compose(message)
                signers[message.id] = signing.signer(
                    db.session.get(Organization, message.org_id), mail.sender[1])
            except Exception as error:  # a broken template must not stop the batch
                current_app.logger.exception("could not compose message %s", message.id)
                mail = Outcome("retry", str(error), "compose_failed")
        batch.append((message.id, message.to_address, mail))
    db.session.rollback()  # end the read transaction before signing and talking SMTP
    return [(row_id, to_address, signing.sign(mail, signers[row_id])
             if signers.get(row_id) else mail) for row_id, to_address, mail in batch]


def _keep_signed(row_id, mail):
    """A signed message waits for its retry: keep its bytes, so the retry sends the same."""
    with write_transaction() as connection:
        connection.execute(sa.insert(SignedMessage).values(
            message_id=row_id, raw=mail.raw, created_at=utcnow()))
