"""What the recipient does with the credential after the email: views, downloads, LinkedIn,
and others opening the public verification page; and which requests are not people."""

import functools
import re
from datetime import timedelta

import sqlalchemy as sa

import timeline
from models import EmailMessage, db, write_transaction
from models.states import EventType
from models.types import utcnow
from tracking import batches

# Security gateways (Safe Links, Mimecast, Proofpoint…) fetch every link in an email
# within seconds of delivery; a person rarely follows one that fast, and when they do
# their browser says which languages they read, which those scanners mostly do not.
# Apple Mail Privacy Protection fetches the images as fast, with a bare agent string.
SCAN_WINDOW = timedelta(minutes=2)
PREFETCH_AGENT = "Mozilla/5.0"
BOT_AGENT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|preview|scan|fetch|monitor|facebookexternalhit|"
    r"whatsapp|skype|embedly|curl|wget|python|java/|go-http|okhttp|libwww|httpclient|"
    r"axios|node-fetch|mimecast|proofpoint|barracuda|safelinks|symantec|trendmicro",
    re.IGNORECASE)

FAMILIES = [  # (substring of the User-Agent, family shown in the timeline), first match wins
    ("GoogleImageProxy", "Gmail (Google image proxy)"), ("YahooMailProxy", "Yahoo Mail"),
    ("Thunderbird", "Thunderbird"), ("Outlook", "Outlook"), ("Edg/", "Edge"),
    ("Firefox", "Firefox"), ("Chrome", "Chrome"), ("Safari", "Safari"),
    ("AppleWebKit", "Apple Mail"),
]
# Families that are web browsers, which send Accept-Language with every request, images
# too. Mail programs and webmail image proxies often send none (Gmail's never does, and its
# agent pretends to be a Firefox 11: its family is the proxy's).
BROWSERS = {"Edge", "Firefox", "Chrome", "Safari"}


def agent_family(user_agent):
    """A short name for the program behind a User-Agent string."""
    for needle, family in FAMILIES:
        if needle in (user_agent or ""):
            return family
    return "unknown program"


@functools.lru_cache(maxsize=4096)  # agents repeat, and the search costs 50 µs a string
def bot_agent(user_agent):
    """True for no agent at all, or a crawler's, a scanner's or an HTTP library's."""
    agent = (user_agent or "").strip()
    return not agent or bool(BOT_AGENT.search(agent))


def _soon(sent_at, now):
    return sent_at is not None and now - sent_at <= SCAN_WINDOW


def is_automated(method, user_agent, accept_language, sent_at, now):
    """True when a request is a program's, not a person's, so it counts as no view,
    download or share view: a HEAD request; no agent, a privacy proxy's bare one, or a
    crawler's or an HTTP library's; or, within SCAN_WINDOW of the email's delivery, a fetch
    without the Accept-Language header every browser sends (a link scanner's)."""
    if method == "HEAD" or bot_agent(user_agent) or user_agent.strip() == PREFETCH_AGENT:
        return True
    return _soon(sent_at, now) and not (accept_language or "").strip()


def automatic_open(user_agent, accept_language, sent_at, now):
    """Why a fetch of the tracking image was a program's (models.words.AUTO_OPENERS), or
    None: a bot's agent, whenever it comes; within SCAN_WINDOW of delivery, Apple's bare
    agent or a browser's without Accept-Language (a scanner rendering the email)."""
    if bot_agent(user_agent):
        return "bot"
    if not _soon(sent_at, now):
        return None
    if user_agent.strip() == PREFETCH_AGENT:
        return "privacy_proxy"
    if agent_family(user_agent) in BROWSERS and not (accept_language or "").strip():
        return "scanner"
    return None


def latest_sent_at(credential_id):
    """When the credential's newest email was handed over, or None."""
    return db.session.scalar(
        sa.select(EmailMessage.sent_at).where(EmailMessage.credential_id == credential_id)
        .order_by(EmailMessage.id.desc()).limit(1))


def person(request, sent_at=None):
    """True when the request looks like a person's (see is_automated)."""
    return not is_automated(request.method, request.user_agent.string,
                            request.headers.get("Accept-Language"), sent_at, utcnow())


def person_checker(request):
    """is_automated's verdict for this request, given when the email was delivered."""
    return lambda sent_at: person(request, sent_at)


def record(credential_id, kind, agent):
    """Record one engagement event of the recipient (an EventType: downloaded,
    linkedin_clicked) in a short transaction of its own."""
    with write_transaction() as connection:
        timeline.record(connection, [timeline.Event(kind, credential_id, utcnow(),
                                                    data={"agent": agent})])


def _record_share_views(connection, views):
    timeline.record(connection, [
        timeline.Event(EventType.SHARE_VIEWED, credential_id, at, data={"agent": agent})
        for credential_id, agent, at in views])


def shares(app):
    """This process's batch of share views noted by the public page (tracking.batches)."""
    return batches.batch(app, "share views", _record_share_views)


def note_share_view(app, credential_id, agent):
    """Someone opened the public page: a stranger's request, so the view is only noted, and
    written with others within a moment: no write lock, no wait."""
    shares(app).note((credential_id, agent, utcnow()))
