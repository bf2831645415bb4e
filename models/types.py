"""Column types shared by the models."""

from datetime import UTC, datetime

import sqlalchemy as sa


def utcnow():
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso(moment):
    """A time as ISO 8601 text for JSON, or None."""
    return moment.isoformat() if moment else None


class UTCDateTime(sa.types.TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite keeps no offsets, PostgreSQL agrees."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)
