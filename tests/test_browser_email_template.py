"""In Chromium, under the app's Content-Security-Policy: the issuer writes their email with
a placeholder, the preview follows as they type with no policy violation, a bad placeholder
is explained, and the saved email is the one the recipient gets; the page passes axe-core.
The brand saved in Settings colours the recipient and public pages with no violation."""

import pytest
from browser import LiveServer, Watch, chromium, log_in
from conftest import PASSWORD, issue, make_app
from PIL import Image
from test_browser_lifecycle import assert_accessible

from accounts import create_user
from mailer.compose import compose
from models import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_write_preview_and_save_the_email(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        db.session.commit()
        with LiveServer(app) as server, sync_api.sync_playwright() as playwright:
            browser = chromium(playwright)
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(15_000)
            watch = Watch(context, page)
            log_in(page, server)
            page.get_by_role("link", name="Settings", exact=True).click()
            page.get_by_role("link", name="edit your email").click()
            preview = page.get_by_role("region", name="Preview")
            expect(preview).to_contain_text("Dear Ada Lovelace,")

            page.get_by_label("Subject").fill("Well done, {recipient_name}!")
            page.get_by_label("Message").fill(
                "**{organization_name}** is proud of you.\n\n- {credential_name}\n"
                "- <script>alert(1)</script>")
            expect(preview).to_contain_text("Subject: Well done, Ada Lovelace!")
            expect(preview.locator("strong")).to_have_text("Acme Academy")
            expect(preview.locator("li").first).to_have_text("Python Fundamentals 2026")
            expect(preview.locator("script")).to_have_count(0)
            page.get_by_label("Message").press_sequentially(" {nickname}")
            expect(preview.get_by_role("alert")).to_contain_text(
                "unknown placeholder {nickname}")
            page.get_by_label("Message").fill("**{organization_name}** is proud of you.")
            expect(preview.locator("strong")).to_have_text("Acme Academy")
            watch.assert_clean("email preview")
            page.get_by_role("button", name="Save email").click()
            expect(page.get_by_role("status")).to_contain_text("Email saved")
            watch.assert_clean("email saved")

            # The brand, from Settings, on the pages recipients and strangers see.
            logo = tmp_path / "logo.png"
            Image.new("RGB", (900, 300), (170, 34, 85)).save(logo)
            page.get_by_role("link", name="Settings", exact=True).click()
            page.get_by_label("Logo (PNG or JPEG, at most 1 MB)").set_input_files(logo)
            page.get_by_label("Colour").fill("#aa2255")
            page.get_by_role("button", name="Save brand").click()
            expect(page.get_by_role("status").first).to_contain_text("Brand saved")
            credential = issue(user, name="Ada", action="publish")
            for path in (f"/c/{credential.token}", f"/v/{credential.public_id}"):
                page.goto(server.url + path)
                expect(page.locator("article.certificate")).to_have_css(
                    "border-top-color", "rgb(170, 34, 85)")
                expect(page.get_by_role("img", name="Acme Academy")).to_be_visible()
            page.goto(server.url + f"/groups/{credential.group_id}")
            expect(page.get_by_label("Language of its emails, pages and certificates")
                   ).to_be_visible()
            watch.assert_clean("branded pages and the group page")

            checked = browser.new_context(bypass_csp=True).new_page()
            log_in(checked, server)
            checked.goto(server.url + "/settings/email/")
            assert_accessible(checked, "your email")
            browser.close()
        db.session.rollback()
        mail = compose(issue(user, name="Grace", action="publish").latest_message)
        assert "/logo.png?v=" in mail.html and "background:#aa2255" in mail.html
        assert mail.subject == "Well done, Grace!"
        assert "<strong>Acme Academy</strong> is proud of you." in mail.html
        db.engine.dispose()
