"""Registering and removing an organization's webhook endpoints: one set of rules for the
API and the Settings page."""

import sqlalchemy as sa

from models import WebhookEndpoint, WebhookMessage, db
from models.states import DeliveryState
from outbound import urls
from timeline.rules import WEBHOOK_EVENTS
from validation import InvalidInput

MAX_PER_ORG = 20


class EndpointError(ValueError):
    """What is wrong with an endpoint to register: {field: message}."""

    def __init__(self, fields):
        super().__init__("; ".join(fields.values()))
        self.fields = fields


def clean_events(events):
    """The event types as a sorted list without repeats, or ["*"]; InvalidInput if not."""
    if not isinstance(events, list) or not events:
        raise InvalidInput('events must be a list of event types, or ["*"] for all of them.')
    if not all(isinstance(event, str) for event in events):
        raise InvalidInput("Each event type must be text.")
    if "*" in events:
        if len(events) > 1:
            raise InvalidInput('"*" takes every event type: give it alone.')
        return ["*"]
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if unknown:
        raise InvalidInput(f"Unknown event type {', '.join(unknown)}; the types are "
                           f"{', '.join(WEBHOOK_EVENTS)}.")
    return sorted(set(events))


def create(org_id, url, events, config):
    """A new endpoint of the organization (added to the session, not committed), or
    EndpointError saying what is wrong."""
    fields = {}
    try:
        url = urls.check(url, config)
    except InvalidInput as error:
        fields["url"] = str(error)
    try:
        events = clean_events(events)
    except InvalidInput as error:
        fields["events"] = str(error)
    if not fields and len(of_org(org_id)) >= MAX_PER_ORG:
        fields["url"] = f"An organization can have at most {MAX_PER_ORG} endpoints."
    if fields:
        raise EndpointError(fields)
    endpoint = WebhookEndpoint(org_id=org_id, url=url, events=events)
    db.session.add(endpoint)
    db.session.flush()
    return endpoint


def of_org(org_id):
    """The organization's endpoints, oldest first."""
    return db.session.scalars(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.org_id == org_id).order_by(WebhookEndpoint.id)).all()


def find(org_id, endpoint_id):
    """One endpoint of the organization, or None (another organization's is not found)."""
    return db.session.scalar(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.org_id == org_id))


def switched_off(org_id):
    """The organization's endpoints switched off after failing, for a banner."""
    return db.session.scalars(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.org_id == org_id, WebhookEndpoint.disabled_at.is_not(None))).all()


def waiting(hooks):
    """{endpoint id: (events waiting, when one is tried next)} for the failing ones."""
    failing = {hook.id: hook for hook in hooks if hook.failing_since and not hook.disabled_at}
    rows = db.session.execute(
        sa.select(WebhookMessage.endpoint_id, sa.func.count(),
                  sa.func.min(WebhookMessage.next_attempt_at))
        .where(WebhookMessage.endpoint_id.in_(failing),
               WebhookMessage.state == DeliveryState.PENDING)
        .group_by(WebhookMessage.endpoint_id)).all()
    # A try needs both the endpoint's pause over and a message of its own due.
    return {endpoint_id: (count, max(filter(None, (failing[endpoint_id].paused_until, due))))
            for endpoint_id, count, due in rows}
