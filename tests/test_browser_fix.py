"""In Chromium: a bounced …@gmial.com row suggests the fix; accept it, resend, and watch the
row go to Sending, then Email is not opened. The help page explains all six statuses."""

import pytest
from browser import chromium, log_in, served_with_jobs
from conftest import PASSWORD, issue, make_app

from accounts import create_user
from models import db
from models.status import EmailStatus

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_fix_a_typo_and_resend(tmp_path, sink):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    sink.answer("tim@gmial.com", "550 5.1.1 <tim@gmial.com>: Recipient address rejected")
    sink.delay = 0.3  # long enough to see "Sending"
    app = make_app(tmp_path, MAIL_PORT=sink.port, STATUS_POLL_SECONDS=0.5,
                   QUEUE_INTERVAL_SECONDS=0.3)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        issue(user, name="Tim Typo", email="tim@gmial.com", action="publish")
        with served_with_jobs(app) as server, sync_api.sync_playwright() as playwright:
            browser = chromium(playwright)
            page = browser.new_page()
            log_in(page, server)
            row = page.locator("tr", has_text="Tim Typo")
            expect(row).to_have_attribute("data-email-status", "bounced", timeout=20_000)
            expect(row).to_contain_text("Did you mean tim@gmail.com?")

            row.get_by_role("link", name="Fix & resend").click()
            panel = page.locator("#detail-panel")
            expect(panel).to_contain_text("The mailbox does not exist.")
            panel.get_by_role("button", name="Use it").click()
            expect(panel).to_contain_text("Address saved")
            expect(row.locator("td.email")).to_contain_text("tim@gmail.com")
            panel.get_by_role("button", name="Resend email").click()
            expect(row).to_have_attribute("data-email-status", "sending")
            expect(row).to_have_attribute("data-email-status", "not_opened", timeout=20_000)
            expect(row).to_contain_text("Email is not opened")

            row.get_by_role("link", name="Email is not opened").click()
            for status in EmailStatus:
                expect(page.locator(f"section#{status.value}")).to_contain_text(status.label)
            browser.close()
        db.engine.dispose()
    assert [rcpt for rcpt, _, _ in sink.received] == ["tim@gmail.com"]
