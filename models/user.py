"""A person who logs in, with a role in their one organization (DESIGN.md, "A team per
organization")."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from models import db
from models.states import Role, one_of
from models.types import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint(one_of("role", Role), name="role"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    # None until an invited person sets one (and for people who only sign in with SSO).
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(256))
    role: so.Mapped[str] = so.mapped_column(sa.String(8), default=Role.OWNER,
                                            server_default=Role.OWNER.value)
    # Invited, and not yet joined (set a password or signed in).
    invited_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    joined_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Removed from the organization: kept for the audit log, never logs in again.
    removed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # In the session cookie beside the id; logging out raises it, so a copy of an old
    # cookie (stolen, or left in another browser) no longer logs anyone in.
    session_version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    org: so.Mapped["Organization"] = so.relationship()  # noqa: F821

    def set_password(self, password):
        """Store a salted hash of the password, never the password."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        """True when the password matches the stored hash of a person still here."""
        if self.password_hash is None or self.removed_at is not None:
            return check_unknown_password(password)  # as long, and as false
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self):
        """Flask-Login: a removed person's session ends at once."""
        return self.removed_at is None

    def get_id(self):
        """What the session cookie holds: the id and the session version."""
        return f"{self.id}:{self.session_version}"

    @classmethod
    def from_session_id(cls, session_id):
        """The user a session cookie names, if its version is still current."""
        user_id, _, version = session_id.partition(":")
        if not (user_id.isdigit() and version.isdigit()):
            return None
        user = db.session.get(cls, int(user_id))
        current = user is not None and user.session_version == int(version)
        return user if current and user.removed_at is None else None

    def end_sessions(self):
        """Log out every copy of this user's session cookie (committed by the caller)."""
        self.session_version = User.session_version + 1  # in SQL: two logouts both count

    def __repr__(self):
        return f"<User {self.id} {self.email}>"


def check_unknown_password(password):
    """As long as a real check, for an address with no account: the answer's timing must
    not tell which addresses have one."""
    check_password_hash(_DUMMY_HASH, password)
    return False


_DUMMY_HASH = generate_password_hash("no account has this password")
