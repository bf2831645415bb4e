"""API keys: shown once, stored as a SHA-256 digest, scoped to the user's organization."""

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db, write_lock, write_transaction
from models.states import Role, one_of
from models.types import UTCDateTime, utcnow

PREFIX = "cmt_"
SHOWN = 12  # characters of a key kept in clear: "cmt_" and 8 random ones (48 bits)
USE_NOTED_EVERY = timedelta(minutes=1)


def _digest(key):
    # Keys carry 256 random bits, so a fast hash is enough: no dictionary to guess from.
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    __table_args__ = (sa.CheckConstraint(one_of("role", Role), name="role"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    # The key's first characters, enough to tell keys apart in lists and to revoke one;
    # None for keys made before prefixes were kept.
    prefix: so.Mapped[str | None] = so.mapped_column(sa.String(16), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # At most its creator's when made; what it may do is the lower of this and its
    # person's role now (a person demoted takes their keys down with them).
    role: so.Mapped[str] = so.mapped_column(sa.String(8), default=Role.OWNER,
                                            server_default=Role.OWNER.value)

    user: so.Mapped["User"] = so.relationship()  # noqa: F821

    @classmethod
    def issue(cls, user, role=None):
        """Create a key for the user with a role (default and at most theirs); return (row,
        plaintext key), the only time it is seen."""
        write_lock()  # SQLite: it reads the person's role, then writes; none may come between
        if role is not None and not Role(user.role).allows(role):
            raise ValueError(f"A key cannot do more than its person: {user.role}.")
        key = PREFIX + secrets.token_urlsafe(32)
        row = cls(user=user, key_hash=_digest(key), prefix=key[:SHOWN], role=role or user.role)
        db.session.add(row)
        return row, key

    @classmethod
    def find(cls, key):
        """The key row for a presented key, or None."""
        if not key or not key.startswith(PREFIX) or len(key) > 100:
            return None
        return db.session.scalar(sa.select(cls).where(cls.key_hash == _digest(key),
                                                      cls.revoked_at.is_(None)))

    def note_use(self, now=None):
        """Record that the key was used, at most once a minute (a write per request would
        make every API read a write)."""
        now = now or utcnow()
        if self.last_used_at is None or now - self.last_used_at >= USE_NOTED_EVERY:
            with write_transaction() as connection:
                connection.execute(sa.update(ApiKey).where(ApiKey.id == self.id)
                                   .values(last_used_at=now))
            so.attributes.set_committed_value(self, "last_used_at", now)  # written already

    @property
    def allowed(self):
        """What the key may do now: its role, or its person's if that is lower."""
        return min(Role(self.role), Role(self.user.role), key=list(Role).index)

    @property
    def label(self):
        """How lists name the key: its prefix and an ellipsis."""
        return f"{self.prefix}…" if self.prefix else f"key #{self.id}"

    def __repr__(self):
        return f"<ApiKey {self.id} user={self.user_id}>"
