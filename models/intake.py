"""Bounce intake: each report or provider event applied once, and when each intake last
worked."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from models import db
from models.types import UTCDateTime, utcnow


class IntakeReceipt(db.Model):
    """A report (or one recipient of it) or a provider event, applied: never again."""

    __tablename__ = "intake_receipts"

    source: so.Mapped[str] = so.mapped_column(sa.String(20), primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(200), primary_key=True)
    outcome: so.Mapped[str] = so.mapped_column(sa.String(20))
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def claim_many(cls, connection, source, keyed):
        """Note reports as applied, [(key, what it said)], in the caller's transaction; the
        set of keys not noted before (by another worker neither: its insert waits for the
        first's transaction, then finds the key)."""
        if not keyed:
            return set()
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        now = utcnow()
        return set(connection.execute(
            insert(cls).on_conflict_do_nothing().returning(cls.key),
            [{"source": source, "key": key[:200], "outcome": outcome, "at": now}
             for key, outcome in keyed]).scalars())

    @classmethod
    def forget_once(cls, connection, before):
        """Forget the values requests could be verified with once (sources "…-once"),
        used before then: long after such a request would be refused as too old anyway."""
        connection.execute(sa.delete(cls).where(cls.source.endswith("-once"),
                                                cls.at < before))


class IntakeStatus(db.Model):
    """When one intake (the mailbox, a provider's webhook) last worked, and its last error."""

    __tablename__ = "intake_status"

    source: so.Mapped[str] = so.mapped_column(sa.String(20), primary_key=True)
    last_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    last_error_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    @classmethod
    def note(cls, connection, source, error=None):
        """Record that the intake just worked (or failed, with why)."""
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        values = ({"last_error": error[:2000], "last_error_at": utcnow()} if error
                  else {"last_at": utcnow(), "last_error": None})
        connection.execute(insert(cls).values(source=source, **values)
                           .on_conflict_do_update(index_elements=["source"], set_=values))

    @classmethod
    def all(cls):
        """{source: IntakeStatus}."""
        return {row.source: row for row in db.session.scalars(sa.select(cls))}
