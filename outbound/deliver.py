"""Delivery of the outbox by the workers: claim due messages, POST each signed with
standardwebhooks, log the answer, retry with growing delay under the same webhook-id, and
switch off an endpoint that has failed for SWITCH_OFF_AFTER."""

import http.client
import json
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from standardwebhooks import Webhook

from models import (
    Credential,
    EmailMessage,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
    db,
    write_transaction,
)
from models.lease import Lease, lease_end, lease_owner, retry_delay
from models.states import DeliveryState
from models.types import utcnow
from models.webhook import TEST_EVENT
from outbound import http as webhook_http
from outbound import urls

SWITCH_OFF_AFTER = timedelta(days=3)
LONGEST_WAIT = timedelta(hours=12)  # between two tries of one message
LONGEST_PAUSE = timedelta(hours=1)  # between two tries of a failing endpoint
ANSWER_KEPT = 1000  # characters of an answer in the delivery log
MESSAGES, ENDPOINTS = WebhookMessage.__table__, WebhookEndpoint.__table__
ATTEMPTS = WebhookAttempt.__table__
LEASE = Lease(MESSAGES)
# A failing endpoint's test event is its probe: "Send test event" shows at once whether
# the receiver is mended.
TEST_FIRST = sa.case((MESSAGES.c.type == TEST_EVENT, 0), else_=1)


def deliver_due(batch_size=20, owner=None):
    """Send the due webhook messages, WEBHOOK_CONCURRENCY at once; {delivered, retry, failed}
    (and lease_lost for a try that outlasted its lease)."""
    app = current_app._get_current_object()
    concurrency = app.config["WEBHOOK_CONCURRENCY"]
    owner = owner or lease_owner()
    counts = Counter(delivered=0, retry=0, failed=0)

    def deliver_in_app(delivery):
        with app.app_context():
            return deliver(delivery)

    # Threads: each try waits on a receiver far away; one slow receiver must not hold the
    # others' events back (they are not in order anyway: receivers use the timestamp).
    # More are claimed whenever a thread is free, not when a whole batch is done: a try
    # waiting out its timeout holds up its own thread only.
    in_flight = set()
    with ThreadPoolExecutor(concurrency, "webhook") as pool:
        while True:
            if len(in_flight) < concurrency:
                in_flight |= {pool.submit(deliver_in_app, delivery)
                              for delivery in claimed(batch_size, owner)}
            if not in_flight:
                return dict(counts)
            done, in_flight = wait(in_flight, timeout=1, return_when=FIRST_COMPLETED)
            for future in done:
                counts[future.result()] += 1


def claimed(batch_size, owner):
    """The Deliveries of up to batch_size messages claimed for this worker."""
    ids = claim(batch_size, owner)
    if not ids:
        return []
    batch = [prepare(message, owner) for message in db.session.scalars(
        sa.select(WebhookMessage).where(WebhookMessage.id.in_(ids))
        .options(sa.orm.joinedload(WebhookMessage.endpoint)))]
    db.session.rollback()  # no transaction stays open during the HTTP conversations
    return batch


class Delivery(NamedTuple):
    """What one try needs, read before it: no database access while it talks HTTP."""

    id: int
    owner: str  # who holds its lease
    endpoint_id: int
    webhook_id: str
    attempts: int
    url: str
    secret: str
    body: str


def prepare(message, owner):
    """The Delivery of a claimed message; its body is made at its first try."""
    return Delivery(message.id, owner, message.endpoint_id, message.webhook_id, message.attempts,
                    message.endpoint.url, message.endpoint.secret,
                    message.body or build_body(message))


def claim(batch_size, owner):
    """Lease up to batch_size due messages to owner; their ids. A failing endpoint, once
    its pause is over, gets one (its probe): a dead receiver costs a try per pause."""
    now = utcnow()
    until = lease_end(30 + batch_size * current_app.config["WEBHOOK_TIMEOUT_SECONDS"], now)
    endpoint = ENDPOINTS.c
    ready = (MESSAGES.c.state == DeliveryState.PENDING, MESSAGES.c.next_attempt_at <= now,
             LEASE.free(now))
    due = (sa.select(MESSAGES.c.id).join(ENDPOINTS, endpoint.id == MESSAGES.c.endpoint_id)
           .where(*ready, endpoint.disabled_at.is_(None)))
    oldest = MESSAGES.c.next_attempt_at
    pause_over = sa.or_(endpoint.paused_until.is_(None), endpoint.paused_until <= now)
    failing = sa.select(endpoint.id).where(
        endpoint.failing_since.is_not(None), endpoint.disabled_at.is_(None), pause_over,
        sa.exists().where(MESSAGES.c.endpoint_id == endpoint.id, *ready)).order_by(endpoint.id)
    with write_transaction() as connection:
        if connection.dialect.name == "postgresql":  # another worker's rows are its own
            due = due.with_for_update(of=MESSAGES, skip_locked=True)
            # NO KEY UPDATE: events being queued for the endpoint (a foreign key) need not wait.
            failing = failing.with_for_update(of=ENDPOINTS, skip_locked=True, key_share=True)
        ids = []
        for endpoint_id in connection.scalars(failing.limit(batch_size)).all():
            probe = connection.scalar(due.where(MESSAGES.c.endpoint_id == endpoint_id)
                                      .order_by(TEST_FIRST, oldest).limit(1))
            # Taking a probe pauses the endpoint for the lease: no other worker probes it.
            if probe and connection.execute(
                    ENDPOINTS.update().where(endpoint.id == endpoint_id, pause_over)
                    .values(paused_until=until)).rowcount:
                ids.append(probe)
        ids += connection.scalars(due.where(endpoint.failing_since.is_(None)).order_by(oldest)
                                  .limit(batch_size - len(ids))).all()
        return LEASE.claim(connection, ids, owner, until) if ids else []


def deliver(delivery):
    """One try at one message, outside any transaction; record it. Returns its state."""
    config = current_app.config
    now = utcnow()
    headers = {"webhook-id": delivery.webhook_id,
               "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(delivery.secret).sign(delivery.webhook_id, now,
                                                                  delivery.body)}
    try:
        target = urls.target(delivery.url, config)
        status, answer = webhook_http.post(target, headers, delivery.body,
                                           config["WEBHOOK_TIMEOUT_SECONDS"])
    except urls.Refused as error:
        status, answer = None, f"not sent: {error}"
    except TimeoutError:
        status, answer = None, f"no answer within {config['WEBHOOK_TIMEOUT_SECONDS']:g} s"
    except (OSError, http.client.HTTPException) as error:
        status, answer = None, f"could not connect: {error}"
    except Exception as error:  # one odd endpoint must not stop the others
        current_app.logger.exception("webhook %s", delivery.webhook_id)
        status, answer = None, f"not sent: {error}"
    return record(delivery, status, answer)


def record(delivery, status, answer):
    """Log a try and decide what follows: delivered, a retry later, or failed for good;
    an endpoint failing for SWITCH_OFF_AFTER is switched off. Nothing is written once the
    lease was lost (the message deleted with its endpoint, or claimed by another worker
    after this try outlasted the lease: that worker's try decides)."""
    config = current_app.config
    now = utcnow()
    ok = status is not None and 200 <= status < 300
    attempts = delivery.attempts + 1
    if ok:
        state, next_try = DeliveryState.DELIVERED, now
    elif attempts >= config["WEBHOOK_MAX_ATTEMPTS"]:
        state, next_try = DeliveryState.FAILED, now
    else:
        state, next_try = DeliveryState.PENDING, now + retry_delay(
            attempts, config["WEBHOOK_RETRY_BASE_SECONDS"], LONGEST_WAIT)
    endpoint = ENDPOINTS.c
    with write_transaction() as connection:
        if not LEASE.release(connection, [delivery.id], delivery.owner, body=delivery.body,
                             attempts=attempts, state=state, next_attempt_at=next_try):
            return "lease_lost"
        connection.execute(ATTEMPTS.insert().values(
            endpoint_id=delivery.endpoint_id, message_id=delivery.id, at=now, status=status,
            answer=answer[:ANSWER_KEPT]))
        mine = ENDPOINTS.update().where(endpoint.id == delivery.endpoint_id)
        if ok:
            connection.execute(mine.values(failing_since=None, paused_until=None))
        else:
            failing_since = connection.scalar(mine.values(
                failing_since=sa.func.coalesce(endpoint.failing_since, now))
                .returning(endpoint.failing_since))
            connection.execute(mine.values(paused_until=now + pause(now - failing_since)))
            connection.execute(mine.where(endpoint.disabled_at.is_(None),
                                          endpoint.failing_since <= now - SWITCH_OFF_AFTER)
                               .values(disabled_at=now))
    return "retry" if state == DeliveryState.PENDING else str(state)


def pause(failing_for):
    """How long a failing endpoint gets no try: as long as it has failed, within limits."""
    shortest = timedelta(seconds=current_app.config["WEBHOOK_RETRY_BASE_SECONDS"])
    return min(max(failing_for, shortest), LONGEST_PAUSE)


def build_body(message):
    """The JSON body: {"type", "timestamp", "data": {"credential", "email", "detail"}}."""
    data = {"detail": message.detail or {}}
    if message.credential_id:
        credential = db.session.get(Credential, message.credential_id)
        data["credential"] = credential.as_json() if credential else None
    if message.email_message_id:
        email = db.session.get(EmailMessage, message.email_message_id)
        if email is not None:
            data["email"] = {"to_address": email.to_address, "message_id": email.message_id,
                             "state": email.state}
    return json.dumps({"type": message.type, "timestamp": message.occurred_at.isoformat(),
                       "data": data}, separators=(",", ":"))
