"""In Chromium: upload a CSV with good and bad rows, see the problems by line number, use a
suggested fix, issue the good rows, and watch them appear on the Credentials page as
*Sending*, then *Email is not opened*."""

import os

import pytest
from browser import chromium, log_in, served_with_jobs
from conftest import PASSWORD, make_app

from accounts import create_user
from models import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROWS = """name,email,group
Ada Lovelace,ada@example.com,Engines 101
Jane Roe,jane@gmial,Engines 101
Alan Turing,alan@example.com,Engines 101
Alan Again,alan@example.com,Engines 101
Grace Hopper,,Engines 101
Tim Typo,tim@gmial.com,Engines 101
"""


def test_upload_check_fix_and_issue(tmp_path, sink):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    sink.delay = 1.0  # long enough to see "Sending"
    app = make_app(tmp_path, MAIL_PORT=sink.port, STATUS_POLL_SECONDS=0.5,
                   QUEUE_INTERVAL_SECONDS=0.3, WTF_CSRF_ENABLED=True)  # as in production
    upload = tmp_path / "class of 2026.csv"
    upload.write_text(ROWS)
    with app.app_context():
        create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        with served_with_jobs(app) as server, sync_api.sync_playwright() as playwright:
            browser = chromium(playwright)
            page = browser.new_page()
            log_in(page, server)

            page.get_by_role("link", name="Import a spreadsheet").click()
            page.get_by_label("Spreadsheet").set_input_files(upload)
            page.get_by_role("button", name="Upload and map columns").click()
            expect(page.locator("table.sample")).to_contain_text("jane@gmial")
            expect(page.get_by_label("Recipient name column")).to_have_value("0")
            expect(page.get_by_label("Recipient email column")).to_have_value("1")
            page.get_by_role("button", name="Check all rows").click()

            # The progress bar reloads the page once every row is checked.
            problems = page.locator("#problems")
            expect(problems).to_contain_text("Line 3: 'jane@gmial' is not a valid address",
                                             timeout=20_000)
            expect(problems).to_contain_text("Line 5: duplicate of line 4")
            expect(page.locator("#summary")).to_contain_text("1 without an address")
            typos = page.locator("#typos")
            expect(typos).to_contain_text("Line 7: gmial.com — did you mean gmail.com?")
            typos.get_by_role("button", name="Use tim@gmail.com").click()
            expect(page.locator("#typos")).to_contain_text(
                "Line 7: fixed, tim@gmial.com → tim@gmail.com")

            page.get_by_label("Publish now").check()
            page.get_by_role("button", name="Issue 4 credentials").click()
            summary = page.locator("#summary")
            expect(summary).to_contain_text("4 credentials published", timeout=20_000)
            expect(summary).to_contain_text("3 emails queued")

            page.get_by_role("link", name="See them on the Credentials page").click()
            rows = page.locator("tr[data-email-status]")
            expect(rows).to_have_count(4)
            ada = page.locator("tr", has_text="Ada Lovelace")
            expect(page.locator("tr", has_text="Grace Hopper")).to_have_attribute(
                "data-email-status", "not_provided")
            expect(page.locator("tr[data-email-status=sending]").first).to_be_visible()
            expect(ada).to_have_attribute("data-email-status", "not_opened", timeout=20_000)
            expect(page.locator("tr[data-email-status=not_opened]")).to_have_count(
                3, timeout=20_000)
            browser.close()
        db.engine.dispose()
    assert sorted(rcpt for rcpt, _, _ in sink.received) == [
        "ada@example.com", "alan@example.com", "tim@gmail.com"]


def test_workbooks_are_read_in_the_background_and_bombs_refused(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    from test_files import SHEET, sheet, spaces, wide_row, workbook
    from test_imports import xlsx

    expect = sync_api.expect
    app = make_app(tmp_path, STATUS_POLL_SECONDS=0.5, QUEUE_INTERVAL_SECONDS=0.3,
                   WTF_CSRF_ENABLED=True)
    good = tmp_path / "class.xlsx"
    good.write_bytes(xlsx([["Name", "Email", "Group"], ["Ada Lovelace", "ada@example.com",
                                                         "Engines 101"]]))
    bomb = workbook(tmp_path / "bomb.xlsx", {SHEET: spaces(400)})
    row = workbook(tmp_path / "row.xlsx", {SHEET: sheet(wide_row(4))})
    shots = os.environ.get("SCREENSHOTS")  # a folder to keep the pages in, to look at
    with app.app_context():
        create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        with served_with_jobs(app) as server, sync_api.sync_playwright() as playwright:
            browser = chromium(playwright)
            page = browser.new_page()
            log_in(page, server)

            def upload(path):
                page.goto(server.url + "/imports")
                page.get_by_label("Spreadsheet").set_input_files(path)
                page.get_by_role("button", name="Upload and map columns").click()

            upload(good)  # read by the job; the page reloads itself when it is done
            expect(page.locator("table.sample")).to_contain_text("ada@example.com",
                                                                 timeout=20_000)
            expect(page.get_by_label("Recipient email column")).to_have_value("1")
            if shots:
                page.screenshot(path=f"{shots}/workbook-read.png", full_page=True)

            upload(bomb)  # refused at once, from the zip's directory
            expect(page.get_by_role("alert").or_(page.locator(".errors"))).to_contain_text(
                "its part xl/worksheets/sheet1.xml unpacks to 400.0 MB")
            if shots:
                page.screenshot(path=f"{shots}/workbook-bomb.png", full_page=True)

            upload(row)  # passes the zip's checks; the job refuses it before openpyxl reads
            expect(page.get_by_role("heading", name="Nothing was imported")).to_be_visible(
                timeout=20_000)
            expect(page.locator("main")).to_contain_text(
                "holds more than 65,536 elements in its row 1")
            if shots:
                page.screenshot(path=f"{shots}/workbook-row.png", full_page=True)
            browser.close()
        db.engine.dispose()
