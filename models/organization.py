"""An issuing organization: everything an issuer sees is scoped to one."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.types import UTCDateTime, utcnow
from validation import Sender


class Organization(db.Model):
    __tablename__ = "organizations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # The organization's own sender for delivery emails; MAIL_DEFAULT_SENDER when unset.
    sender_name: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    sender_address: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    reply_to: so.Mapped[str | None] = so.mapped_column(sa.String(254))

    # Automatic reminders: after this many days unopened, at most reminder_max of them.
    reminder_after_days: so.Mapped[int | None] = so.mapped_column()
    reminder_max: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    def sender(self, default):
        """The Sender delivery emails come from: the organization's own name and address,
        else its name with the default sender's address."""
        return Sender(self.sender_name or self.name, self.sender_address or default.address)

    def __repr__(self):
        return f"<Organization {self.id} {self.name!r}>"
