"""In Chromium: an issuer revokes one credential from its panel and another from a selection,
sees the Revoked mark and filter, gives a group a validity; the public page says Revoked or
Verified, the recipient page offers the Open Badge; each page passes axe-core's WCAG 2.1
A/AA rules."""

import base64
import json
from pathlib import Path

import pytest
from browser import chromium, log_in, served_with_jobs
from conftest import PASSWORD, issue, make_app

from accounts import create_user
from models import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# axe-core 4.14.1 from the npm registry (tests/vendor/axe-core-LICENSE: MPL-2.0).
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page, where):
    """axe-core finds no WCAG 2.1 A/AA violation on the page as it stands."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    violations = page.evaluate("""async (tags) => (await axe.run(document, {
        runOnly: {type: "tag", values: tags}})).violations.map(
        (v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)""", WCAG_21_AA)
    assert violations == [], where


def test_revoke_verify_and_every_page_accessible(tmp_path, sink):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app = make_app(tmp_path, MAIL_PORT=sink.port, WTF_CSRF_ENABLED=True,
                   STATUS_POLL_SECONDS=0.5, QUEUE_INTERVAL_SECONDS=0.3)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        ada, _, grace = [issue(user, name=name, email=f"{name.split()[0].lower()}@example.com",
                                  action="publish")
                            for name in ("Ada Lovelace", "Alan Turing", "Grace Hopper")]
        grace_token = grace.latest_message.token
        with served_with_jobs(app) as server, sync_api.sync_playwright() as playwright:
            app.config["PUBLIC_BASE_URL"] = server.url
            browser = chromium(playwright)
            # Without the page's policy only so that the test can add axe-core's script.
            page = browser.new_context(bypass_csp=True).new_page()
            page.set_default_timeout(15_000)
            log_in(page, server)
            expect(page.locator("tr[data-email-status=not_opened]")).to_have_count(
                3, timeout=30_000)

            # One from its panel, with a reason.
            ada_row = page.locator("tr", has_text="Ada Lovelace")
            ada_row.get_by_role("link", name="Ada Lovelace", exact=True).click()
            panel = page.get_by_role("region", name="Recipient details")
            panel.get_by_text("Correct, revoke or set the validity").click()
            assert_accessible(page, "panel with corrections open")
            panel.get_by_label("Reason (shown to anyone who checks the credential)").fill(
                "Issued to the wrong person")
            panel.get_by_role("button", name="Revoke credential").click()
            expect(panel).to_contain_text("Issued to the wrong person")
            expect(panel.get_by_role("button", name="Reinstate")).to_be_visible()
            expect(ada_row.locator(".revoked-mark")).to_have_text("Revoked")
            expect(ada_row).to_have_attribute("data-email-status", "not_opened")  # unchanged
            expect(page.locator("#revoked-filter .count")).to_have_text("1")

            # Another from a selection: it asks why first.
            page.locator("tr", has_text="Alan Turing").get_by_role("checkbox").check()
            page.get_by_role("button", name="Revoke selected…").click()
            preview = page.locator("#bulk-preview")
            expect(preview).to_contain_text("Revoke 1 credential")
            preview.get_by_role("button", name="Revoke 1").click()
            expect(preview).to_contain_text("Say why the credential is revoked")
            assert_accessible(page, "bulk revocation asking for its reason")
            preview.get_by_label("Reason (shown to anyone who checks the credential)").fill(
                "Course cancelled")
            preview.get_by_role("button", name="Revoke 1").click()
            expect(preview).to_contain_text("Anyone who checks them now sees they are revoked")
            page.get_by_role("link", name="Revoked only").click()
            expect(page.locator("tr[data-email-status]")).to_have_count(2)
            assert_accessible(page, "revoked only")

            # A group valid for two years.
            page.get_by_role("link", name="Groups", exact=True).click()
            assert_accessible(page, "groups")
            page.get_by_role("link", name="Edit Course A").click()
            page.get_by_label("Valid for this many months (empty: for good)").fill("24")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("row", name="Course A")).to_contain_text("24 months")

            # What anyone sees.
            page.goto(f"{server.url}/v/{ada.public_id}")
            expect(page.get_by_role("status")).to_contain_text(
                "Revoked on", use_inner_text=True)
            expect(page.get_by_role("status")).to_contain_text("Issued to the wrong person")
            expect(page.get_by_text("Verified")).to_have_count(0)
            assert_accessible(page, "public page, revoked")
            page.goto(f"{server.url}/v/{grace.public_id}")
            expect(page.get_by_role("status")).to_contain_text("✓ Verified")
            page.get_by_text("How to verify this yourself").click()
            assert_accessible(page, "public page, verified")
            page.goto(f"{server.url}/r/{grace_token}")
            with page.expect_download() as download:
                page.get_by_role("link", name="Download as Open Badge").click()
            token = Path(download.value.path()).read_text()
            assert_accessible(page, "recipient page")
            page.goto(f"{server.url}/help/#revoked")
            expect(page.get_by_role("heading", name="Revoked", exact=True)).to_be_visible()
            assert_accessible(page, "help")
            browser.close()
        db.engine.dispose()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "vc+jwt" and header["kid"].endswith("#key-1")
    assert sorted(rcpt for rcpt, _, _ in sink.received) == [
        "ada@example.com", "alan@example.com", "grace@example.com"]
