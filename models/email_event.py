"""One entry in a recipient's timeline: queued, sent, bounced, opened, resent…"""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db, words
from models.states import EventType, one_of
from models.types import UTCDateTime, utcnow


class EmailEvent(db.Model):
    __tablename__ = "email_events"
    __table_args__ = (
        sa.Index("ix_email_events_timeline", "credential_id", "at"),
        # Counts by type for /metrics, the last hour's bounces and the mail server's last
        # reply (mailer.health), without reading the whole table.
        sa.Index("ix_email_events_type_at", "type", "at"),
        # An email's events of a type, counted from the index alone (timeline's caps).
        sa.Index("ix_email_events_message_type", "email_message_id", "type"),
        sa.CheckConstraint(one_of("type", EventType), name="type"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    credential_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("credentials.id", ondelete="CASCADE")
    )
    email_message_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("email_messages.id", ondelete="CASCADE")
    )
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    type: so.Mapped[str] = so.mapped_column(sa.String(20))  # EventType
    # The event's reason: why it bounced or was deferred (models.words.REASONS), or why the
    # email was resent (RESEND_CAUSES).
    code: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    # What came from outside with it: the server's reply, the old and new address, the
    # mail program; rendered into words by models.words.event_detail.
    data: so.Mapped[dict | None] = so.mapped_column(sa.JSON)
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    credential: so.Mapped["Credential"] = so.relationship()  # noqa: F821
    message: so.Mapped["EmailMessage | None"] = so.relationship()  # noqa: F821
    user: so.Mapped["User | None"] = so.relationship()  # noqa: F821

    @property
    def label(self):
        """The event's name in the timeline."""
        return words.EVENT_LABELS.get(self.type, self.type)

    @property
    def detail(self):
        """What happened, in plain words."""
        to_address = self.message.to_address if self.message else None
        return words.event_detail(self.type, self.code, self.data or {}, to_address)

    def as_json(self):
        """The API's view of the event."""
        return {"type": self.type, "at": self.at.isoformat(), "detail": self.detail}

    def __repr__(self):
        return f"<EmailEvent {self.type} credential={self.credential_id}>"
