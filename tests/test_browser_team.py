"""In Chromium: an owner invites a colleague as viewer; the colleague opens the invitation's
link from the email, sets a password, reads the credentials and is refused issuing; the
owner reads the audit log; someone asks for a password reset. Each page passes axe-core's
WCAG 2.1 A/AA rules."""

import email
import email.policy
import re

import pytest
from browser import chromium, log_in, served_with_jobs
from conftest import PASSWORD, issue, make_app
from test_browser_lifecycle import assert_accessible

from accounts import create_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def link_of(sink, number):
    sink.wait_for(number)
    mail = email.message_from_bytes(sink.received[number - 1][2], policy=email.policy.default)
    return re.search(r"https?://\S+", mail.get_body(("plain",)).get_content()).group(0)


def test_invite_a_viewer_who_joins_reads_and_may_not_issue(tmp_path, sink):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app = make_app(tmp_path, MAIL_PORT=sink.port, WTF_CSRF_ENABLED=True,
                   QUEUE_INTERVAL_SECONDS=0.3)
    with app.app_context():
        owner = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        issue(owner, name="Ada Lovelace", action="publish")
        with served_with_jobs(app) as server, sync_api.sync_playwright() as playwright:
            app.config["PUBLIC_BASE_URL"] = server.url
            browser = chromium(playwright)
            page = browser.new_context(bypass_csp=True).new_page()
            page.set_default_timeout(15_000)
            log_in(page, server)
            page.get_by_role("link", name="Settings").click()
            page.get_by_role("link", name="invite people and change their roles").click()
            assert_accessible(page, "people")
            page.get_by_label("Email address").fill("grace@example.com")
            page.get_by_label("Role", exact=True).select_option("viewer")
            page.get_by_role("button", name="Send the invitation").click()
            expect(page.get_by_role("status")).to_contain_text("Invited grace@example.com")
            expect(page.locator("#person-2")).to_contain_text("not joined yet")
            assert_accessible(page, "people with an invitation")

            # The colleague, in a browser of their own, from the email.
            colleague = browser.new_context(bypass_csp=True).new_page()
            colleague.set_default_timeout(15_000)
            colleague.goto(link_of(sink, 2))  # the first email is Ada's credential
            expect(colleague.get_by_role("heading", name="Join your organization")).to_be_visible()
            assert_accessible(colleague, "set a password")
            colleague.get_by_label("New password (at least 8 characters)").fill("grace's pass")
            colleague.get_by_role("button", name="Set the password").click()
            expect(colleague.locator("tr[data-email-status]")).to_have_count(1)
            expect(colleague.get_by_role("link", name="Issue", exact=True)).to_have_count(0)
            colleague.goto(server.url + "/credentials/new")
            expect(colleague.get_by_role("heading")).to_have_text(
                "Your role does not allow this")
            assert_accessible(colleague, "refused")

            # The owner reads who did what.
            page.get_by_role("link", name="Audit", exact=True).click()
            expect(page.locator("table.audit")).to_contain_text("person.join")
            expect(page.locator("table.audit")).to_contain_text("grace@example.com")
            page.get_by_label("Action").select_option("person")
            page.get_by_role("button", name="Filter").click()
            expect(page.locator("table.audit tbody tr")).to_have_count(2)
            assert_accessible(page, "audit log")

            # Forgot the password: the same answer for anyone; the link works once.
            stranger = browser.new_context(bypass_csp=True).new_page()
            stranger.goto(server.url + "/login")
            stranger.get_by_role("link", name="Forgot your password?").click()
            assert_accessible(stranger, "forgot")
            stranger.get_by_label("Email").fill("grace@example.com")
            stranger.get_by_role("button", name="Email me a link").click()
            expect(stranger.get_by_role("status")).to_contain_text("a link to set a new")
            stranger.goto(link_of(sink, 3))
            stranger.get_by_label("New password (at least 8 characters)").fill("a new one!")
            stranger.get_by_role("button", name="Set the password").click()
            expect(stranger.locator("tr[data-email-status]")).to_have_count(1)
            colleague.reload()  # the colleague's other session ended
            expect(colleague.get_by_role("heading", name="Log in")).to_be_visible()
            colleague.goto(link_of(sink, 3))
            assert_accessible(colleague, "a used link")
            browser.close()
