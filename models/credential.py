"""A credential issued to one recipient, and what can happen to it."""

import secrets
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.email_event import EmailEvent
from models.email_message import EmailMessage, new_message_id
from models.status import EmailStatus
from models.types import UTCDateTime, utcnow

# Why a resend is refused: (the sentence for one credential, the words for a bulk count).
RESEND_REFUSALS = {
    "not_published": ("The credential is not published yet; publish it to send the email.",
                      "not published yet"),
    "no_address": ("The credential has no email address.", "no email address"),
    "bounced_unchanged": ("The address bounced permanently and was not changed. "
                          "Fix the address first, or force the resend.",
                          "address bounced and unchanged"),
}


class StateError(Exception):
    """The credential is not in a state that allows the action (HTTP 409)."""


class Credential(db.Model):
    __tablename__ = "credentials"
    __table_args__ = (
        # The Credentials page: newest first, all or one status; the counts per status.
        sa.Index("ix_credentials_org_newest", "org_id", "id"),
        sa.Index("ix_credentials_org_status", "org_id", "email_status", "id"),
        # Scheduled publishing looks for due credentials.
        sa.Index("ix_credentials_due", "issue_state", "scheduled_at"),
        sa.CheckConstraint(
            "issue_state IN ('draft', 'scheduled', 'published')", name="issue_state"
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"))
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("credential_groups.id"), index=True)
    recipient_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    recipient_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    issue_state: so.Mapped[str] = so.mapped_column(sa.String(10), default="draft")
    scheduled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    published_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    send_email: so.Mapped[bool] = so.mapped_column(default=True)
    token: so.Mapped[str] = so.mapped_column(
        sa.String(64), unique=True, default=lambda: secrets.token_urlsafe(24)
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # The output of models.status.email_status(), kept so the page can filter by index
    # and count; only models.status_count.sync_statuses() writes it, at every flush
    # that changes an input ("not_sent" stands in until the first flush derives it).
    email_status: so.Mapped[str] = so.mapped_column(sa.String(12), default="not_sent")

    group: so.Mapped["CredentialGroup"] = so.relationship()  # noqa: F821
    org: so.Mapped["Organization"] = so.relationship()  # noqa: F821
    messages: so.Mapped[list[EmailMessage]] = so.relationship(
        back_populates="credential", order_by=EmailMessage.id, cascade="all, delete-orphan"
    )

    @property
    def latest_message(self):
        return self.messages[-1] if self.messages else None

    @property
    def status(self):
        return EmailStatus(self.email_status)

    @property
    def bounce_reason(self):
        """Why the email bounced, in plain words, while the status is bounced; else None."""
        latest = self.latest_message
        return latest.bounce_reason if latest and self.status is EmailStatus.BOUNCED else None

    @classmethod
    def issue(cls, org_id, recipient_name, recipient_email, group, action,
              scheduled_at=None, send_email=True, user=None):
        """Create a credential as a draft, published now, or scheduled (inputs validated)."""
        credential = cls(org_id=org_id, recipient_name=recipient_name,
                         recipient_email=recipient_email, group=group, send_email=send_email,
                         issue_state="draft", messages=[])
        db.session.add(credential)
        if action == "publish":
            credential.publish(send_email, user)
        elif action == "schedule":
            credential.schedule(scheduled_at, send_email)
        return credential

    def publish(self, send_email, user=None):
        """Publish now; with email on and an address, queue the delivery email."""
        if self.issue_state == "published":
            raise StateError("The credential is already published.")
        self.issue_state = "published"
        self.published_at = utcnow()
        self.scheduled_at = None
        self.send_email = send_email
        if send_email and self.recipient_email:
            self.queue_email(user)

    def schedule(self, at, send_email):
        """Publish automatically at a future time (validated by the caller)."""
        if self.issue_state == "published":
            raise StateError("The credential is already published.")
        self.issue_state = "scheduled"
        self.scheduled_at = at
        self.send_email = send_email

    def change_email(self, new_address, user=None):
        """Change the recipient's address; sends nothing."""
        if new_address == self.recipient_email:
            return
        self._event("address_changed", f"{self.recipient_email or '(none)'} → "
                    f"{new_address or '(none)'}", user=user)
        self.recipient_email = new_address

    def resend_refusal(self, force=False):
        """Why a resend is refused, a RESEND_REFUSALS key, or None when it is allowed."""
        if self.issue_state != "published":
            return "not_published"
        if not self.recipient_email:
            return "no_address"
        latest = self.latest_message
        if (not force and latest is not None and latest.hard_bounced
                and latest.to_address == self.recipient_email):
            return "bounced_unchanged"
        return None

    def resend(self, user=None, force=False, why=None, reminder=False):
        """Queue a new delivery email; the older messages stay in the timeline."""
        refusal = self.resend_refusal(force)
        if refusal:
            raise StateError(RESEND_REFUSALS[refusal][0])
        self._event("resent", why or ("forced" if force else None), user=user)
        self.queue_email(user).is_reminder = reminder

    def queue_email(self, user=None):
        """Add a queued message; its Message-ID is fixed now and kept by every retry."""
        message = EmailMessage(
            org_id=self.org_id, to_address=self.recipient_email, state="queued",
            requested_by_id=user.id if user else None,
            message_id=new_message_id(),
            next_attempt_at=utcnow(),
        )
        self.messages.append(message)
        db.session.info["mail_queued"] = True  # wakes this process's queue after commit
        self._event("queued", f"to {self.recipient_email}", message=message, user=user)
        return message

    def _event(self, type_, detail=None, message=None, user=None):
        event = EmailEvent(credential=self, message=message, type=type_, detail=detail,
                           user_id=user.id if user else None)
        db.session.add(event)
        return event

    def events(self):
        """The recipient's timeline, oldest first."""
        return db.session.scalars(
            sa.select(EmailEvent).where(EmailEvent.credential_id == self.id)
            .order_by(EmailEvent.at, EmailEvent.id)
        ).all()

    def __repr__(self):
        return f"<Credential {self.id} {self.issue_state} {self.email_status}>"
