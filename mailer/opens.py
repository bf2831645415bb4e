"""Opens and link follows: who loaded the tracking image, and whether it was a person."""

from datetime import timedelta

import sqlalchemy as sa

from models import EmailEvent, EmailMessage
from models.status_count import sync_statuses
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


MESSAGES, EVENTS = EmailMessage.__table__, EmailEvent.__table__
BY_TOKEN = sa.select(MESSAGES.c.id, MESSAGES.c.credential_id, MESSAGES.c.sent_at,
                     MESSAGES.c.opened_at, MESSAGES.c.open_count).where(
    MESSAGES.c.token == sa.bindparam("token"))
COUNT_OPEN = (sa.update(MESSAGES).where(MESSAGES.c.id == sa.bindparam("opened_id"))
              .values(open_count=MESSAGES.c.open_count + 1,
                      opened_at=sa.func.coalesce(MESSAGES.c.opened_at, sa.bindparam("now"))))


def record_open(connection, token, user_agent, via="image"):
    """Record an open of the message a token names; a person's open (or a followed link)
    makes the status opened. Returns the message's row, or None for an unknown token."""
    if not token or len(token) > 64:
        return None
    message = connection.execute(BY_TOKEN, {"token": token}).first()
    if message is None:
        return None
    now = utcnow()
    event = {"credential_id": message.credential_id, "message_id": message.id, "at": now}
    if via == "image" and is_prefetch(user_agent, message.sent_at, now):
        connection.execute(EVENTS.insert(), {**event, "type": "auto_opened",
                                             "detail": "automatically, by a mail privacy proxy"})
        return message
    connection.execute(COUNT_OPEN, {"opened_id": message.id, "now": now})
    if via == "link":
        kind, detail = "viewed", f"followed the link ({agent_family(user_agent)})"
    else:
        kind, detail = "opened", f"by a person ({agent_family(user_agent)})"
    if via == "link" or message.open_count < MAX_OPEN_EVENTS:
        connection.execute(EVENTS.insert(), {**event, "type": kind, "detail": detail})
    if message.opened_at is None:
        sync_statuses(connection, [message.credential_id])
    return message
