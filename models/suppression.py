"""Addresses an organization no longer mails: they bounced for good, or complained."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from models import db
from models.states import BounceKind, MessageState, SuppressionReason, one_of
from models.types import UTCDateTime, utcnow

# Hard bounces that say nothing about the address: it is not suppressed for them.
NOT_THE_ADDRESS = {"bad_header"}


class Suppression(db.Model):
    __tablename__ = "suppressions"
    __table_args__ = (sa.CheckConstraint(one_of("reason", SuppressionReason), name="reason"),)

    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"),
                                              primary_key=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(254), primary_key=True)  # lower case
    reason: so.Mapped[str] = so.mapped_column(sa.String(12))  # SuppressionReason
    email_message_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("email_messages.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def add(cls, connection, reason, message_ids):
        """Stop mailing the addresses of these messages, from their organizations, because
        they bounced for good (a hard bounce about the address) or complained (which
        outranks a bounce): one statement, however many."""
        if not message_ids:
            return
        messages = sa.table("email_messages", sa.column("id"), sa.column("org_id"),
                            sa.column("to_address"), sa.column("state"),
                            sa.column("bounce_kind"), sa.column("bounce_code"))
        found = sa.select(messages.c.org_id, sa.func.lower(messages.c.to_address),
                          sa.literal(str(reason)), messages.c.id,
                          sa.literal(utcnow(), UTCDateTime)).where(
            messages.c.id.in_(sorted(message_ids)))
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = insert(cls).from_select(
            ["org_id", "address", "reason", "email_message_id", "created_at"],
            found.where(messages.c.state == MessageState.BOUNCED,
                        messages.c.bounce_kind == BounceKind.HARD,
                        sa.func.coalesce(messages.c.bounce_code, "").not_in(NOT_THE_ADDRESS))
            if reason == SuppressionReason.BOUNCED else found)
        if reason == SuppressionReason.COMPLAINED:
            statement = statement.on_conflict_do_update(
                index_elements=["org_id", "address"],
                set_={"reason": statement.excluded.reason,
                      "email_message_id": statement.excluded.email_message_id})
        else:
            statement = statement.on_conflict_do_nothing()
        connection.execute(statement)

    @classmethod
    def lift(cls, connection, org_id, addresses):
        """Mail these addresses again (the issuer sends anyway)."""
        connection.execute(sa.delete(cls).where(
            cls.org_id == org_id, cls.address.in_([a.lower() for a in addresses])))

    def __repr__(self):
        return f"<Suppression {self.org_id} {self.address} {self.reason}>"
