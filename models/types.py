"""Column types shared by the models."""

import calendar
from datetime import UTC, datetime

import sqlalchemy as sa


def utcnow():
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def add_months(moment, months):
    """The same day and time that many months later, on the month's last day when the month
    is shorter (31 January + 1 month: 28 or 29 February)."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month,
                          day=min(moment.day, calendar.monthrange(year, month)[1]))


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
