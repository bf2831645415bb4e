"""One delivery email: the queue row of DESIGN.md, from queued to sent or bounced."""

import secrets
from datetime import datetime
from email.utils import make_msgid

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from models import db, words
from models.organization import Organization
from models.states import BounceKind, MessagePurpose, MessageState, one_of
from models.types import UTCDateTime, utcnow


def new_token():
    """An unguessable URL token (192 random bits)."""
    return secrets.token_urlsafe(24)


def new_message_id():
    """A Message-ID in the envelope sender's domain, fixed before the first attempt."""
    return make_msgid(domain=current_app.config["DEFAULT_SENDER"].domain)


class EmailMessage(db.Model):
    __tablename__ = "email_messages"
    __table_args__ = (
        # The queue claims by state and due time.
        sa.Index("ix_email_messages_due", "state", "next_attempt_at"),
        # Bounces by reason, for the banner of domains that block us.
        sa.Index("ix_email_messages_reason", "org_id", "bounce_code"),
        # A late report that names only its recipient finds the latest message to it.
        sa.Index("ix_email_messages_to", "to_address"),
        # When the mail server last accepted anything, and what it took in the last hour
        # (mailer.health, read by every poll of the Credentials page).
        sa.Index("ix_email_messages_sent_at", "sent_at"),
        # What each organization handed to the mail server lately (ORG_DAILY_LIMIT).
        sa.Index("ix_email_messages_org_handed", "org_id", "handed_at"),
        sa.CheckConstraint(one_of("state", MessageState), name="state"),
        sa.CheckConstraint(one_of("bounce_kind", BounceKind), name="bounce_kind"),
        sa.CheckConstraint(one_of("purpose", MessagePurpose), name="purpose"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    # None only for a test of the organization's email (MessagePurpose.TEST).
    credential_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("credentials.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    to_address: so.Mapped[str] = so.mapped_column(sa.String(254))
    state: so.Mapped[str] = so.mapped_column(sa.String(10), default=MessageState.QUEUED)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    lease_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    lease_owner: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    message_id: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    token: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True, default=new_token)
    last_reply: so.Mapped[str | None] = so.mapped_column(sa.Text)
    bounce_kind: so.Mapped[str | None] = so.mapped_column(sa.String(10))  # BounceKind
    bounce_code: so.Mapped[str | None] = so.mapped_column(sa.String(20))  # models.words.REASONS
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # When it was last claimed to be handed to the mail server (mailer.queue).
    handed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    opened_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    open_count: so.Mapped[int] = so.mapped_column(default=0)
    purpose: so.Mapped[str] = so.mapped_column(sa.String(14), default=MessagePurpose.DELIVERY,
                                               server_default=MessagePurpose.DELIVERY.value)

    credential: so.Mapped["Credential"] = so.relationship(back_populates="messages")  # noqa: F821

    @classmethod
    def due(cls, now, due_by=None):
        """SQL: the message is due at now: queued or retry with its time come (by due_by,
        default now), or sending with an expired lease; and its organization may send it."""
        return sa.and_(sa.or_(
            sa.and_(cls.state.in_((MessageState.QUEUED, MessageState.RETRY)),
                    cls.next_attempt_at <= (now if due_by is None else due_by)),
            sa.and_(cls.state == MessageState.SENDING, cls.lease_until < now),
        ), cls.not_paused())

    @classmethod
    def not_paused(cls):
        """SQL: the message's organization may send it: its sending is not paused by the
        reputation guard (reputation), or it goes to the organization's own people (an
        invitation, a password reset, a test: an owner must still be able to log in and
        resume)."""
        return sa.or_(cls.credential_id.is_(None), cls.org_id.not_in(
            sa.select(Organization.id).where(Organization.paused_at.is_not(None))))

    @property
    def hard_bounced(self):
        return self.state == MessageState.BOUNCED and self.bounce_kind == BounceKind.HARD

    @property
    def bounce_reason(self):
        """Why the email bounced, in plain words (None unless it bounced)."""
        if self.state != MessageState.BOUNCED or not self.bounce_code:
            return None
        if self.bounce_code == "queue_expired":  # never handed over: no tries to count
            return words.bounce_reason(self.bounce_code, self.last_reply,
                                       days=current_app.config["MAX_QUEUE_AGE"].days)
        gave_up_after = self.attempts if self.bounce_kind == BounceKind.SOFT else None
        return words.bounce_reason(self.bounce_code, self.last_reply, gave_up_after)

    def __repr__(self):
        return f"<EmailMessage {self.id} {self.state} to={self.to_address}>"
