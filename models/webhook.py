"""Outbound webhooks: an organization's endpoints, the events queued for them (the
outbox), and each try's answer (the delivery log)."""

import base64
import secrets
import uuid
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

import work
from models import db
from models.states import DeliveryState, one_of
from models.types import UTCDateTime, iso, utcnow

TEST_EVENT = "webhook.test"  # the Settings page's "Send test event", to one endpoint


def new_secret():
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_webhook_id():
    """The webhook-id of one event to one endpoint, kept by every retry."""
    return "msg_" + uuid.uuid4().hex


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    url: so.Mapped[str] = so.mapped_column(sa.String(2000))
    events: so.Mapped[list] = so.mapped_column(sa.JSON)  # timeline.rules.WEBHOOK_EVENTS, or ["*"]
    secret: so.Mapped[str] = so.mapped_column(sa.String(100), default=new_secret)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # Since when every try failed (None after a success); 3 days of it switch it off.
    failing_since: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # While failing, one event at a time is tried, not before paused_until (a wait as
    # long as it has been failing): a dead receiver holds back only its own events.
    paused_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    disabled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    def switch_on(self):
        """On again after it was switched off for failing: its waiting events go out once
        this is committed (jobs.commit), and its failures are forgotten."""
        self.disabled_at = self.failing_since = self.paused_until = None
        work.note(work.WEBHOOKS)

    def wants(self, event_type):
        """True when this endpoint subscribed to the event type."""
        return "*" in self.events or event_type in self.events

    def as_json(self, secret=False):
        """The API's view; the secret only when it was just made."""
        shown = {"id": self.id, "url": self.url, "events": self.events,
                 "enabled": self.disabled_at is None, "created_at": iso(self.created_at),
                 "failing_since": iso(self.failing_since),
                 "disabled_at": iso(self.disabled_at)}
        return {**shown, "secret": self.secret} if secret else shown

    def __repr__(self):
        return f"<WebhookEndpoint {self.id} {self.url}>"


class WebhookMessage(db.Model):
    """One event for one endpoint, written with the event, sent by the workers."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        sa.Index("ix_webhook_messages_due", "state", "next_attempt_at"),
        sa.Index("ix_webhook_messages_endpoint", "endpoint_id", "id"),
        sa.CheckConstraint(one_of("state", DeliveryState), name="state"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    endpoint_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    webhook_id: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True,
                                                  default=new_webhook_id)
    type: so.Mapped[str] = so.mapped_column(sa.String(30))
    credential_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("credentials.id", ondelete="CASCADE"))
    email_message_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("email_messages.id", ondelete="CASCADE"))
    occurred_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    detail: so.Mapped[dict | None] = so.mapped_column(sa.JSON)  # the timeline event's data
    # The body, made at the first try and sent unchanged by every retry.
    body: so.Mapped[str | None] = so.mapped_column(sa.Text)
    state: so.Mapped[str] = so.mapped_column(sa.String(10), default=DeliveryState.PENDING)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    lease_owner: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    lease_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    endpoint: so.Mapped[WebhookEndpoint] = so.relationship()

    def __repr__(self):
        return f"<WebhookMessage {self.webhook_id} {self.type} {self.state}>"


class WebhookAttempt(db.Model):
    """One try at delivering a message: the delivery log of its endpoint."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    endpoint_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True)
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    status: so.Mapped[int | None] = so.mapped_column()  # the HTTP status, None without one
    answer: so.Mapped[str] = so.mapped_column(sa.String(1000), default="")  # truncated

    message: so.Mapped[WebhookMessage] = so.relationship()

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    def __repr__(self):
        return f"<WebhookAttempt {self.message_id} {self.status}>"
