"""The signed bytes of a message waiting for its retry: a retry sends what was signed the
first time (mailer.signing), and the row goes once the message is done (jobs' upkeep)."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.states import IN_FLIGHT
from models.types import UTCDateTime, utcnow


class SignedMessage(db.Model):
    __tablename__ = "signed_messages"

    message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("email_messages.id", ondelete="CASCADE"), primary_key=True)
    raw: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def forget_done(cls, connection):
        """Drop the bytes of messages no longer waiting to be sent (sent, bounced, cancelled)."""
        messages = sa.table("email_messages", sa.column("id"), sa.column("state"))
        connection.execute(sa.delete(cls).where(sa.exists().where(
            messages.c.id == cls.message_id, messages.c.state.not_in(list(IN_FLIGHT)))))

    def __repr__(self):
        return f"<SignedMessage {self.message_id}>"
