"""Hand-overs to the mail server, counted for MAIL_RATE_LIMIT across every worker process."""

from datetime import datetime

import sqlalchemy.orm as so

from models import db
from models.types import UTCDateTime


class SendSlot(db.Model):
    __tablename__ = "send_slots"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # When this hand-over counts: while it is under way, a time ahead (it counts as now,
    # whatever the window); once the server answered, the time it answered. Counting the
    # end rather than the start keeps every window the server sees within the limit.
    counts_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)
