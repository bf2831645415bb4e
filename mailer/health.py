"""How mail is going, read from the database: the queue, the mail server, stalls, counters.

Every number comes from the tables, so each web process reports what every worker did. The
one thing kept in memory is the mail server probe, cached for a few seconds per process.
"""

import smtplib
import threading
import time
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app

from models import Credential, EmailEvent, EmailMessage, db
from models.states import IN_FLIGHT, EventType, MessageState
from models.types import utcnow

MESSAGES, EVENTS, CREDENTIALS = EmailMessage.__table__, EmailEvent.__table__, Credential.__table__
STALL_SECONDS = 300
PROBE_TIMEOUT_SECONDS = 3
# The event counters of /metrics, and the events that carry our mail server's reply.
COUNTED = SERVER_REPLIES = (EventType.SENT, EventType.BOUNCED, EventType.DEFERRED)


class Due(NamedTuple):
    """Messages due now: how many, since when the oldest is due, and for how long."""

    count: int
    oldest_at: datetime | None
    oldest_seconds: int | None


class LastReply(NamedTuple):
    at: datetime
    text: str


class Retrying(NamedTuple):
    """Messages waiting for their next try (a temporary failure): how many, the next try."""

    count: int
    next_at: datetime | None


class QueueSummary(NamedTuple):
    due: Due
    sending: int
    retrying: Retrying
    sent_last_hour: int
    bounced_last_hour: int
    last_reply: LastReply | None


class Stall(NamedTuple):
    """Mail waits and the server takes nothing: how many, since when the oldest was queued,
    for how many seconds the server has taken nothing."""

    waiting: int
    since: datetime
    quiet_seconds: int


def _of_messages(query, org_id):
    return query if org_id is None else query.where(MESSAGES.c.org_id == org_id)


def _of_events(query, org_id):
    if org_id is None:
        return query
    return (query.join(CREDENTIALS, CREDENTIALS.c.id == EVENTS.c.credential_id)
            .where(CREDENTIALS.c.org_id == org_id))


def due_now(org_id=None, now=None):
    """Messages the queue may claim now (expired leases too), of one organization or all."""
    now = now or utcnow()
    query = (sa.select(sa.func.count(), sa.func.min(MESSAGES.c.next_attempt_at))
             .where(EmailMessage.due(now)))
    count, oldest = db.session.execute(_of_messages(query, org_id)).one()
    seconds = None if oldest is None else max(0, int((now - oldest).total_seconds()))
    return Due(count, oldest, seconds)


def sending_now(org_id=None, now=None):
    """How many messages a worker holds under a lease that has not expired."""
    query = sa.select(sa.func.count()).where(MESSAGES.c.state == MessageState.SENDING,
                                             MESSAGES.c.lease_until >= (now or utcnow()))
    return db.session.scalar(_of_messages(query, org_id))


def last_reply(org_id=None):
    """Our mail server's newest reply to a delivery, or None."""
    newest = None
    # Reports that came back later (data["late"]) carry other servers' words: left out.
    for kind in SERVER_REPLIES:  # one index look-up per type (type, at)
        query = (sa.select(EVENTS.c.at, EVENTS.c.data["reply"].as_string())
                 .where(EVENTS.c.type == kind, EVENTS.c.data["reply"].as_string().is_not(None),
                        EVENTS.c.data["late"].as_string().is_(None))
                 .order_by(EVENTS.c.at.desc(), EVENTS.c.id.desc()).limit(1))
        found = db.session.execute(_of_events(query, org_id)).first()
        if found and (newest is None or found[0] > newest.at):
            newest = LastReply(*found)
    return newest


def retrying_later(org_id=None, now=None):
    """Messages a temporary failure put back for a later try, not due yet."""
    query = (sa.select(sa.func.count(), sa.func.min(MESSAGES.c.next_attempt_at))
             .where(MESSAGES.c.state == MessageState.RETRY,
                    MESSAGES.c.next_attempt_at > (now or utcnow())))
    return Retrying(*db.session.execute(_of_messages(query, org_id)).one())


def queue_summary(org_id=None, now=None):
    """The queue of one organization (or of the deployment) for the queue page."""
    now = now or utcnow()
    hour_ago = now - timedelta(hours=1)
    sent = sa.select(sa.func.count()).where(MESSAGES.c.sent_at >= hour_ago)
    bounced = (sa.select(sa.func.count()).select_from(EVENTS)
               .where(EVENTS.c.type == EventType.BOUNCED, EVENTS.c.at >= hour_ago))
    return QueueSummary(
        due=due_now(org_id, now),
        sending=sending_now(org_id, now),
        retrying=retrying_later(org_id, now),
        sent_last_hour=db.session.scalar(_of_messages(sent, org_id)),
        bounced_last_hour=db.session.scalar(_of_events(bounced, org_id)),
        last_reply=last_reply(org_id),
    )


def stalled(org_id, now=None):
    """A Stall when the org's mail waited STALL_SECONDS while the server accepted nothing."""
    now = now or utcnow()
    quiet_from = now - timedelta(seconds=STALL_SECONDS)
    # First the one index look-up that clears almost every call: mail is going out.
    accepted = db.session.scalar(sa.select(sa.func.max(MESSAGES.c.sent_at)))
    if accepted is not None and accepted > quiet_from:
        return None
    # Waiting: due now, or tried and waiting for its next try (while the server is down,
    # retries spend most of their time there); since when the oldest was queued.
    waiting = (sa.select(sa.func.count(), sa.func.min(MESSAGES.c.created_at))
               .where(MESSAGES.c.state.in_(IN_FLIGHT),
                      sa.or_(EmailMessage.due(now), MESSAGES.c.attempts > 0)))
    count, since = db.session.execute(_of_messages(waiting, org_id)).one()
    if not count or since > quiet_from:
        return None
    quiet_since = max(since, accepted) if accepted else since
    return Stall(count, since, int((now - quiet_since).total_seconds()))


def event_totals():
    """{type: events ever recorded} for sent, bounced and deferred, deployment-wide."""
    # Rows every process writes: the counters agree on every web process and never go back.
    query = (sa.select(EVENTS.c.type, sa.func.count()).where(EVENTS.c.type.in_(COUNTED))
             .group_by(EVENTS.c.type))
    return dict.fromkeys(COUNTED, 0) | dict(db.session.execute(query).all())


# (server, port, SSL) -> (monotonic time checked, status), kept MAIL_SERVER_CHECK_SECONDS
# (default 5; with the 3 s timeout a server that goes away shows within 10 s). Monitors and
# open queue pages ask often: the lock makes concurrent requests wait for one probe.
_probes = {}
_probe_lock = threading.Lock()


def mail_server_status():
    """"ok" when MAIL_SERVER greets us, else "unreachable"; probed every few seconds at most."""
    config = current_app.config
    target = (config["MAIL_SERVER"], config["MAIL_PORT"], bool(config["MAIL_USE_SSL"]))
    max_age = config.get("MAIL_SERVER_CHECK_SECONDS", 5)
    with _probe_lock:
        checked = _probes.get(target)
        if checked is None or time.monotonic() - checked[0] >= max_age:
            status = _probe(*target)
            checked = _probes[target] = (time.monotonic(), status)
        return checked[1]


def _probe(host, port, use_ssl):
    """Connect, read the greeting (smtplib wants 220), say QUIT."""
    smtp = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
    try:
        # A local_hostname spares the reverse DNS look-up for an EHLO we never send.
        connection = smtp(host, port, local_hostname="localhost", timeout=PROBE_TIMEOUT_SECONDS)
    except (OSError, smtplib.SMTPException):
        return "unreachable"
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()
    return "ok"
