"""Opens and link follows: who loaded the tracking image, and whether it was a person."""

from datetime import timedelta

import sqlalchemy as sa

import timeline
from models import Credential, EmailMessage, db, write_transaction
from models.states import EventType, IssueState
from models.types import utcnow
from tracking import batches

# Apple Mail Privacy Protection fetches images on delivery, with a bare agent string.
PREFETCH_AGENT = "Mozilla/5.0"
PREFETCH_WINDOW = timedelta(minutes=2)

FAMILIES = [  # (substring of the User-Agent, family shown in the timeline), first match wins
    ("GoogleImageProxy", "Gmail (Google image proxy)"), ("YahooMailProxy", "Yahoo Mail"),
    ("Thunderbird", "Thunderbird"), ("Outlook", "Outlook"), ("Edg/", "Edge"),
    ("Firefox", "Firefox"), ("Chrome", "Chrome"), ("Safari", "Safari"),
    ("AppleWebKit", "Apple Mail"),
]


def agent_family(user_agent):
    """A short name for the program behind a User-Agent string."""
    for needle, family in FAMILIES:
        if needle in (user_agent or ""):
            return family
    return "unknown program"


def is_prefetch(user_agent, sent_at, now):
    """True for a privacy proxy's automatic fetch: bare agent, seconds after delivery."""
    return ((user_agent or "").strip() == PREFETCH_AGENT and sent_at is not None
            and now - sent_at <= PREFETCH_WINDOW)


MESSAGES, CREDENTIALS = EmailMessage.__table__, Credential.__table__
BY_TOKENS = (sa.select(MESSAGES.c.id, MESSAGES.c.token, MESSAGES.c.credential_id,
                       MESSAGES.c.sent_at)
             .where(MESSAGES.c.token.in_(sa.bindparam("tokens", expanding=True))))


def record_opens(connection, hits):
    """Record opens in the caller's transaction: hits are (token, user agent, time, via).

    A person's open (or a followed link) makes the status opened; a privacy proxy's
    prefetch is only noted. Unknown tokens change nothing. Returns {token: message row}.
    """
    tokens = list({token for token, *_ in hits if token and len(token) <= 64})
    found = {row.token: row for row in connection.execute(BY_TOKENS, {"tokens": tokens})}
    events = []
    for token, user_agent, at, via in hits:
        message = found.get(token)
        if message is None:
            continue
        if via == "link":
            kind = EventType.VIEWED
        elif is_prefetch(user_agent, message.sent_at, at):
            kind = EventType.AUTO_OPENED
        else:
            kind = EventType.OPENED
        events.append(timeline.Event(kind, message.credential_id, at, message.id,
                                     data={"agent": agent_family(user_agent)}))
    timeline.record(connection, events)
    return found


def follow_link(token, user_agent, is_person=lambda sent_at: True):
    """The link in the email was followed: record it as an open and a view when
    is_person(sent_at) says a person followed it (tracking.engagement.is_automated), and
    return the token of the credential page to show (None for an unknown token, an
    unpublished credential, or an email to an address the credential no longer has)."""
    if not token or len(token) > 64:
        return None
    # A stranger's guess takes no write lock: the token is looked up first.
    with db.engine.connect() as connection:
        found = connection.execute(sa.select(MESSAGES.c.id, MESSAGES.c.sent_at)
                                   .where(MESSAGES.c.token == token)).first()
        if found is None:
            return None
        if not is_person(found.sent_at):  # a link scanner: shown the page, counted nowhere
            return connection.execute(_page_token(found.id)).scalar()
    with write_transaction() as connection:
        message = record_opens(connection, [(token, user_agent[:300], utcnow(), "link")]).get(
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
    """This process's batch of opens noted by the tracking image (tracking.batches)."""
    return batches.batch(app, "opens", record_opens)


def note_open(app, token, user_agent):
    """The tracking image was loaded: remember the open, to be written within a moment."""
    if token and len(token) <= 64:
        recorder(app).note((token, user_agent[:300], utcnow(), "image"))
