"""In Chromium: the queue page updates itself; the stall banner comes with the status poller."""

from datetime import timedelta

import pytest
from browser import LiveServer, Watch, chromium, log_in
from conftest import ago, message_with

from models.types import utcnow

pytestmark = pytest.mark.browser


@pytest.fixture
def page(app, issuer):
    """A logged-in page on the live app; fails the test on any console error."""
    sync_api = pytest.importorskip("playwright.sync_api")
    app.config["STATUS_POLL_SECONDS"] = 0.5
    with LiveServer(app) as server, sync_api.sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        watch = Watch(page.context, page)
        log_in(page, server)
        # Every image of the Credentials page loaded: none left half-sent when we navigate.
        page.wait_for_url("**/credentials")
        page.wait_for_load_state("load")
        page.base_url = server.url
        yield page
        watch.assert_clean("queue page and banner")
        browser.close()


def test_queue_panel_updates_itself_without_a_reload(page, issuer):
    from playwright.sync_api import expect

    page.goto(page.base_url + "/queue")
    due = page.locator('[data-stat="due"] dd')
    expect(due).to_have_text("0")
    expect(page.locator('[data-fact="oldest"]')).to_have_text("Nothing is waiting.")
    loaded = page.evaluate("performance.timeOrigin")
    message_with(issuer, next_attempt_at=ago(2))
    message_with(issuer, next_attempt_at=ago(1))
    expect(due).to_have_text("2", timeout=10_000)  # the next poll, within 5 s
    expect(page.locator('[data-fact="oldest"]')).to_have_text("due 2 minutes ago")
    assert page.evaluate("performance.timeOrigin") == loaded


def test_stall_banner_arrives_with_the_status_poller(page, issuer):
    from playwright.sync_api import expect

    # The server took an email 4 min 56 s ago; one has waited for 10 minutes.
    message_with(issuer, state="sent", sent_at=utcnow() - timedelta(seconds=296))
    message_with(issuer, created_at=ago(10), next_attempt_at=ago(10))
    page.goto(page.base_url + "/credentials")
    alert = page.get_by_role("alert")
    expect(alert).to_have_count(0)
    loaded = page.evaluate("performance.timeOrigin")
    expect(alert).to_contain_text(  # 4 s from now, the next poll after that
        "The mail server has not accepted any email for 5 minutes: 1 email is waiting",
        timeout=10_000)
    expect(alert.get_by_role("link", name="See the mail queue")).to_have_attribute(
        "href", "/queue")
    assert page.evaluate("performance.timeOrigin") == loaded
