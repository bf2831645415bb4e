"""One-click unsubscribe from reminders and expiry notices (RFC 8058): the link each of
those emails carries, and what using it records (DESIGN.md, "Deliverability").

The link carries the email's row id signed with the app's secret and no time: unguessable,
and the same bytes on every retry of the email (its DKIM signature covers the header).
"""

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.dialects import postgresql, sqlite

import timeline
from models import Credential, EmailMessage, Unsubscribe, db, write_transaction
from models.states import EventType, MessagePurpose, MessageState
from models.types import UTCDateTime, utcnow

# The emails a recipient did not ask for: they carry the link, and stop once it is used.
# A delivery (a resend by the issuer too) carries none and still goes.
PURPOSES = (MessagePurpose.REMINDER, MessagePurpose.EXPIRY_NOTICE)
CREDENTIALS, MESSAGES, UNSUBSCRIBES = (Credential.__table__, EmailMessage.__table__,
                                       Unsubscribe.__table__)
NOT_YET_SENT = (MessageState.QUEUED, MessageState.RETRY)  # SENDING is in a worker's hands


def _signer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def url(message):
    """The absolute unsubscribe link of a queued email, or None for one that has none."""
    if message.purpose not in PURPOSES or message.credential_id is None:
        return None
    return f"{current_app.config['PUBLIC_BASE_URL']}/u/{_signer().dumps(message.id)}"


def headers(link):
    """RFC 8058's two headers for an email carrying this link ({} without one)."""
    if link is None:
        return {}
    return {"List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def find(token):
    """The email a link names (an EmailMessage with its credential), or None for a link
    that is not ours: a signature check and a read, no write lock."""
    if not token or len(token) > 100:
        return None
    try:
        message_id = _signer().loads(token)
    except BadData:
        return None
    if type(message_id) is not int:
        return None
    message = db.session.get(EmailMessage, message_id)
    return message if message is not None and message.credential_id is not None else None


def unsubscribed(org_id, address):
    """A condition: this organization's recipient at address (an SQL expression) asked
    for no more reminders; a primary-key look-up."""
    return sa.exists().where(UNSUBSCRIBES.c.org_id == org_id,
                             UNSUBSCRIBES.c.address == sa.func.lower(address))


def unsubscribe(message, via, now=None):
    """Stop every later reminder and expiry notice from the email's organization to its
    address, in one write transaction: the row, the ones queued already cancelled, and an
    "unsubscribed" event on its credential (and on each whose email was cancelled). Returns
    False when the address had unsubscribed already: nothing changes then."""
    now = now or utcnow()
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    with write_transaction() as connection:
        # lower() in SQL, as every look-up of the row compares with it.
        added = connection.execute(insert(Unsubscribe).from_select(
            ["org_id", "address", "credential_id", "created_at"],
            sa.select(MESSAGES.c.org_id, sa.func.lower(MESSAGES.c.to_address),
                      MESSAGES.c.credential_id, sa.literal(now, UTCDateTime))
            .where(MESSAGES.c.id == message.id))
            .on_conflict_do_nothing().returning(UNSUBSCRIBES.c.address)).scalar()
        if added is None:
            return False
        cancelled = connection.execute(
            sa.update(MESSAGES).where(
                MESSAGES.c.org_id == message.org_id,
                sa.func.lower(MESSAGES.c.to_address) == added,
                MESSAGES.c.purpose.in_(PURPOSES), MESSAGES.c.state.in_(NOT_YET_SENT))
            .values(state=MessageState.CANCELLED)
            .returning(MESSAGES.c.credential_id)).scalars().all()
        credentials = sorted({message.credential_id, *cancelled})
        timeline.record(connection, [timeline.Event(
            EventType.UNSUBSCRIBED, credential_id, now,
            message.id if credential_id == message.credential_id else None,
            data={"via": via, "cancelled": cancelled.count(credential_id)})
            for credential_id in credentials])
    return True
