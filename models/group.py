"""A credential group: the course, event or badge a set of credentials belongs to."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.types import UTCDateTime, utcnow


class CredentialGroup(db.Model):
    __tablename__ = "credential_groups"
    __table_args__ = (sa.UniqueConstraint("org_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"))
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    # The achievement, as an Open Badge and the certificate tell it.
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="", server_default="")
    criteria: so.Mapped[str | None] = so.mapped_column(sa.Text)  # what the recipient did
    validity_months: so.Mapped[int | None] = so.mapped_column()  # None: never expires
    # Its badge image (branding.py drew it again), in its Open Badges; the version names it.
    image_png: so.Mapped[bytes | None] = so.mapped_column(sa.LargeBinary, deferred=True)
    image_width: so.Mapped[int | None] = so.mapped_column()  # None: no image
    image_version: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # The language of its emails, pages and certificates (languages.LANGUAGES).
    language: so.Mapped[str] = so.mapped_column(sa.String(5), default="en",
                                                server_default="en")
    # The group's own email template (mailer.wording); None: its organization's.
    email_subject: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    email_message: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def for_org(cls, org_id):
        """The organization's groups, by name."""
        return db.session.scalars(
            sa.select(cls).where(cls.org_id == org_id).order_by(cls.name)
        ).all()

    @classmethod
    def name_taken(cls, org_id, name, group_id=None):
        """True when another group of the organization has that name."""
        return db.session.scalar(sa.select(cls.id).where(
            cls.org_id == org_id, cls.name == name, cls.id != group_id)) is not None

    def __repr__(self):
        return f"<CredentialGroup {self.id} {self.name!r}>"
