"""The organization's queue page and the Credentials page's banner when mail stalls."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import Auth, add_event, ago, issue, mark_latest, message_with
from smtp_server import free_port

from models import EmailMessage, db
from models.types import utcnow
from views.health import duration, utc_clock

HTMX = {"HX-Request": "true"}
MESSAGES = EmailMessage.__table__


def stats(html):
    """{stat: number} of the queue panel."""
    return dict(re.findall(r'data-stat="(\w+)">\s*<dt>[^<]*</dt><dd>([\d,]+)</dd>', html))


def text(html):
    """The words of a page, tags and runs of white space gone."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_queue_page_shows_the_organizations_queue_and_the_last_reply(client, auth, issuer,
                                                                     rival):
    message_with(issuer, next_attempt_at=ago(3))
    message_with(issuer, state="sending", lease_until=ago(-1))
    next_try = ago(-4)  # a temporary failure: tried again in 4 and in 20 minutes
    for when in (next_try, ago(-20)):
        message_with(issuer, state="retry", attempts=1, next_attempt_at=when)
    sent = message_with(issuer, state="sent", sent_at=ago(30))
    add_event(sent, "sent", ago(30), "250 2.0.0 <Ok> & queued <script>alert(1)</script>")
    bounced = message_with(issuer, state="bounced")
    add_event(bounced, "bounced", ago(40), "550 5.1.1 unknown")
    for _ in range(4):  # theirs: never on our page
        message_with(rival, next_attempt_at=ago(50))
    add_event(message_with(rival, state="sent", sent_at=ago(1)), "sent", ago(1), "250 rival reply")

    auth.login()
    html = client.get("/queue").text
    assert stats(html) == {"due": "1", "sending": "1", "sent": "1", "bounced": "1"}
    words = text(html)
    assert "Oldest waiting email due 3 minutes ago" in words
    assert (f"To be tried again 2 after a temporary failure, the next at {next_try:%H:%M} UTC"
            in words)
    assert "250 2.0.0 &lt;Ok&gt; &amp; queued &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "rival reply" not in html
    assert re.search(r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>', html)
    assert '<a href="/queue">Queue</a>' in html  # in the navigation

    panel = client.get("/queue", headers=HTMX).text
    assert re.match(r'\s*<section id="queue-panel"[^>]*hx-get="/queue" hx-trigger="every 5s"',
                    panel) and "<html" not in panel
    assert stats(panel) == stats(html)

    client.post("/logout")
    Auth(client).login("issuer@rival.test")
    theirs = client.get("/queue").text
    assert stats(theirs) == {"due": "4", "sending": "0", "sent": "1", "bounced": "0"}
    assert "250 rival reply" in theirs and "&lt;Ok&gt;" not in theirs


def test_queue_page_needs_a_login_and_says_when_nothing_waits(app, client, auth):
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    assert client.get("/queue").headers["Location"].startswith("/login")
    auth.login()
    words = text(client.get("/queue").text)
    assert "Nothing is waiting." in words and "To be tried again None." in words
    assert "No email was handed to the mail server yet." in words
    assert "Mail server Unreachable" in words


def banner(html):
    """The words of the stall banner, or None."""
    found = re.search(r'<div id="stall-banner"[^>]*>(.*?)</div>', html, re.S)
    return text(found.group(1)) or None


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_credentials_banner_while_the_mail_server_takes_nothing(client, auth, issuer, rival):
    oldest = message_with(issuer, created_at=ago(12), next_attempt_at=ago(12))
    for minutes in (8, 7):
        message_with(issuer, created_at=ago(minutes), next_attempt_at=ago(minutes))
    message_with(rival, state="sent", sent_at=ago(9))  # the last email any server took
    since = oldest.created_at

    auth.login()
    html = client.get("/credentials").text
    words = banner(html)
    assert re.fullmatch(
        r"Emails are not going out The mail server has not accepted any email for 9 minutes: "
        rf"3 emails are waiting, the oldest since (\d+ \w+ )?{since:%H:%M} UTC\. "
        r"See the mail queue What to do", words), words
    assert 'href="/queue"' in html and 'href="/help/#mail-server"' in html
    assert 'id="mail-server"' in client.get("/help/").text

    # The status poller brings the banner while rows still wait…
    live = client.get(f"/credentials/live?id={oldest.credential_id}", headers=HTMX).text
    assert 'id="stall-banner" hx-swap-oob="true"' in live and "9 minutes" in banner(live)

    # …and takes it away once the server took an email again and rows changed.
    oldest.sent_at = utcnow()
    mark_latest(oldest.credential, "sent")
    live = client.get(f"/credentials/live?id={oldest.credential_id}", headers=HTMX).text
    assert 'id="stall-banner" hx-swap-oob="true"' in live and banner(live) is None
    assert banner(client.get("/credentials").text) is None

    client.post("/logout")
    Auth(client).login("issuer@rival.test")
    assert banner(client.get("/credentials").text) is None


def test_no_banner_while_mail_goes_out_or_for_a_short_wait(client, auth, issuer):
    auth.login()
    waiting = issue(issuer, email="jane@example.com", action="publish")
    assert banner(client.get("/credentials").text) is None  # due a moment ago
    db.session.execute(sa.update(MESSAGES).where(MESSAGES.c.credential_id == waiting.id)
                       .values(next_attempt_at=ago(6)))
    message_with(issuer, state="sent", sent_at=ago(4))
    assert banner(client.get("/credentials").text) is None  # the server took one 4 min ago
    # The poller's answer stays empty while nothing changed and nothing stalls.
    assert client.get(f"/credentials/live?id={waiting.id}", headers=HTMX).text == ""


@pytest.mark.parametrize("seconds, words", [
    (0, "0 seconds"), (1, "1 second"), (59, "59 seconds"), (60, "1 minute"),
    (3599, "59 minutes"), (3600, "1 hour"), (3659, "1 hour"), (7500, "2 hours 5 minutes"),
    (86400, "1 day"), (90000, "1 day 1 hour"), (3 * 86400 + 7199, "3 days 1 hour"),
])
def test_durations_in_words(seconds, words):
    assert duration(seconds) == words


def test_times_of_day_in_utc_with_the_day_when_not_today():
    now = utcnow()
    assert utc_clock(now) == f"{now:%H:%M} UTC"
    earlier = now - timedelta(days=3)
    assert utc_clock(earlier) == f"{earlier.day} {earlier:%b %H:%M} UTC"
