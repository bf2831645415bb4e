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
        polls = []
        page.on("request", lambda r: polls.append(time.monotonic())
                if "/credentials/live" in r.url else None)
        log_in(page, server)
        opened = time.monotonic()  # no poll can come before the page is there
        rows = page.locator("tr[data-email-status]")
        sync_api.expect(rows).to_have_count(20)
        assert page.locator("tr[data-email-status=sending]").count() == 20
        loaded = page.evaluate("performance.timeOrigin")
        # The poller's requests in flight, counted by htmx's own events in the page (the
        # browser's network events for two requests may reach the test out of order).
        page.evaluate("""() => {
            const poller = (event) => event.detail.elt.id === "status-poller";
            window.polling = {now: 0, most: 0};
            document.body.addEventListener("htmx:beforeSend", (event) => {
                if (poller(event)) {
                    polling.now += 1;
                    polling.most = Math.max(polling.most, polling.now);
                }
            });
            document.body.addEventListener("htmx:afterRequest", (event) => {
                if (poller(event)) polling.now -= 1;
            });
        }""")

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
        assert page.evaluate("polling.most") == 1
        # None once no row is sending.
        count = len(polls)
        page.wait_for_timeout(POLL * 6 * 1000)
        assert len(polls) == count
        browser.close()
    assert len(sink.received) == 20
