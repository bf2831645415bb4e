"""The outbound webhook messages events imply: one per subscribed endpoint, written in the
transaction of the event, so an event is announced if and only if it happened."""

import sqlalchemy as sa

import work
from models import WebhookEndpoint, WebhookMessage
from models.states import DeliveryState
from models.types import utcnow
from models.webhook import TEST_EVENT, new_webhook_id

ENDPOINTS, MESSAGES = WebhookEndpoint.__table__, WebhookMessage.__table__
LIVE_ENDPOINTS = sa.select(ENDPOINTS.c.id, ENDPOINTS.c.org_id, ENDPOINTS.c.events).where(
    ENDPOINTS.c.disabled_at.is_(None))


def announce(connection, announced, org_of):
    """Queue the webhook messages of events, [(webhook event type, Event)], for the live
    endpoints of each credential's organization (org_of(credential ids) → {id: org id});
    return how many. Without a live endpoint this costs one small query."""
    if not announced:
        return 0
    endpoints = connection.execute(LIVE_ENDPOINTS).all()
    if not endpoints:
        return 0
    orgs = org_of()
    rows = [_row(endpoint.id, kind, event) for kind, event in announced for endpoint in endpoints
            if endpoint.org_id == orgs.get(event.credential_id)
            and ("*" in endpoint.events or kind in endpoint.events)]
    if rows:
        connection.execute(MESSAGES.insert(), rows)
        work.note(work.WEBHOOKS)
    return len(rows)


def _row(endpoint_id, kind, event):
    return {"endpoint_id": endpoint_id, "webhook_id": new_webhook_id(), "type": kind,
            "credential_id": event.credential_id, "email_message_id": event.email_message_id,
            "occurred_at": event.at, "detail": event.data or {},
            "state": DeliveryState.PENDING, "attempts": 0, "next_attempt_at": utcnow()}


def announce_test(connection, endpoint_id):
    """A test event for one endpoint, whatever it subscribed to."""
    connection.execute(MESSAGES.insert().values(
        endpoint_id=endpoint_id, webhook_id=new_webhook_id(), type=TEST_EVENT,
        occurred_at=utcnow(), state=DeliveryState.PENDING, attempts=0, next_attempt_at=utcnow(),
        detail={"message": "A test event from the credential mail tracker's Settings page."}))
    work.note(work.WEBHOOKS)
