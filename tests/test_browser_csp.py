"""In Chromium, under the app's Content-Security-Policy: every page with htmx works without
one policy violation or console error; rows turn from *Sending* to *Email is not opened*
without a reload, and the status poll stops once no row is sending."""

import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from browser import LiveServer, Watch, chromium, log_in
from conftest import PASSWORD, issue, make_app
from smtp_server import free_port

from accounts import create_user
from jobs import add_jobs
from mailer import catcher
from models import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]
POLL = 0.5

# Every frame of every page reports its violations to the test (run before the page's own
# scripts, so nothing htmx does at load escapes it).
@pytest.fixture
def running(tmp_path):
    """The app served live with CSRF on and the development catcher as its mail server
    (so the outbox has mail); its jobs start when the test says."""
    app = make_app(tmp_path, MAIL_SERVER=None, DEV_MAIL_CATCHER=True, MAIL_PORT=free_port(),
                   WTF_CSRF_ENABLED=True, STATUS_POLL_SECONDS=POLL, QUEUE_INTERVAL_SECONDS=0.3)
    app.instance_path = str(tmp_path)  # the catcher's Maildir inside the test's folder
    schedulers = []

    def start_jobs():
        """Run the app's jobs (mail queue, imports) as make run does; returns the scheduler."""
        scheduler = BackgroundScheduler(timezone="UTC")
        add_jobs(scheduler, app)
        scheduler.start()
        schedulers.append(scheduler)
        return scheduler

    with app.app_context():
        mail_catcher = catcher.start(app)
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        db.session.commit()
        with LiveServer(app) as server:
            app.config["PUBLIC_BASE_URL"] = server.url  # the mail's image loads from here
            yield app, user, server, start_jobs
        for scheduler in schedulers:
            if scheduler.running:
                scheduler.shutdown()
        mail_catcher.stop()
        db.session.remove()
        db.engine.dispose()


def test_every_page_works_under_the_policy(running, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app, user, server, start_jobs = running
    ada, *_ = [issue(user, name=name, email=f"{name.split()[0].lower()}@example.com",
                     action="publish")
               for name in ("Ada Lovelace", "Alan Turing", "Grace Hopper")]
    with sync_api.sync_playwright() as playwright:
        browser = chromium(playwright)
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        watch = Watch(context, page)
        polls = []
        page.on("request", lambda r: polls.append(time.monotonic())
                if "/credentials/live" in r.url else None)

        # The login form, then the Credentials page polling for its rows still sending.
        log_in(page, server)
        rows = page.locator("tr[data-email-status]")
        expect(rows).to_have_count(3)
        expect(page.locator("tr[data-email-status=sending]")).to_have_count(3)
        loaded = page.evaluate("performance.timeOrigin")
        deadline = time.monotonic() + 10
        while len(polls) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert len(polls) >= 2  # the poller asks while rows are sending
        watch.assert_clean("credentials, polling")

        # The queue sends; the rows change in place.
        jobs = start_jobs()
        ada_row = page.locator("tr", has_text="Ada Lovelace")
        expect(ada_row.get_by_text("Email is not opened", exact=True)).to_be_visible(timeout=30_000)
        expect(page.locator("tr[data-email-status=not_opened]")).to_have_count(3,
                                                                               timeout=30_000)
        expect(page.locator('a.filter[data-status="not_opened"] .count')).to_have_text("3")
        assert page.evaluate("performance.timeOrigin") == loaded  # never reloaded
        # No row is sending: the poller stops asking.
        asked = len(polls)
        page.wait_for_timeout(POLL * 6 * 1000)
        assert len(polls) == asked
        watch.assert_clean("credentials, live update")

        # Filters, search and the recipient panel, all swapped by htmx.
        page.locator("a.filter[data-status=bounced]").click()
        expect(page.get_by_role("heading", name="No recipients match")).to_be_visible()
        page.get_by_role("link", name="Show all recipients").click()
        expect(rows).to_have_count(3)
        page.get_by_label("Search recipients").fill("Grace")
        expect(rows).to_have_count(1)
        rows.get_by_role("link", name="Grace Hopper", exact=True).click()
        panel = page.get_by_role("region", name="Recipient details")
        expect(panel).to_contain_text("Email is not opened")
        # A resend makes the row transient again (the queue stopped so it stays so), and the
        # poller asks again until it is not.
        jobs.shutdown()  # waits for a run in progress
        loaded = page.evaluate("performance.timeOrigin")
        with page.expect_request("**/credentials/live?*"):
            panel.get_by_role("button", name="Resend email").click()
            expect(rows.first).to_have_attribute("data-email-status", "sending")
        start_jobs()
        expect(rows.first).to_have_attribute("data-email-status", "not_opened", timeout=30_000)
        assert page.evaluate("performance.timeOrigin") == loaded
        page.get_by_role("button", name="Resend all matching").click()
        expect(page.locator("#bulk-preview")).to_contain_text("Resend to 1 recipient")
        page.locator("#bulk-preview").get_by_role("button", name="Cancel").click()
        expect(page.locator("#bulk-preview")).to_be_empty()
        watch.assert_clean("credentials, htmx swaps")
        page.goto(server.url + f"/credentials/{ada.id}")
        expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
        watch.assert_clean("detail page")

        # The issue form suggests a correction of a mistyped address as one types.
        page.get_by_role("link", name="Issue", exact=True).click()
        page.get_by_label("Recipient email (optional)").press_sequentially("tim@gmial.com")
        page.get_by_role("button", name="Use it").click()
        expect(page.get_by_label("Recipient email (optional)")).to_have_value("tim@gmail.com")
        watch.assert_clean("issue form")

        # An import checked in the background, its progress polled by htmx.
        upload = tmp_path / "class.csv"
        upload.write_text("name,email,group\nKatherine Johnson,kj@example.com,Orbits\n")
        page.get_by_role("link", name="Import", exact=True).click()
        page.get_by_label("Spreadsheet").set_input_files(upload)
        page.get_by_role("button", name="Upload and map columns").click()
        page.get_by_role("button", name="Check all rows").click()
        expect(page.locator("#summary")).to_be_visible(timeout=20_000)
        watch.assert_clean("import")

        for name, heading in [("Settings", "Sender of your emails"),
                              ("Help", "Email statuses"), ("Outbox", "Outbox")]:
            page.get_by_role("link", name=name, exact=True).click()
            expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
        watch.assert_clean("settings, help, outbox")

        # A caught mail, framed with its own styles and its tracking image.
        with page.expect_response("**/t/*.gif") as image:
            page.get_by_role("link", name="Ada Lovelace <ada@example.com>").click()
        assert image.value.ok
        mail = page.frame_locator("iframe.mail-body")
        expect(mail.get_by_role("link", name="View your credential")).to_be_visible()
        expect(mail.get_by_role("link", name="View your credential")).to_have_css(
            "background-color", "rgb(34, 85, 170)")  # the mail's own inline style applies
        watch.assert_clean("outbox mail")

        # The queue page polls itself.
        page.get_by_role("link", name="Queue", exact=True).click()
        with page.expect_response(lambda r: r.url.endswith("/queue")
                                  and r.request.headers.get("hx-request") == "true",
                                  timeout=15_000):
            pass
        watch.assert_clean("queue")

        # The recipient's link and page; a page that does not exist.
        page.goto(server.url + f"/r/{ada.latest_message.token}")
        expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
        watch.assert_clean("recipient page")
        assert page.goto(server.url + "/no/such/page").status == 404
        # Chromium logs the page's own 404 status, and nothing else.
        assert watch.errors == ["Failed to load resource: the server responded with a status "
                                "of 404 (NOT FOUND)"]
        watch.errors.clear()
        watch.assert_clean("a page that does not exist")

        # The watch sees what the policy refuses: an inline style and an inline script.
        page.evaluate("""() => {
          document.head.insertAdjacentHTML("beforeend", "<style>body{color:red}</style>");
          const script = document.createElement("script");
          script.textContent = "window.ran = true";
          document.head.append(script);
        }""")
        deadline = time.monotonic() + 5
        while len(watch.violations) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert sorted(v["directive"] for v in watch.violations) == ["script-src-elem",
                                                                    "style-src-elem"]
        assert page.evaluate("window.ran") is None
        browser.close()
