"""Opens and link follows: who loaded the tracking image, and whether it was a person."""

from datetime import timedelta

import sqlalchemy as sa

from models import EmailEvent, EmailMessage, db
from models.types import utcnow

# Apple Mail Privacy Protection fetches images on delivery, with a bare agent string.
PREFETCH_AGENT = "Mozilla/5.0"
PREFETCH_WINDOW = timedelta(minutes=2)
MAX_OPEN_EVENTS = 20  # per message: later opens are counted, not written to the timeline

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


def find(token):
    """The message a token names, or None (forged, empty or too long tokens included)."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(EmailMessage).where(EmailMessage.token == token))


def record_open(message, user_agent, via="image"):
    """Record an open; a person's open (or a followed link) makes the status opened."""
    now = utcnow()
    if via == "image" and is_prefetch(user_agent, message.sent_at, now):
        _event(message, "auto_opened", "automatically, by a mail privacy proxy", now)
        return False
    message.open_count += 1
    first = message.opened_at is None
    if first:
        message.opened_at = now
    if via == "link":
        _event(message, "viewed", f"followed the link ({agent_family(user_agent)})", now)
    elif first or message.open_count <= MAX_OPEN_EVENTS:
        _event(message, "opened", f"by a person ({agent_family(user_agent)})", now)
    return True


def _event(message, type_, detail, now):
    db.session.add(EmailEvent(credential_id=message.credential_id, message=message,
                              type=type_, detail=detail, at=now))
