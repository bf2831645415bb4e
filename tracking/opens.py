"""Opens and link follows: who loaded the tracking image, and whether it was a person."""

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app

import timeline
from models import Credential, EmailMessage, db, write_transaction
from models.states import EventType, IssueState
from models.types import utcnow
from tracking import batches
from tracking.engagement import agent_family, automatic_open, bot_agent


class Hit(NamedTuple):
    """One fetch of the tracking image or of the email's link."""

    token: str
    user_agent: str
    at: datetime
    via: str  # image | link (a person followed it) | scan (a program did)
    language: str = ""  # the Accept-Language header it came with


MESSAGES, CREDENTIALS = EmailMessage.__table__, Credential.__table__
BY_TOKENS = (sa.select(MESSAGES.c.id, MESSAGES.c.token, MESSAGES.c.credential_id,
                       MESSAGES.c.sent_at)
             .where(MESSAGES.c.token.in_(sa.bindparam("tokens", expanding=True))))


def record_opens(connection, hits):
    """Record opens in the caller's transaction: hits are Hits (or tuples of their fields).

    A person's open (or a followed link) makes the status opened; a program's fetch (a
    privacy proxy's prefetch, a scanner's, a bot's: tracking.engagement) is only noted.
    Unknown tokens change nothing. Returns {token: message row}.
    """
    hits = [Hit(*hit) for hit in hits]
    tokens = list({hit.token for hit in hits if hit.token and len(hit.token) <= 64})
    found = {row.token: row for row in connection.execute(BY_TOKENS, {"tokens": tokens})}
    events = []
    for hit in hits:
        message = found.get(hit.token)
        if message is None:
            continue
        if hit.via == "link":
            kind, why = EventType.VIEWED, None
        elif hit.via == "scan":  # is_automated said so as it was followed
            kind, why = EventType.AUTO_OPENED, "bot" if bot_agent(hit.user_agent) else "scanner"
        else:
            why = automatic_open(hit.user_agent, hit.language, message.sent_at, hit.at)
            kind = EventType.AUTO_OPENED if why else EventType.OPENED
        events.append(timeline.Event(kind, message.credential_id, hit.at, message.id, why,
                                     data={"agent": agent_family(hit.user_agent)}))
    timeline.record(connection, events)
    return found


def follow_link(token, user_agent, is_person=lambda sent_at: True):
    """The link in the email was followed: record it as an open and a view when
    is_person(sent_at) says a person followed it (tracking.engagement.is_automated), else
    note it as an automatic open; return the token of the credential page to show (None
    for an unknown token, an unpublished credential, or an email to an address the
    credential no longer has)."""
    if not token or len(token) > 64:
        return None
    # A stranger's guess takes no write lock: the token is looked up first.
    with db.engine.connect() as connection:
        found = connection.execute(sa.select(MESSAGES.c.id, MESSAGES.c.sent_at)
                                   .where(MESSAGES.c.token == token)).first()
        if found is None:
            return None
        if not is_person(found.sent_at):  # a link scanner: noted, written with the opens
            recorder(current_app._get_current_object()).note(
                Hit(token, user_agent[:300], utcnow(), "scan"))
            return connection.execute(_page_token(found.id)).scalar()
    with write_transaction() as connection:
        message = record_opens(connection, [Hit(token, user_agent[:300], utcnow(), "link")]).get(
            token)
        if message is None:
            return None
        return connection.execute(_page_token(message.id)).scalar()


def _page_token(message_id):
    """The query for the token of the credential page a message's link shows: none for an
    email to an address the credential no longer has."""
    return (sa.select(CREDENTIALS.c.token)
            .join(MESSAGES, MESSAGES.c.credential_id == CREDENTIALS.c.id)
            .where(MESSAGES.c.id == message_id, CREDENTIALS.c.issue_state == IssueState.PUBLISHED,
                   sa.func.lower(CREDENTIALS.c.recipient_email)
                   == sa.func.lower(MESSAGES.c.to_address)))


def recorder(app):
    """This process's batch of opens noted by the tracking image and by link scanners
    (tracking.batches)."""
    return batches.batch(app, "opens", record_opens)


def note_open(app, token, user_agent, language=""):
    """The tracking image was loaded: remember the open, to be written within a moment."""
    if token and len(token) <= 64:
        recorder(app).note(Hit(token, user_agent[:300], utcnow(), "image", language[:100]))
