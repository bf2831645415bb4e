"""One-time links by email: an invitation (valid 7 days) and a password reset (1 hour).

A link carries its row's id signed with the app's secret (itsdangerous): unguessable, and
the database keeps nothing a reader could turn into a link. Each works once; the queue
sends it as a system email that counts nowhere.
"""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

import issuing
from models import AccountToken, ResetRequest, User, db, write_transaction
from models.states import MessagePurpose, TokenPurpose
from models.types import utcnow

VALID_FOR = {TokenPurpose.INVITATION: timedelta(days=7),
             TokenPurpose.PASSWORD_RESET: timedelta(hours=1)}
PATHS = {TokenPurpose.INVITATION: "/invitations/", TokenPurpose.PASSWORD_RESET:
         "/password/reset/"}
TOKENS, REQUESTS = AccountToken.__table__, ResetRequest.__table__


class LinkNotValid(Exception):
    """A link that is not ours, was used, or expired; the message says which, plainly."""


def _signer(purpose):
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"account-{purpose}")


def send(connection, user, purpose, requested_by_id, now=None):
    """Queue the email carrying a new link of this purpose to the person."""
    now = now or utcnow()
    message_id = issuing.queue_system_email(connection, user.org_id, requested_by_id,
                                            user.email, MessagePurpose(purpose), now)
    connection.execute(sa.insert(TOKENS).values(
        user_id=user.id, purpose=purpose, created_at=now, expires_at=now + VALID_FOR[purpose],
        email_message_id=message_id))


def url_for_message(message_id):
    """The absolute link the email of this queue row carries."""
    token = db.session.scalar(sa.select(AccountToken).filter_by(email_message_id=message_id))
    return (current_app.config["PUBLIC_BASE_URL"] + PATHS[token.purpose]
            + _signer(token.purpose).dumps(token.id))


def find(text, purpose, now=None):
    """The unused, unexpired token a link names, with its person; else LinkNotValid."""
    try:
        token_id = _signer(purpose).loads(text)
    except BadSignature:
        raise LinkNotValid("This link is not valid: copy the whole link from the email.") \
            from None
    token = db.session.get(AccountToken, token_id) if isinstance(token_id, int) else None
    if token is None or token.purpose != purpose or token.user.removed_at is not None:
        raise LinkNotValid("This link is not valid any more.")
    if token.used_at is not None:
        raise LinkNotValid("This link was used already: each works once.")
    if token.expires_at <= (now or utcnow()):
        raise LinkNotValid("This link has expired.")
    return token


def use(token, now=None):
    """Spend the token, and every other open link of its purpose to the same person."""
    db.session.execute(sa.update(AccountToken).where(
        AccountToken.user_id == token.user_id, AccountToken.purpose == token.purpose,
        AccountToken.used_at.is_(None)).values(used_at=now or utcnow()))


def ask_for_reset(address, now=None):
    """Note a reset request for the mail job: the same write whether or not an account has
    the address, so the answer tells nothing, not even by its time."""
    db.session.add(ResetRequest(address=address[:254], at=now or utcnow()))


def send_requested_resets(now=None):
    """Take the reset requests waiting and queue a link to each that names a person still
    here; return how many were sent."""
    now = now or utcnow()
    with write_transaction() as connection:
        addresses = connection.execute(sa.delete(REQUESTS).returning(REQUESTS.c.address)) \
            .scalars().all()
        if not addresses:
            return 0
        people = db.session.scalars(sa.select(User).where(
            User.email.in_(set(addresses)), User.removed_at.is_(None))).all()
        for person in people:
            send(connection, person, TokenPurpose.PASSWORD_RESET, person.id, now)
        return len(people)
