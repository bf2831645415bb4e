"""In Chromium: a recipient opens the unsubscribe link of a reminder, reads what it does and
clicks the button; the issuer sees the mark on the Credentials page. Each page passes
axe-core's WCAG 2.1 A/AA rules under the app's Content-Security-Policy."""

from datetime import timedelta

import pytest
from browser import LiveServer, chromium, log_in
from conftest import PASSWORD, issue, make_app, mark_latest
from test_browser_lifecycle import assert_accessible

import issuing
from accounts import create_user
from lifecycle import unsubscribes
from models import Unsubscribe, db
from models.states import MessagePurpose
from models.types import utcnow

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_unsubscribe_page_button_and_mark(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        ada = mark_latest(issue(user, name="Ada Lovelace", email="ada@example.com",
                                action="publish"), "sent")
        ada.latest_message.sent_at = utcnow() - timedelta(days=5)
        issuing.resend(db.session.connection(), [ada], cause="reminder",
                       purpose=MessagePurpose.REMINDER)
        db.session.commit()
        with LiveServer(app) as server, sync_api.sync_playwright() as playwright:
            app.config["PUBLIC_BASE_URL"] = server.url
            link = unsubscribes.url(ada.messages[-1])
            browser = chromium(playwright)
            # Under the app's policy first: nothing it refuses (a refusal is a console error).
            strict = browser.new_context().new_page()
            strict.set_default_timeout(15_000)
            errors = []
            strict.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            strict.goto(link)
            strict.get_by_role("button", name="Unsubscribe").click()
            expect(strict.get_by_role("status")).to_contain_text(
                "Acme Academy will send you no more reminders")
            assert errors == []
            db.session.rollback()
            assert db.session.get(Unsubscribe, (user.org_id, "ada@example.com")) is not None

            # Without the page's policy only so that the test can add axe-core's script.
            page = browser.new_context(bypass_csp=True).new_page()
            page.set_default_timeout(15_000)
            page.goto(link)
            expect(page.get_by_role("heading", name="Unsubscribe from reminders")).to_be_visible()
            assert_accessible(page, "unsubscribe page")
            page.get_by_role("button", name="Unsubscribe").click()  # again: the same answer
            expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
            assert_accessible(page, "unsubscribed")
            page.goto(link + "x")
            expect(page.get_by_role("heading")).to_have_text("This unsubscribe link is not valid")
            assert_accessible(page, "link not valid")

            log_in(page, server)
            row = page.locator("tr", has_text="Ada Lovelace")
            expect(row.locator(".unsubscribed-mark")).to_have_text("Unsubscribed from reminders")
            assert_accessible(page, "credentials with the mark")
            browser.close()
        db.engine.dispose()
