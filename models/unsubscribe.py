"""Recipients who asked, with one click, for no more reminders from an organization."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.types import UTCDateTime, utcnow


class Unsubscribe(db.Model):
    __tablename__ = "unsubscribes"

    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"),
                                              primary_key=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(254), primary_key=True)  # lower case
    # The credential whose reminder carried the link (gone if it was deleted).
    credential_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("credentials.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self):
        return f"<Unsubscribe {self.org_id} {self.address}>"
