"""An issuing organization: everything an issuer sees is scoped to one."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.types import UTCDateTime, utcnow


class Organization(db.Model):
    __tablename__ = "organizations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self):
        return f"<Organization {self.id} {self.name!r}>"
