"""Addresses an organization no longer mails: they bounced for good, or complained."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from models import db
from models.types import UTCDateTime, utcnow


class Suppression(db.Model):
    __tablename__ = "suppressions"

    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"),
                                              primary_key=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(254), primary_key=True)  # lower case
    # Why: "bounced" (refused for good) or "complained" (reported as spam).
    reason: so.Mapped[str] = so.mapped_column(sa.String(12))
    email_message_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("email_messages.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def add_many(cls, connection, reason, found):
        """Stop mailing these addresses, [(org id, address, message row id)], because they
        bounced or complained (a complaint outranks a bounce)."""
        if not found:
            return
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = insert(cls)
        if reason == "complained":
            statement = statement.on_conflict_do_update(
                index_elements=["org_id", "address"],
                set_={"reason": statement.excluded.reason,
                      "email_message_id": statement.excluded.email_message_id})
        else:
            statement = statement.on_conflict_do_nothing()
        now = utcnow()
        connection.execute(statement, [
            {"org_id": org_id, "address": address.lower(), "reason": reason,
             "email_message_id": row_id, "created_at": now} for org_id, address, row_id in found])

    @classmethod
    def add_bounced(cls, connection, row_ids):
        """Stop mailing the addresses of these messages (they bounced for good), from their
        organizations: one statement, however many."""
        if not row_ids:
            return
        messages = sa.table("email_messages", sa.column("id"), sa.column("org_id"),
                            sa.column("to_address"))
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(insert(cls).from_select(
            ["org_id", "address", "reason", "email_message_id", "created_at"],
            sa.select(messages.c.org_id, sa.func.lower(messages.c.to_address),
                      sa.literal("bounced"), messages.c.id, sa.literal(utcnow(), UTCDateTime))
            .where(messages.c.id.in_(sorted(row_ids)))).on_conflict_do_nothing())

    @classmethod
    def lift(cls, connection, org_id, addresses):
        """Mail these addresses again (the issuer sends anyway)."""
        connection.execute(sa.delete(cls).where(
            cls.org_id == org_id, cls.address.in_([a.lower() for a in addresses])))

    def __repr__(self):
        return f"<Suppression {self.org_id} {self.address} {self.reason}>"
