"""In Chromium: register a webhook on the Settings page, send a test event, see its
delivery arrive and show in the log, under the strict Content-Security-Policy."""

import os
import time

import pytest
import sqlalchemy as sa
from browser import Watch, chromium, log_in, served_with_jobs
from conftest import PASSWORD, make_app
from standardwebhooks import Webhook
from webhook_receiver import Receiver

from accounts import create_user
from models import WebhookAttempt, WebhookEndpoint, db, write_lock
from models.types import utcnow

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = os.environ.get("SHOTS")  # a folder to save screenshots in, when set


def test_register_test_and_watch_a_webhook(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    receiver = Receiver().start()
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True, WEBHOOK_ALLOW_HTTP=True,
                   WEBHOOK_ALLOW_PRIVATE=True, QUEUE_INTERVAL_SECONDS=0.3)
    with app.app_context():
        create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    try:
        with served_with_jobs(app) as server, sync_api.sync_playwright() as playwright:
            browser = chromium(playwright)
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()
            watch = Watch(context, page)
            log_in(page, server)
            page.goto(server.url + "/settings/")
            page.locator("#webhooks").scroll_into_view_if_needed()
            _shot(page, "settings-index")
            page.get_by_role("link", name="add and test webhook endpoints").click()
            page.get_by_label("URL").fill(receiver.url)
            page.get_by_label("All events").check()
            page.get_by_role("button", name="Add endpoint").click()
            secret = page.locator("#new-secret").inner_text()
            assert secret.startswith("whsec_")
            _shot(page, "webhooks-new-secret")
            page.get_by_role("button", name="Send test event").click()
            ((_, headers, body),) = receiver.wait_for(1)
            assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"
            with app.app_context():  # the worker records the answer after it came
                deadline = time.monotonic() + 30
                while not db.session.scalar(sa.select(sa.func.count()).select_from(
                        WebhookAttempt)):
                    assert time.monotonic() < deadline, "the try was never recorded"
                    db.session.rollback()
                    time.sleep(0.05)
            page.reload()
            expect(page.locator(".webhook-log tbody tr")).to_have_count(1)
            expect(page.locator(".webhook-log")).to_contain_text("answer 200")
            _shot(page, "webhooks-log")
            with app.app_context():
                write_lock()  # the jobs write meanwhile: a read, then a write, could fail
                endpoint = db.session.scalars(sa.select(WebhookEndpoint)).one()
                endpoint.disabled_at = endpoint.failing_since = utcnow()
                db.session.commit()
            page.goto(server.url + "/credentials")
            expect(page.locator(".webhooks-off")).to_contain_text("switched off")
            _shot(page, "credentials-webhooks-off")
            page.goto(server.url + "/settings/webhooks/")
            _shot(page, "webhooks-switched-off")
            page.get_by_role("button", name="Switch on again").click()
            expect(page.locator(".webhooks-off")).to_have_count(0)
            watch.assert_clean("webhooks pages")
            browser.close()
    finally:
        receiver.stop()
        with app.app_context():
            db.engine.dispose()


def _shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
