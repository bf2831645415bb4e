"""In Chromium: the Analytics page draws its chart under the strict policy, no errors."""

import os

import pytest
from browser import LiveServer, Watch, chromium, log_in
from test_analytics import crafted

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp/issue14-analytics-shots")


def test_the_analytics_page_draws_the_funnel_and_the_chart(app, issuer):
    sync_api = pytest.importorskip("playwright.sync_api")
    crafted(issuer)
    with LiveServer(app) as server, sync_api.sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(15_000)
        watch = Watch(page.context, page)
        log_in(page, server)
        page.wait_for_url("**/credentials")
        page.get_by_role("link", name="Analytics").click()
        page.wait_for_url("**/analytics")
        page.wait_for_load_state("load")
        chart = page.locator("svg.day-chart")
        assert chart.bounding_box()["width"] > 600  # drawn, at the page's width
        tallest = page.locator('rect[data-count="2"]')
        assert tallest.bounding_box()["height"] > 50
        assert page.locator("tr[data-group] td[data-stage=opened]").first.inner_text() \
            .startswith("3")
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/analytics.png", full_page=True)
        watch.assert_clean("analytics")
        browser.close()
