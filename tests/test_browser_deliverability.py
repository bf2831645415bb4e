"""In Chromium: an owner saves a sender address, publishes the two records Settings shows in
a real DNS server, checks them, and reads signing and policies in plain words; the signed
email's headers in the Outbox; both pages pass axe-core's WCAG 2.1 A/AA rules."""

import json
import re

import pytest
from browser import LiveServer, chromium, log_in
from conftest import PASSWORD, issue, make_app
from smtp_server import free_port
from test_browser_lifecycle import assert_accessible

from accounts import create_user
from mailer import catcher
from mailer.dev_dns import DnsServer
from mailer.queue import send_due
from models import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_publishing_the_records_signs_the_mail_and_says_so(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    records = tmp_path / "dns-records.json"
    dns = DnsServer(records_file=str(records)).start()
    app = make_app(tmp_path, MAIL_SERVER=None, MAIL_PORT=free_port(), DEV_MAIL_CATCHER=True,
                   WTF_CSRF_ENABLED=True, DNS_RESOLVER=dns.address, DNS_TIMEOUT_SECONDS=3)
    app.instance_path = str(tmp_path)
    with app.app_context():
        controller = catcher.start(app)
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        try:
            with LiveServer(app) as server, sync_api.sync_playwright() as playwright:
                browser = chromium(playwright)
                # Without the page's policy only so that the test can add axe-core's script.
                page = browser.new_context(bypass_csp=True).new_page()
                page.set_default_timeout(15_000)
                log_in(page, server)
                page.goto(server.url + "/settings/")
                page.get_by_label("Sender address").fill("certs@acme.test")
                page.get_by_role("button", name="Save", exact=True).click()
                expect(page.locator(".dkim-record")).to_be_visible()
                html = page.content()
                name = re.search(r"<code>(ct\d{6}\._domainkey\.acme\.test)</code>", html)[1]
                records.write_text(json.dumps({
                    "_credential-tracker.acme.test": [re.search(
                        r"<code>(credential-tracker-verification=[^<]+)</code>", html)[1]],
                    name: [page.locator(".dkim-record code.long").inner_text()],
                    "_dmarc.acme.test": ["v=DMARC1; p=reject"]}))
                page.get_by_role("button", name="Check the DNS records").click()
                expect(page.locator(".flash")).to_contain_text(
                    "acme.test is verified. New emails come from certs@acme.test, signed with "
                    "your DKIM key.")
                checks = page.locator("table.dns-checks")
                expect(checks.locator("tr.dkim")).to_contain_text("Found")
                expect(checks.locator("tr.spf")).to_contain_text(
                    "acme.test has no SPF record")
                expect(checks.locator("tr.dmarc")).to_contain_text("p=reject, and your emails "
                                                                   "are signed with DKIM")
                assert_accessible(page, "settings with the records checked")

                issue(user, name="Ada Lovelace", email="ada@example.com", action="publish")
                assert send_due()["sent"] == 1
                page.goto(server.url + "/outbox/")
                page.get_by_role("link", name=re.compile("Ada Lovelace")).click()
                headers = page.get_by_text("All headers (signed with DKIM)")
                headers.click()
                expect(page.locator("details.mail-headers pre")).to_contain_text(
                    f"d=acme.test; i=@acme.test; q=dns/txt; s={name.split('.')[0]};")
                assert_accessible(page, "outbox with its headers open")
                browser.close()
        finally:
            controller.stop()
            dns.stop()
            db.session.remove()
            db.engine.dispose()
