"""The reputation guard (DESIGN.md, "Deliverability"): an organization whose recent emails
bounced for good or were reported as spam too often stops sending by itself, while the
others send on, until an owner resumes.

It is judged when a bounce or a complaint is recorded (timeline.record, in that
transaction), the only events that raise the shares: among the organization's last
REPUTATION_WINDOW emails to recipients handed to the mail server since its last resume
(guard_since) and answered (sent, or bounced at once or later), more than
REPUTATION_BOUNCE_RATE bounced for good, or more than REPUTATION_COMPLAINT_RATE were reported
as spam. From then on the claim leases none of its mail (EmailMessage.due), and what this
process's connections hold already goes back unsent (PauseWatch). Mail to the organization's
own people (an invitation, a password reset, a test) is neither judged nor held.
"""

import threading
import time

import sqlalchemy as sa
from flask import current_app

from models import EmailEvent, EmailMessage, Organization, db
from models.states import BounceKind, EventType, MessageState
from models.types import iso, utcnow

MESSAGES, EVENTS, ORGS = EmailMessage.__table__, EmailEvent.__table__, Organization.__table__
# How often a sending process reads which organizations are paused, for those paused by
# another process while its connections hold their mail.
READ_EVERY_SECONDS = 1.0


def judge(connection, org_ids, now=None):
    """Pause each of these organizations whose recent emails passed a threshold, in the
    caller's transaction; return the ids paused."""
    now, paused = now or utcnow(), []
    for org_id, since in connection.execute(sa.select(ORGS.c.id, ORGS.c.guard_since).where(
            ORGS.c.id.in_(org_ids), ORGS.c.paused_at.is_(None))).all():
        reason = verdict(*connection.execute(_figures(org_id, since)).one())
        if reason and connection.execute(sa.update(ORGS).where(
                ORGS.c.id == org_id, ORGS.c.paused_at.is_(None))
                .values(paused_at=now, paused_reason=reason)).rowcount:
            paused.append(org_id)
    if paused:
        watch(current_app).noted(paused)
    return paused


def verdict(judged, bounced, complained):
    """Why an organization whose last judged emails had these bounces for good and spam
    reports pauses, in plain words with the figures; None: it sends on."""
    config = current_app.config
    # With few emails one bounce is a large share (1 of 10 is 10%): no judgement before
    # REPUTATION_MIN_SAMPLE of them.
    if not judged or judged < min(config["REPUTATION_MIN_SAMPLE"], config["REPUTATION_WINDOW"]):
        return None
    reasons = []
    if bounced / judged > (rate := config["REPUTATION_BOUNCE_RATE"]):
        reasons.append(f"{bounced} of the last {judged} emails bounced for good "
                       f"({percent(bounced / judged)}, above {percent(rate)}).")
    if complained / judged > (rate := config["REPUTATION_COMPLAINT_RATE"]):
        were = "was" if complained == 1 else "were"
        reasons.append(f"{complained} of the last {judged} emails {were} reported as spam "
                       f"({percent(complained / judged)}, above {percent(rate)}).")
    return " ".join(reasons) or None


def percent(share):
    """A share in words: 0.08 as "8%", 0.105 as "10.5%"."""
    return f"{round(share * 100, 2):g}%"


def _figures(org_id, since):
    """SQL: (emails judged, bounced for good, reported as spam) of the organization's last
    REPUTATION_WINDOW emails to recipients handed over since since (None: ever) and
    answered, newest hand-over first (the (org_id, handed_at) index)."""
    handed = MESSAGES.c.handed_at.is_not(None) if since is None else MESSAGES.c.handed_at >= since
    recent = (sa.select(MESSAGES.c.id, MESSAGES.c.state, MESSAGES.c.bounce_kind)
              .where(MESSAGES.c.org_id == org_id, MESSAGES.c.credential_id.is_not(None),
                     MESSAGES.c.state.in_((MessageState.SENT, MessageState.BOUNCED)), handed)
              .order_by(MESSAGES.c.handed_at.desc(), MESSAGES.c.id.desc())
              .limit(current_app.config["REPUTATION_WINDOW"]).subquery())
    hard = sa.and_(recent.c.state == MessageState.BOUNCED,
                   recent.c.bounce_kind == BounceKind.HARD)
    # An email's complaints, found by the (email_message_id, type) index.
    complained = sa.exists().where(EVENTS.c.email_message_id == recent.c.id,
                                   EVENTS.c.type == EventType.COMPLAINED)
    return sa.select(sa.func.count(), sa.func.count(sa.case((hard, 1))),
                     sa.func.count(sa.case((complained, 1))))


def resume(org, now=None):
    """Let a paused organization send again (committed by the caller): only emails handed
    over from now on count. Returns why it was paused, or None when it was not (resuming
    twice changes nothing)."""
    if org.paused_at is None:
        return None
    reason = org.paused_reason or ""
    org.paused_at = org.paused_reason = None
    org.guard_since = now or utcnow()
    return reason


def paused_state(org):
    """The API's view of an organization's pause: {since, reason}, or None while it sends."""
    return {"since": iso(org.paused_at), "reason": org.paused_reason} if org.paused_at else None


def paused_orgs():
    """The ids of the organizations whose sending is paused."""
    return db.session.scalars(sa.select(ORGS.c.id).where(ORGS.c.paused_at.is_not(None))
                              .order_by(ORGS.c.id)).all()


def watch(app):
    """This process's PauseWatch, shared by its connections."""
    return app.extensions.setdefault("mail_pauses", PauseWatch())


class PauseWatch:
    """The organizations this process knows to be paused, and since when it knows
    (time.monotonic()): a connection gives back the mail it claimed before that, unsent."""

    def __init__(self):
        self.lock = threading.Lock()
        self.known = {}  # org id: (paused_at as read, None: paused here; when learnt)
        self.read_at = None

    def noted(self, org_ids):
        """These organizations were paused in this process (in a transaction not yet
        committed: the next read confirms it, or forgets it)."""
        learnt = time.monotonic()
        with self.lock:
            self.known.update(dict.fromkeys(org_ids, (None, learnt)))

    def since(self, moment):
        """The organizations paused since moment (time.monotonic()), as far as this process
        knows: paused here, or read from the database at most every READ_EVERY_SECONDS."""
        self._read_if_due()
        with self.lock:
            return {org_id for org_id, (_, learnt) in self.known.items() if learnt >= moment}

    def _read_if_due(self):
        started = time.monotonic()
        with self.lock:
            if self.read_at is not None and started - self.read_at < READ_EVERY_SECONDS:
                return
            self.read_at = started
        with db.engine.connect() as connection:
            paused = dict(connection.execute(sa.select(ORGS.c.id, ORGS.c.paused_at).where(
                ORGS.c.paused_at.is_not(None))).all())
        learnt = time.monotonic()
        with self.lock:
            for org_id, (_, when) in list(self.known.items()):
                if org_id not in paused and when < started:  # resumed, or never committed
                    del self.known[org_id]
            for org_id, paused_at in paused.items():
                # A pause read for the first time (or a new one): the mail claimed before
                # this read may hold some of its emails.
                if self.known.get(org_id, (None,))[0] != paused_at:
                    self.known[org_id] = (paused_at, learnt)


def guarded_orgs(ids):
    """{message id: its organization} of those of these messages that go to recipients."""
    with db.engine.connect() as connection:
        return dict(connection.execute(sa.select(MESSAGES.c.id, MESSAGES.c.org_id).where(
            MESSAGES.c.id.in_(list(ids)), MESSAGES.c.credential_id.is_not(None))).all())
