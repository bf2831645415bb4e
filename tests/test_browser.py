"""In Debian's Chromium: log in, issue a draft, see it with its status icon and label."""

import pytest
from browser import LiveServer, chromium
from conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def page(app, issuer):
    sync_api = pytest.importorskip("playwright.sync_api")
    with LiveServer(app) as server, sync_api.sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        page.base_url = server.url
        yield page
        browser.close()


def test_issue_a_draft_and_see_it_not_sent(page):
    from playwright.sync_api import expect

    page.goto(page.base_url + "/credentials")
    expect(page).to_have_url(page.base_url + "/login?next=%2Fcredentials")
    page.get_by_label("Email").fill("issuer@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="No credentials yet")).to_be_visible()

    page.get_by_role("link", name="Issue a credential").first.click()
    page.get_by_label("Recipient name").fill("Grace <b>Hopper</b>")
    page.get_by_label("Recipient email (optional)").fill("grace@example.com")
    page.get_by_label("New group name").fill("Compilers 101")
    page.get_by_label("Save as draft").check()
    page.get_by_role("button", name="Issue", exact=True).click()

    row = page.locator("tr[data-email-status]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-email-status", "not_sent")
    expect(row.locator("td.recipient")).to_have_text("Grace <b>Hopper</b>")
    icon = row.get_by_role("img", name="Email is not sent")
    expect(icon).to_be_visible()
    assert icon.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(row.get_by_text("Email is not sent", exact=True)).to_be_visible()

    # The filter swaps the list in place through htmx and keeps the URL shareable.
    page.locator("a.filter[data-status=bounced]").click()
    expect(page.get_by_role("heading", name="No recipients match")).to_be_visible()
    expect(page).to_have_url(page.base_url + "/credentials?status=bounced")
    page.get_by_role("link", name="Show all recipients").click()

    # The icon leads to its help section.
    row.get_by_role("link", name="Email is not sent").click()
    expect(page).to_have_url(page.base_url + "/help/#not_sent")
    expect(page.locator("#not_sent")).to_contain_text("Email is not sent")

    # With a group in the list, typing a new group's name picks "New group…" by itself.
    page.goto(page.base_url + "/credentials/new")
    expect(page.get_by_label("Existing group")).not_to_have_value("new")  # the last group
    page.get_by_label("Recipient name").fill("Ada Lovelace")
    page.get_by_label("New group name").fill("Engines 201")
    expect(page.get_by_label("Existing group")).to_have_value("new")
    page.get_by_role("button", name="Issue", exact=True).click()
    expect(page.locator("tr[data-email-status]")).to_have_count(2)
    expect(page.locator("tr", has_text="Ada Lovelace")).to_contain_text("Engines 201")
