"""In Chromium: the recipient opens the email from /outbox, views the credential, downloads
the PDF, goes to LinkedIn, copies the share link, and the issuer's timeline shows it all."""

import io
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from browser import LiveServer, Watch, chromium, log_in
from conftest import PASSWORD, issue, make_app
from flask import current_app
from pypdf import PdfReader
from smtp_server import free_port

from accounts import create_user
from jobs import add_jobs
from mailer import catcher
from models import Credential, db
from tracking import engagement

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NAME = "Zoë Ångström"


@pytest.fixture
def running(tmp_path):
    """The app served live, the development catcher its mail server; its jobs (sending
    to the catcher) start when the test says."""
    app = make_app(tmp_path, MAIL_SERVER=None, DEV_MAIL_CATCHER=True, MAIL_PORT=free_port(),
                   WTF_CSRF_ENABLED=True, QUEUE_INTERVAL_SECONDS=0.3)
    app.instance_path = str(tmp_path)  # the catcher's Maildir inside the test's folder
    with app.app_context():
        mail_catcher = catcher.start(app)
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        db.session.commit()
        scheduler = BackgroundScheduler(timezone="UTC")
        add_jobs(scheduler, app)
        with LiveServer(app) as server:
            app.config["PUBLIC_BASE_URL"] = server.url  # the mail's links lead here
            yield user, server, scheduler
            if scheduler.running:
                scheduler.shutdown()
        mail_catcher.stop()
        db.session.remove()
        db.engine.dispose()


def wait_until_sent(credential):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db.session.rollback()
        if db.session.get(Credential, credential.id).email_status == "not_opened":
            return
        time.sleep(0.05)
    pytest.fail("the email was not sent within 30 s")


def test_recipient_views_downloads_shares_and_the_issuer_sees_it(running, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    user, server, scheduler = running
    credential = issue(user, name=NAME, email="zoe@example.com", action="publish")
    scheduler.start()  # after issuing, as the other browser tests do: one writer at a time
    wait_until_sent(credential)
    with sync_api.sync_playwright() as playwright:
        browser = chromium(playwright)
        context = browser.new_context(locale="en-GB", accept_downloads=True,
                                      permissions=["clipboard-read", "clipboard-write"])
        # LinkedIn is outside and unreachable here: our redirect's answer is what is checked.
        context.route("https://www.linkedin.com/**", lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(15_000)
        watch = Watch(context, page)

        # Before: sent, nothing else, on the Analytics page.
        log_in(page, server)
        page.get_by_role("link", name="Analytics", exact=True).click()
        funnel = page.locator(f'tr[data-group="{credential.group_id}"]')
        for stage, count in (("sent", "1"), ("opened", "0"), ("viewed", "0"), ("engaged", "0")):
            expect(funnel.locator(f'[data-stage="{stage}"] .n')).to_have_text(count)

        # The email in the outbox; its link opened in the browser, as a mail program does.
        page.get_by_role("link", name="Outbox", exact=True).click()
        page.get_by_role("link", name=f"{NAME} <zoe@example.com>").click()
        mail = page.frame_locator("iframe.mail-body")
        link = mail.get_by_role("link", name="View your credential").get_attribute("href")
        page.goto(link)
        expect(page.get_by_role("heading", name=NAME)).to_be_visible()
        expect(page.locator(".certificate")).to_contain_text("Acme Academy")
        page.screenshot(path=str(tmp_path / "recipient.png"), full_page=True)

        # Download PDF: the name in the PDF as text.
        with page.expect_download() as download:
            page.get_by_role("link", name="Download PDF").click()
        text = PdfReader(io.BytesIO(download.value.path().read_bytes())).pages[0].extract_text()
        assert NAME in text and credential.token not in text

        # Add to LinkedIn: our redirect, then LinkedIn's form in a new tab.
        with context.expect_event("response", lambda r: r.url.endswith("/linkedin")) as step, \
                context.expect_page() as tab:
            page.get_by_role("link", name="Add to LinkedIn").click()
        assert step.value.status == 302
        assert step.value.headers["location"].startswith("https://www.linkedin.com/profile/add?")
        tab.value.close()

        # Copy link: the public page's address on the clipboard, then opened by a friend.
        page.get_by_role("button", name="Copy link").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        shared = page.evaluate("navigator.clipboard.readText()")
        assert shared == f"{server.url}/v/{credential.public_id}"
        own = context.new_page()  # the recipient checks the link: not a share view
        own.goto(shared)
        expect(own.get_by_role("heading", name=NAME)).to_be_visible()
        own.close()
        friend = browser.new_context(locale="en-GB").new_page()  # someone else's browser
        friend.goto(shared)
        expect(friend.get_by_role("heading", name=NAME)).to_be_visible()
        assert "zoe@example.com" not in friend.content()
        friend.close()
        watch.assert_clean("recipient page, download, LinkedIn, share")
        # The friend's view is noted, written within a moment: now, before the issuer looks.
        engagement.shares(current_app._get_current_object()).flush()

        # The issuer's timeline.
        page.goto(server.url + f"/credentials/{credential.id}")
        timeline = page.locator("ol.timeline")
        for label in ("Followed the link", "Downloaded the PDF", "Clicked Add to LinkedIn",
                      "Shared page viewed"):
            expect(timeline).to_contain_text(label)
        watch.assert_clean("issuer's timeline")

        # The issuer's row and the Analytics page have changed.
        page.goto(server.url + "/credentials")
        expect(page.locator(f"#credential-{credential.id} .engagement-mark")).to_have_text(
            "viewed · PDF · LinkedIn · shared, 1 view")
        page.get_by_role("link", name="Analytics", exact=True).click()
        for stage in ("sent", "opened", "viewed", "engaged"):
            expect(funnel.locator(f'[data-stage="{stage}"] .n')).to_have_text("1")
        watch.assert_clean("the issuer's pages")
        browser.close()
