"""The rows of a team (DESIGN.md, "A team per organization"): one-time links sent by
email, password reset requests waiting for the mail job, and the audit log."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.states import TokenPurpose, one_of
from models.types import UTCDateTime, utcnow


class AccountToken(db.Model):
    """A one-time link (invitation or password reset) to a person. Only its id is in the
    link, signed with the app's secret: the table holds nothing a reader could use."""

    __tablename__ = "account_tokens"
    __table_args__ = (sa.CheckConstraint(one_of("purpose", TokenPurpose), name="purpose"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    purpose: so.Mapped[str] = so.mapped_column(sa.String(14))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # The email that carries it (the queue composes the link from this row).
    email_message_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("email_messages.id"), unique=True)

    user: so.Mapped["User"] = so.relationship()  # noqa: F821


class ResetRequest(db.Model):
    """"Forgot your password?" asked for an address: written the same whether or not it
    has an account (so the answer takes the same time), read by the mail job."""

    __tablename__ = "reset_requests"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(254))
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(db.Model):
    """One change by a person or an API key, written in the change's own transaction;
    nothing in the app edits or deletes it."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entries_org_at", "org_id", "at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"))
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    action: so.Mapped[str] = so.mapped_column(sa.String(40))  # dotted: credential.revoke
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    api_key_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("api_keys.id"))
    # Who, as people read it: the person's email or the key's prefix (kept as it was then).
    actor: so.Mapped[str] = so.mapped_column(sa.String(254))
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    # No foreign key: the entry outlives a deleted draft, and still names it.
    credential_id: so.Mapped[int | None] = so.mapped_column(index=True)
    # What changed: {field: [before, after]} for settings, else what the action was given.
    changes: so.Mapped[dict | None] = so.mapped_column(sa.JSON)
