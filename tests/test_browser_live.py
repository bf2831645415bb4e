"""In Chromium: 20 credentials sent through a slow SMTP server turn to *Email is not opened*
without a reload, with one status request per poll interval at most, and none after."""

import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from browser import LiveServer, chromium, log_in
from conftest import PASSWORD, issue, make_app
from smtp_server import Sink

from accounts import create_user
from jobs import add_jobs
from models import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]
POLL = 0.5


@pytest.fixture
def running(tmp_path):
    """The app served live, its queue run by APScheduler, mail going to a slow server."""
    sink = Sink().start()
    sink.delay = 0.15
    app = make_app(tmp_path, MAIL_PORT=sink.port, STATUS_POLL_SECONDS=POLL,
                   QUEUE_INTERVAL_SECONDS=0.3, BATCH_SIZE=5)
    scheduler = BackgroundScheduler(timezone="UTC")
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        db.session.commit()
        with LiveServer(app) as server:
            yield app, user, server, scheduler, sink
        if scheduler.running:
            scheduler.shutdown()
        sink.stop()
        db.session.remove()
        db.engine.dispose()


def test_rows_turn_not_opened_live_with_bounded_polling(running):
    sync_api = pytest.importorskip("playwright.sync_api")
    app, user, server, scheduler, sink = running
    for i in range(20):
        issue(user, name=f"Recipient {i:02}", email=f"r{i}@example.com", action="publish")
    with sync_api.sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page()
        polls, in_flight, most_in_flight = [], set(), [0]

        def started(request):
            if "/credentials/live" in request.url:
                polls.append(time.monotonic())
                in_flight.add(request)
                most_in_flight[0] = max(most_in_flight[0], len(in_flight))

        page.on("request", started)
        page.on("requestfinished", lambda r: in_flight.discard(r))
        page.on("requestfailed", lambda r: in_flight.discard(r))
        log_in(page, server)
        opened = time.monotonic()  # no poll can come before the page is there
        rows = page.locator("tr[data-email-status]")
        sync_api.expect(rows).to_have_count(20)
        assert page.locator("tr[data-email-status=sending]").count() == 20
        loaded = page.evaluate("performance.timeOrigin")

        add_jobs(scheduler, app)
        scheduler.start()
        sync_api.expect(page.locator("tr[data-email-status=not_opened]")).to_have_count(
            20, timeout=60_000)
        settled = time.monotonic()
        sync_api.expect(page.locator('a.filter[data-status="not_opened"] .count')).to_have_text(
            "20")
        assert page.evaluate("performance.timeOrigin") == loaded  # never reloaded

        # At most one request per interval, whatever the number of rows still sending.
        during = [t for t in polls if t <= settled]
        assert 1 <= len(during) <= (settled - opened) / POLL + 1
        # A slow answer delays the next poll (htmx queues it) but never overlaps it, so
        # polls never pile up on a busy server.
        assert most_in_flight[0] == 1
        # None once no row is sending.
        count = len(polls)
        page.wait_for_timeout(POLL * 6 * 1000)
        assert len(polls) == count
        browser.close()
    assert len(sink.received) == 20
