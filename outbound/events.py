"""The outbox: a webhook message per subscribed endpoint, written in the transaction of
the timeline event that causes it, so an event is announced if and only if it happened."""

import sqlalchemy as sa

from models import Credential, WebhookEndpoint, WebhookMessage
from models.types import utcnow
from models.webhook import TEST_EVENT, new_webhook_id

# Timeline event type → webhook event type (the others are not announced).
TYPES = {"sent": "email.sent", "deferred": "email.deferred", "bounced": "email.bounced",
         "opened": "email.opened", "complained": "email.complained",
         "viewed": "credential.viewed", "downloaded": "credential.downloaded"}
ENDPOINTS, MESSAGES = WebhookEndpoint.__table__, WebhookMessage.__table__
CREDENTIALS = Credential.__table__
LIVE_ENDPOINTS = sa.select(ENDPOINTS.c.id, ENDPOINTS.c.org_id, ENDPOINTS.c.events).where(
    ENDPOINTS.c.disabled_at.is_(None))


def emit(connection, events):
    """Queue the webhook messages of timeline events (dicts with credential_id, type, at,
    data, email_message_id) in the caller's transaction; return how many were queued.
    Without a live endpoint this costs one small query."""
    events = [event for event in events if event["type"] in TYPES]
    if not events:
        return 0
    endpoints = connection.execute(LIVE_ENDPOINTS).all()
    if not endpoints:
        return 0
    orgs = dict(connection.execute(
        sa.select(CREDENTIALS.c.id, CREDENTIALS.c.org_id).where(
            CREDENTIALS.c.id.in_({event["credential_id"] for event in events}))).all())
    rows = []
    for event in events:
        kind = TYPES[event["type"]]
        for endpoint in endpoints:
            if endpoint.org_id == orgs.get(event["credential_id"]) and (
                    "*" in endpoint.events or kind in endpoint.events):
                rows.append(_row(endpoint.id, kind, event))
    if rows:
        connection.execute(MESSAGES.insert(), rows)
    return len(rows)


def _row(endpoint_id, kind, event):
    at = event.get("at") or utcnow()
    return {"endpoint_id": endpoint_id, "webhook_id": new_webhook_id(), "type": kind,
            "credential_id": event["credential_id"],
            "email_message_id": event.get("email_message_id"), "occurred_at": at,
            "detail": event.get("data") or {}, "state": "pending", "attempts": 0,
            "next_attempt_at": utcnow()}


def queue_test(session, endpoint):
    """A test event for one endpoint, whatever it subscribed to (to be committed)."""
    message = WebhookMessage(endpoint_id=endpoint.id, type=TEST_EVENT,
                             detail={"message": "A test event from the credential mail "
                                                "tracker's Settings page."})
    session.add(message)
    return message
