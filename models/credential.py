"""A credential issued to one recipient, and what can happen to it."""

import secrets
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.email_event import EmailEvent
from models.email_message import EmailMessage, new_token
from models.search import create_index, default_search_text, drop_index
from models.states import IssueState, MessageState, one_of
from models.status import EmailStatus
from models.types import UTCDateTime, iso, utcnow
from models.unsubscribe import Unsubscribe
from typos import suggest_address


def new_public_id():
    """An unguessable public id for the verification link (128 random bits)."""
    return secrets.token_urlsafe(16)


class Credential(db.Model):
    __tablename__ = "credentials"
    __table_args__ = (
        # The Credentials page: newest first, all or one status; the counts per status.
        sa.Index("ix_credentials_org_newest", "org_id", "id"),
        sa.Index("ix_credentials_org_status", "org_id", "email_status", "id"),
        # Scheduled publishing looks for due credentials.
        sa.Index("ix_credentials_due", "issue_state", "scheduled_at"),
        sa.CheckConstraint(one_of("issue_state", IssueState), name="issue_state"),
        # Each credential has its own place in its organization's status lists.
        sa.UniqueConstraint("org_id", "status_index"),
        # The Credentials page's Revoked filter and count read only the revoked.
        sa.Index("ix_credentials_org_revoked", "org_id", "id",
                 sqlite_where=sa.text("revoked_at IS NOT NULL"),
                 postgresql_where=sa.text("revoked_at IS NOT NULL")),
        # An import's credentials, to remove them if it stops (importer.run).
        sa.Index("ix_credentials_import", "import_id",
                 sqlite_where=sa.text("import_id IS NOT NULL"),
                 postgresql_where=sa.text("import_id IS NOT NULL")),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"))
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("credential_groups.id"), index=True)
    recipient_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    recipient_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    # The name and address folded for the search (models.search): written with them.
    search_text: so.Mapped[str | None] = so.mapped_column(sa.Text, default=default_search_text,
                                                          deferred=True)
    issue_state: so.Mapped[str] = so.mapped_column(sa.String(10), default=IssueState.DRAFT)
    scheduled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    published_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    send_email: so.Mapped[bool] = so.mapped_column(default=True)
    token: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True, default=new_token)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # The output of models.status.email_status(), kept so the page can filter by index and
    # count. Written when the credential is issued (issuing), then by the events that change
    # an input (timeline.record, through models.status_count).
    email_status: so.Mapped[str] = so.mapped_column(sa.String(12), default="not_sent")
    # The id in the public verification link (/v/<public_id>): unguessable, and not the
    # recipient's token, so a shared link tracks nothing and opens nothing else.
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True,
                                                 default=new_public_id)
    # Engagement after the email, kept beside the credential so lists need no event scan;
    # written with the timeline event by the recorder (timeline.record).
    viewed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    downloaded_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    linkedin_clicked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    share_views: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # When its first email was accepted and first opened (or its link followed): stamped
    # once, with the stamps above, by models.funnel_count for the Analytics page's counts.
    first_sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    first_opened_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Revoked by the issuer (with why), until reinstated; its status list bit is set.
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revocation_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Valid until then (None: for good): from the group's validity, or given when issued.
    expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Its bit in the organization's revocation status lists (openbadges.status).
    status_index: so.Mapped[int | None] = so.mapped_column()
    # The spreadsheet import that issued it: hidden while that import is issuing (shown).
    # No foreign key: the import may be discarded once done, its credentials stay.
    import_id: so.Mapped[int | None] = so.mapped_column()
    # When its recipient unsubscribed from the organization's reminders (one click): a
    # primary-key look-up, read only where asked (lists undefer it with their rows).
    unsubscribed_at: so.Mapped[datetime | None] = so.column_property(
        sa.select(Unsubscribe.created_at).where(
            Unsubscribe.org_id == org_id, Unsubscribe.address == sa.func.lower(recipient_email))
        .scalar_subquery(), deferred=True)

    group: so.Mapped["CredentialGroup"] = so.relationship()  # noqa: F821
    org: so.Mapped["Organization"] = so.relationship()  # noqa: F821
    messages: so.Mapped[list[EmailMessage]] = so.relationship(
        back_populates="credential", order_by=EmailMessage.id, cascade="all, delete-orphan"
    )

    @property
    def latest_message(self):
        """The newest email the status follows: not one cancelled before it was sent."""
        sent = [m for m in self.messages if m.state != MessageState.CANCELLED]
        return sent[-1] if sent else None

    def expired(self, now=None):
        """True once the credential's validity has passed (compared on every request)."""
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    @property
    def status(self):
        return EmailStatus(self.email_status)

    @property
    def bounce_reason(self):
        """Why the email bounced, in plain words, while the status is bounced; else None."""
        latest = self.latest_message
        return latest.bounce_reason if latest and self.status is EmailStatus.BOUNCED else None

    @property
    def engagement(self):
        """What the recipient did with the credential, for the API."""
        return {"viewed_at": iso(self.viewed_at), "downloaded_at": iso(self.downloaded_at),
                "linkedin_clicked_at": iso(self.linkedin_clicked_at),
                "share_views": self.share_views or 0}

    def resend_refusal(self, force=False):
        """Why a resend is refused, a models.words.RESEND_REFUSALS key, or None when it is
        allowed."""
        if self.issue_state != IssueState.PUBLISHED:
            return "not_published"
        if self.revoked_at is not None:
            return "revoked"
        if not self.recipient_email:
            return "no_address"
        latest = self.latest_message
        if (not force and latest is not None and latest.hard_bounced
                and latest.to_address == self.recipient_email):
            return "bounced_unchanged"
        return None

    def as_json(self):
        """DESIGN.md's credential object: the API's and the outbound webhooks'."""
        status = self.status
        return {
            "id": self.id,
            "recipient_name": self.recipient_name,
            "recipient_email": self.recipient_email,
            "group": self.group.name,
            "issue_state": self.issue_state,
            "scheduled_at": iso(self.scheduled_at),
            "published_at": iso(self.published_at),
            "created_at": iso(self.created_at),
            "send_email": self.send_email,
            "email_status": status.value,
            "email_status_label": status.label,
            "bounce_reason": self.bounce_reason,
            "email_suggestion": suggest_address(self.recipient_email),
            "engagement": self.engagement,
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "revocation_reason": self.revocation_reason,
            "unsubscribed_at": iso(self.unsubscribed_at),
        }

    def events(self):
        """The recipient's timeline, oldest first."""
        return db.session.scalars(
            sa.select(EmailEvent).where(EmailEvent.credential_id == self.id)
            .order_by(EmailEvent.at, EmailEvent.id)
            .options(so.selectinload(EmailEvent.message), so.selectinload(EmailEvent.user))
        ).all()

    @classmethod
    def shown(cls):
        """SQL: the credential is not one of an import still issuing, which writes its
        credentials in chunks and shows them all at once (importer.run)."""
        return sa.or_(cls.import_id.is_(None), cls.import_id.not_in(ISSUING))

    def __repr__(self):
        return f"<Credential {self.id} {self.issue_state} {self.email_status}>"


# The imports whose credentials nobody sees yet (a few at most, read by their state).
_IMPORTS = sa.table("imports", sa.column("id"), sa.column("state"))
ISSUING = sa.select(_IMPORTS.c.id).where(_IMPORTS.c.state == "issuing")


# db.create_all() (tests, benchmarks) builds the search index as the migration does.
sa.event.listen(Credential.__table__, "after_create",
                lambda _table, connection, **_: create_index(connection))
sa.event.listen(Credential.__table__, "after_drop",
                lambda _table, connection, **_: drop_index(connection))
