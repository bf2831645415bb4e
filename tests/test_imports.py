"""Spreadsheet import: files the tests write, read, checked, previewed and issued."""

import io
import os
import re
import zipfile

import openpyxl
import pytest
import sqlalchemy as sa
from conftest import api_for, issue, recount_statuses
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from importer.run import claim_import, run_next
from jobs import run_import_job
from models import (
    Credential,
    CredentialGroup,
    EmailEvent,
    EmailMessage,
    ImportJob,
    ImportRow,
    StatusCount,
    db,
)
from models.types import utcnow

HEADER = "name,email,group\n"


BOTH = pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)


def upload(client, content, filename="people.csv"):
    data = content.encode() if isinstance(content, str) else content
    # Encoded here in memory: the test client would leave a temporary file open for a large
    # body.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename)})
    return client.post("/imports", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def work(app):
    """Run the background import job until it has nothing left to do."""
    db.session.commit()  # the test's own reads must not hold an old snapshot
    run_import_job(app)
    db.session.expire_all()


def latest_job():
    return db.session.scalars(sa.select(ImportJob).order_by(ImportJob.id.desc())).first()


def checked(app, client, content, filename="people.csv", **mapping):
    """Upload, keep the proposed mapping (or the given one) and check every row."""
    response = upload(client, content, filename)
    assert response.status_code == 302, response.text
    work(app)  # a workbook is read in the background
    job = latest_job()
    form = {"name_col": job.name_col, "email_col": job.email_col, "group_col": job.group_col,
            "group_id": "", "new_group": ""}
    form = {k: "" if v is None else str(v) for k, v in {**form, **mapping}.items()}
    response = client.post(f"/imports/{job.id}/mapping", data=form)
    assert response.status_code == 302, response.text
    work(app)
    return db.session.get(ImportJob, job.id)


def problems(job):
    """{line: problem text} of the refused rows."""
    rows = db.session.scalars(sa.select(ImportRow).where(
        ImportRow.import_id == job.id, ImportRow.problem_kind.is_not(None)))
    return {row.line: row.problem_text for row in rows}


def issue_import(app, client, job, action="publish", **fields):
    response = client.post(f"/imports/{job.id}/issue",
                           data={"action": action, "send_email": "y", **fields})
    assert response.status_code == 302, response.text
    work(app)
    return db.session.get(ImportJob, job.id)


def text_of(html):
    """The page's text, tags left out and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ;", ";").replace(" .", ".")


def credentials(org_id):
    return db.session.scalars(sa.select(Credential).where(Credential.org_id == org_id)
                              .order_by(Credential.id)).all()


# Reading files -----------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "\ufeffname,email,group\r\nAnn Lee,ann@example.com,Course A\r\nBo Chen,,Course A\r\n",
    "name;email;group\nAnn Lee;ann@example.com;Course A\nBo Chen;;Course A\n",
    "name,email,group\nAnn Lee,ann@example.com,Course A\nBo Chen,,Course A",  # no last EOL
], ids=["bom-comma-crlf", "semicolon-lf", "no-final-newline"])
@BOTH
def test_csv_dialects_import_alike(app, logged_in, issuer, text):
    job = checked(app, logged_in, text)
    assert (job.state, job.total_rows, job.good_rows, job.problem_rows) == ("checked", 2, 2, 0)
    job = issue_import(app, logged_in, job)
    assert (job.state, job.issued, job.queued) == ("done", 2, 1)
    rows = credentials(issuer.org_id)
    assert [(c.recipient_name, c.recipient_email, c.group.name, c.email_status)
            for c in rows] == [("Ann Lee", "ann@example.com", "Course A", "sending"),
                               ("Bo Chen", None, "Course A", "not_provided")]


def xlsx(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_its_own_header_names_numbers_and_formulas(app, logged_in, issuer):
    content = xlsx([
        ["Recipient Name", "Recipient Email", "Group", "Notes"],
        ["Ann Lee", "ann@example.com", "Course A", 1.0],
        [None, None, None, None],  # an empty row: skipped, later lines keep their numbers
        ["=HYPERLINK(\"http://evil.test\")", "eve@example.com", "Course A", None],
        [12345, "num@example.com", 2026, None],
    ])
    job = checked(app, logged_in, content, "class.xlsx")
    assert (job.kind, job.columns) == ("xlsx", ["Recipient Name", "Recipient Email", "Group",
                                                 "Notes"])
    assert (job.name_col, job.email_col, job.group_col) == (0, 1, 2)
    assert job.good_rows == 2
    assert problems(job) == {4: "Name must not start with =: spreadsheets would run it as "
                                "a formula."}
    issue_import(app, logged_in, job, action="draft")
    assert [(c.recipient_name, c.group.name, c.email_status)
            for c in credentials(issuer.org_id)] == [("Ann Lee", "Course A", "not_sent"),
                                                     ("12345", "2026", "not_sent")]


def test_mapping_is_guessed_and_the_issuer_corrects_it(app, logged_in, issuer):
    text = "Full name;Mail;Cohort\nAnn Lee;ann@example.com;Spring\nBo Chen;bo@example.com;Fall\n"
    upload(logged_in, text)
    job = latest_job()
    assert (job.name_col, job.email_col, job.group_col) == (0, 1, None)
    page = logged_in.get(f"/imports/{job.id}").text
    assert "Which column holds what?" in page and "Cohort" in page and "Spring" in page
    # No group column and no group picked: the form says what is missing.
    response = logged_in.post(f"/imports/{job.id}/mapping",
                              data={"name_col": "0", "email_col": "1", "group_col": ""})
    assert response.status_code == 422
    assert "pick the group for its rows" in response.text
    job = checked(app, logged_in, text, group_col="2")
    issue_import(app, logged_in, job, action="draft")
    assert {(c.recipient_name, c.group.name) for c in credentials(issuer.org_id)} == {
        ("Ann Lee", "Spring"), ("Bo Chen", "Fall")}


def test_without_a_group_column_the_picked_group_is_used(app, logged_in, issuer):
    existing = issue(issuer, name="Old", email="old@example.com", group="Physics 2026")
    text = "name,email\nAnn Lee,ann@example.com\n"
    job = checked(app, logged_in, text, group_id=str(existing.group_id))
    assert job.default_group == "Physics 2026"
    issue_import(app, logged_in, job, action="draft")
    assert credentials(issuer.org_id)[-1].group_id == existing.group_id
    job = checked(app, logged_in, text, group_id="new", new_group="Chemistry")
    issue_import(app, logged_in, job, action="draft")
    assert credentials(issuer.org_id)[-1].group.name == "Chemistry"


def test_missing_name_column_is_a_clear_error(app, logged_in):
    upload(logged_in, "email,group\nann@example.com,A\n")
    job = latest_job()
    response = logged_in.post(f"/imports/{job.id}/mapping",
                              data={"name_col": "", "email_col": "0", "group_col": "1"})
    assert response.status_code == 422
    assert "Pick the column that holds the recipients&#39; names" in response.text
    response = logged_in.post(f"/imports/{job.id}/mapping",
                              data={"name_col": "7", "email_col": "0", "group_col": "1"})
    assert response.status_code == 422 and "Pick one of the file" in response.text
    response = logged_in.post(f"/imports/{job.id}/mapping",
                              data={"name_col": "0", "email_col": "0", "group_col": "1"})
    assert "The email cannot come from the name column." in response.text
    assert db.session.get(ImportJob, job.id).state == "mapping"


# Bad files ---------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "filename", "message"), [
    (b"", "people.csv", "The file is empty."),
    ("name,email\nRen\xe9e,renee@example.com\n".encode("latin-1"), "people.csv",
     "The file is not UTF-8 text: byte 0xE9 on line 2 cannot be read."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200), "people.csv",
     "This file holds binary data, not CSV text."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "people.xls",
     "This is an old Excel .xls workbook."),
    (b"name,email\nAnn,ann@example.com\n", "people.xlsx",
     "This file is named .xlsx but is not an Excel workbook."),
    (b"PK\x03\x04" + os.urandom(300), "people.xlsx", "The file is not a readable Excel workbook"),
    (b"\n\nname,email\n", "people.csv", "The first line is empty"),
    (b"name,email,group\n", "people.csv", "The file has a header line but no rows under it."),
    (b"name,email,group\n,,\n , ,\n", "people.csv", "The file has a header line but no rows"),
], ids=["empty", "latin-1", "binary", "xls", "text-named-xlsx", "broken-zip", "blank-header",
        "header-only", "only-empty-rows"])
def test_unreadable_files_are_refused_with_a_clear_message(app, logged_in, content, filename,
                                                           message):
    response = upload(logged_in, content, filename)
    assert response.status_code == 422
    assert message in response.text.replace("&#39;", "'")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportJob)) == 0
    assert os.listdir(app.config["IMPORT_FOLDER"]) == []  # nothing kept


def read_in_background(app, client, content, filename="people.xlsx"):
    """Upload a workbook and let the background job read it; the import after that."""
    response = upload(client, content, filename)
    assert response.status_code == 302, response.text
    job = latest_job()
    assert job.state == "reading"
    work(app)
    return db.session.get(ImportJob, job.id)


def word_document():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(("content", "message"), [
    (word_document(), "The file is not a readable Excel workbook (.xlsx)."),
    (xlsx([["name", "email"]]), "The workbook has a header row but no rows under it."),
], ids=["word-document", "header-only"])
def test_a_workbook_that_cannot_be_read_fails_in_the_background(app, logged_in, content,
                                                                 message):
    job = read_in_background(app, logged_in, content)
    assert (job.state, job.stored_as) == ("failed", None) and job.error.startswith(message)
    assert os.listdir(app.config["IMPORT_FOLDER"]) == []  # nothing kept
    page = logged_in.get(f"/imports/{job.id}")
    assert message in page.text and "Nothing was imported" in page.text


def test_a_workbook_whose_file_is_gone_before_it_is_read_fails_saying_so(app, logged_in):
    upload(logged_in, xlsx([["name"], ["Ann"]]), "class.xlsx")
    job = latest_job()
    os.remove(os.path.join(app.config["IMPORT_FOLDER"], job.stored_as))
    work(app)
    job = db.session.get(ImportJob, job.id)
    assert (job.state, job.error) == ("failed", "The uploaded file is gone; upload it again.")


@BOTH
def test_a_workbook_is_read_in_the_background_while_the_page_polls(app, logged_in):
    response = upload(logged_in, xlsx([["Name", "Email"], ["Ann", "ann@example.com"]]),
                      "class.xlsx")
    job = latest_job()
    assert (job.state, job.columns) == ("reading", [])
    page = logged_in.get(response.headers["Location"])
    assert "Reading the workbook's header and first rows" in page.text
    assert "HX-Refresh" not in logged_in.get(f"/imports/{job.id}/progress").headers
    work(app)
    assert logged_in.get(f"/imports/{job.id}/progress").headers["HX-Refresh"] == "true"
    job = db.session.get(ImportJob, job.id)
    assert (job.state, job.columns, job.sample, job.expected_rows) == (
        "mapping", ["Name", "Email"], [["Ann", "ann@example.com"]], 1)
    assert (job.name_col, job.email_col, job.group_col) == (0, 1, None)
    assert "Which column holds what?" in logged_in.get(f"/imports/{job.id}").text


def test_no_file_chosen(app, logged_in):
    response = logged_in.post("/imports", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a file to upload." in response.text


def test_a_file_over_the_size_limit_gets_413(app, logged_in):
    app.config["IMPORT_MAX_BYTES"] = 2000
    response = upload(logged_in, HEADER + "Ann Lee,ann@example.com,A\n" * 200)
    assert response.status_code == 413
    assert "The file is too large: imports take at most 2,000 bytes." in response.text
    assert os.listdir(app.config["IMPORT_FOLDER"]) == []


def test_bodies_are_limited_per_route(app, logged_in, issuer):
    app.config["MAX_CONTENT_LENGTH"] = 1000  # forms and JSON
    app.config["IMPORT_MAX_BYTES"] = 100_000  # the spreadsheet upload: larger
    rows = HEADER + "Ann Lee,ann@example.com,A\n" * 200  # 5 KB
    assert upload(logged_in, rows).status_code == 302  # kept: on to its mapping
    response = upload(logged_in, HEADER + "Ann Lee,ann@example.com,A\n" * 5000)  # 130 KB
    assert response.status_code == 413 and "The file is too large" in response.text
    response = api_for(logged_in, issuer).post("/api/v1/credentials", data="x" * 2000,
                                               content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["message"] == "The request body is too large."
    response = logged_in.post("/settings/", data={"section": "sender", "sender_name": "x" * 2000})
    assert response.status_code == 413 and response.text == "The request is too large.\n"


@pytest.mark.slow
def test_a_million_rows_are_refused_at_upload(app, logged_in):
    body = "".join(f"P{i}\n" for i in range(1_000_000))  # short rows: under the size limit
    response = upload(logged_in, "name\n" + body)
    assert response.status_code == 422
    assert "The file has more than 100,000 rows; split it into files of at most 100,000 rows." \
        in response.text


def test_too_many_rows_found_while_checking_fail_the_import(app, logged_in, issuer):
    # An .xlsx row count is only known by reading it: the check stops at the limit.
    app.config["IMPORT_MAX_ROWS"] = 3
    rows = [["name", "email", "group"]] + [[f"P{i}", f"p{i}@x.test", "A"] for i in range(5)]
    job = read_in_background(app, logged_in, xlsx(rows), "big.xlsx")
    logged_in.post(f"/imports/{job.id}/mapping",
                   data={"name_col": "0", "email_col": "1", "group_col": "2"})
    work(app)
    job = db.session.get(ImportJob, job.id)
    assert job.state == "failed"
    assert job.error == "The file has more than 3 rows; split it into files of at most 3 rows."
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportRow)) == 0
    assert credentials(issuer.org_id) == []
    assert "Nothing was imported" in logged_in.get(f"/imports/{job.id}").text


# Row problems ------------------------------------------------------------------------


@BOTH
def test_every_row_problem_has_its_line_and_good_rows_go_through(app, logged_in, issuer):
    issue(issuer, name="Already", email="Kim@Example.com", group="Course A")
    long_name = "L" * 5000
    huge_cell = "H" * 150_000
    text = (HEADER
            + "Ann Lee,ann@example.com,Course A\n"                  # 2 good
            + "Jane Roe,jane@gmial,Course A\n"                      # 3 invalid address
            + ",nobody@example.com,Course A\n"                      # 4 no name
            + "Bo Chen,,Course A\n"                                 # 5 no email: not provided
            + "Ann Again,ANN@example.com,Course A\n"                # 6 duplicate of line 2
            + "Ann Other,ann@example.com,Course B\n"                # 7 same address, other group
            + "Kim,kim@example.com,Course A\n"                      # 8 in the group already
            + '"Mal\r\nBcc: victim@example.com",mal@example.com,Course A\n'  # 9 header injection
            + f"{long_name},long@example.com,Course A\n"            # 11 too long
            + f"Huge,{huge_cell},Course A\n"                        # 12 cell over the CSV limit
            + "+cmd|' /C calc'!A0,calc@example.com,Course A\n"      # 13 formula
            + "Tim,tim@gmial.com,Course A\n"                        # 14 typo: suggestion
            + "No Group,ng@example.com,\n"                          # 15 group empty
            + "Ok Last,last@example.com,Course A\n")                # 16 good
    job = checked(app, logged_in, text)
    found = problems(job)
    assert found == {
        3: "'jane@gmial' is not a valid address: The part after the @-sign is not valid. "
           "It should have a period.",
        4: "Name is required.",
        6: "duplicate of line 2",
        8: "kim@example.com already has a credential in Course A",
        9: "Name must not contain line breaks or control characters.",
        11: "Name must be at most 200 characters.",
        12: "a cell is longer than 100,000 characters",
        13: "Name must not start with +: spreadsheets would run it as a formula.",
        15: "Group is empty: fill it in, or choose a group for rows without one.",
    }
    assert (job.total_rows, job.good_rows, job.problem_rows) == (14, 5, 9)
    refused_long = db.session.scalar(sa.select(ImportRow.name).where(ImportRow.line == 11))
    assert len(refused_long) == 201  # kept short enough to show

    page = logged_in.get(f"/imports/{job.id}").text
    assert "Line 3: &#39;jane@gmial&#39; is not a valid address" in page
    assert "Line 6: duplicate of line 2" in page
    assert "Line 14: gmial.com — did you mean gmail.com?" in page
    assert "1 without an address" in page and "Email is not provided" in page
    assert "Issue 5 credentials" in page
    assert "(Mal ⏎ Bcc: victim@example.com, mal@example.com)" in page  # on one line
    assert long_name not in page and huge_cell not in page

    job = issue_import(app, logged_in, job)
    assert (job.issued, job.queued) == (5, 4)
    names = [c.recipient_name for c in credentials(issuer.org_id)]
    assert names == ["Already", "Ann Lee", "Bo Chen", "Ann Other", "Tim", "Ok Last"]
    page = text_of(logged_in.get(f"/imports/{job.id}").text)
    assert "5 credentials published; 4 emails queued. 9 rows skipped (below)." in page
    assert "Line 8: kim@example.com already has a credential in Course A" in page


@BOTH
def test_a_suggested_fix_is_applied_on_request(app, logged_in, issuer):
    text = HEADER + "Ann,ann@gmail.com,A\nTim,tim@gmial.com,A\nTom,tom@hotmial.com,A\n" \
        "Eve,eve@yaho.com,A\n"
    job = checked(app, logged_in, text)
    assert job.good_rows == 4
    # One line: its address takes the suggestion, and it is checked for duplicates again.
    logged_in.post(f"/imports/{job.id}/fixes", data={"line": "3"})
    rows = {r.line: r for r in db.session.scalars(sa.select(ImportRow))}
    assert (rows[3].email, rows[3].fixed_from, rows[3].suggestion) == (
        "tim@gmail.com", "tim@gmial.com", None)
    assert rows[4].suggestion == "tom@hotmail.com"
    page = logged_in.get(f"/imports/{job.id}").text
    assert "Line 3: fixed, tim@gmial.com → tim@gmail.com" in page
    # All the others at once.
    response = logged_in.post(f"/imports/{job.id}/fixes", data={})
    assert response.status_code == 302
    job = issue_import(app, logged_in, db.session.get(ImportJob, job.id), action="draft")
    assert [c.recipient_email for c in credentials(issuer.org_id)] == [
        "ann@gmail.com", "tim@gmail.com", "tom@hotmail.com", "eve@yahoo.com"]


def test_a_fix_that_makes_a_duplicate_is_flagged(app, logged_in, issuer):
    job = checked(app, logged_in, HEADER + "Ann,ann@gmail.com,A\nAnn,ann@gmial.com,A\n")
    assert job.good_rows == 2
    logged_in.post(f"/imports/{job.id}/fixes", data={"line": "3"})
    job = db.session.get(ImportJob, job.id)
    assert (job.good_rows, problems(job)) == (1, {3: "duplicate of line 2"})


# Issuing -----------------------------------------------------------------------------


@BOTH
@pytest.mark.slow
def test_issued_rows_keep_statuses_counts_and_timeline_right(app, logged_in, issuer):
    text = HEADER + "".join(f"P{i},p{i}@example.com,G{i % 3}\n" for i in range(2500)) \
        + "Nomail,,G0\n"
    job = checked(app, logged_in, text)
    assert (job.total_rows, job.good_rows, job.processed_rows) == (2501, 2501, 2501)
    job = issue_import(app, logged_in, job)
    assert (job.issued, job.queued) == (2501, 2500)
    rows = credentials(issuer.org_id)
    assert len({c.token for c in rows}) == 2501
    assert {g.name for g in CredentialGroup.for_org(issuer.org_id)} == {"G0", "G1", "G2"}
    messages = db.session.scalars(sa.select(EmailMessage)).all()
    assert len({m.message_id for m in messages}) == len({m.token for m in messages}) == 2500
    assert all(m.state == "queued" and m.org_id == issuer.org_id for m in messages)
    events = db.session.scalars(sa.select(EmailEvent)).all()
    assert {(e.type, e.detail) for e in events if e.credential_id == rows[0].id} == {
        ("queued", "to p0@example.com")}
    # The stored counts agree with a recount of the stored statuses.
    stored = StatusCount.for_org(issuer.org_id)
    recount_statuses(issuer.org_id)
    assert stored == StatusCount.for_org(issuer.org_id)
    assert (stored["sending"], stored["not_provided"]) == (2500, 1)
    # The good rows (and their tokens) are gone from the staging table.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportRow)) == 0
    assert os.listdir(app.config["IMPORT_FOLDER"]) == []


def test_scheduled_import(app, logged_in, issuer):
    job = checked(app, logged_in, HEADER + "Ann,ann@example.com,A\n")
    response = logged_in.post(f"/imports/{job.id}/issue", data={
        "action": "schedule", "scheduled_at": "2000-01-01T09:00", "utc_offset": "0"})
    assert response.status_code == 422 and "Time must be in the future." in response.text
    job = issue_import(app, logged_in, job, action="schedule",
                       scheduled_at="2099-01-31T09:30", utc_offset="60")
    (credential,) = credentials(issuer.org_id)
    assert credential.issue_state == "scheduled"
    assert credential.scheduled_at.isoformat() == "2099-01-31T08:30:00+00:00"
    assert (job.queued, credential.email_status) == (0, "not_sent")


@BOTH
def test_nothing_is_issued_when_issuing_fails_midway(app, logged_in, issuer):
    text = HEADER + "".join(f"P{i},p{i}@example.com,New group\n" for i in range(100))
    job = checked(app, logged_in, text)
    # A message already holds the Message-ID line 50 would get: its INSERT fails after the
    # credentials and the group were inserted in the same transaction.
    other = issue(issuer, name="Other", email="other@example.com", action="publish")
    taken = db.session.scalar(sa.select(ImportRow.message_id).where(ImportRow.line == 50))
    other.latest_message.message_id = taken
    db.session.commit()
    before = StatusCount.for_org(issuer.org_id)
    job = issue_import(app, logged_in, job)
    assert job.state == "checked"
    assert job.error.startswith("Issuing stopped on an unexpected error (IntegrityError). "
                                "Nothing was issued")
    assert [c.recipient_name for c in credentials(issuer.org_id)] == ["Other"]
    assert "New group" not in {g.name for g in CredentialGroup.for_org(issuer.org_id)}
    assert StatusCount.for_org(issuer.org_id) == before
    assert "Nothing was issued; you can try again." in logged_in.get(f"/imports/{job.id}").text
    # Once the conflict is gone, the same rows issue in full.
    other.latest_message.message_id = "<freed@issuer.test>"
    db.session.commit()
    job = issue_import(app, logged_in, job)
    assert (job.state, job.issued) == ("done", 100)


@BOTH
def test_a_check_restarts_cleanly_when_its_lease_expires(app, logged_in, issuer):
    text = HEADER + "".join(f"P{i},p{i}@example.com,A\n" for i in range(10))
    upload(logged_in, text)
    job = latest_job()
    logged_in.post(f"/imports/{job.id}/mapping",
                   data={"name_col": "0", "email_col": "1", "group_col": "2"})
    db.session.commit()
    assert claim_import("dead worker") == job.id
    assert claim_import("another") is None  # leased
    # The dead worker had stored some rows; its lease runs out.
    db.session.execute(sa.insert(ImportRow), [{"import_id": job.id, "line": 2, "name": "P0"}])
    db.session.execute(sa.update(ImportJob).values(lease_until=utcnow()))
    db.session.commit()
    assert run_next("new worker")
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert (job.state, job.good_rows, job.lease_owner) == ("checked", 10, None)


def test_stale_actions_and_discard(app, logged_in, issuer):
    job = checked(app, logged_in, HEADER + "Ann,ann@example.com,A\n")
    response = logged_in.post(f"/imports/{job.id}/mapping", data={"name_col": "0"})
    assert response.status_code == 302
    assert "That step is over for this import" in logged_in.get(response.location).text
    response = logged_in.post(f"/imports/{job.id}/remap")
    assert db.session.get(ImportJob, job.id).state == "mapping"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportRow)) == 0
    job_id = job.id
    logged_in.post(f"/imports/{job_id}/discard")
    assert db.session.get(ImportJob, job_id) is None
    assert os.listdir(app.config["IMPORT_FOLDER"]) == []


def test_problems_download_is_neutralised(app, logged_in):
    job = checked(app, logged_in, HEADER + "=SUM(A1),x@example.com,A\nAnn,bad@,A\n")
    response = logged_in.get(f"/imports/{job.id}/problems.csv")
    lines = response.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "line,name,email,group,problem"
    assert lines[1].startswith("2,'=SUM(A1),x@example.com,A,")
    assert lines[2].startswith("3,Ann,bad@,A,")


# Scope and round trip ----------------------------------------------------------------


def test_other_organizations_imports_are_404(app, client, issuer, rival, auth):
    auth.login()
    job = checked(app, client, HEADER + "Ann,ann@example.com,A\n")
    client.post("/logout")
    auth.login("issuer@rival.test")
    for method, path in [("get", ""), ("get", "/progress"), ("get", "/problems.csv"),
                         ("post", "/mapping"), ("post", "/remap"), ("post", "/fixes"),
                         ("post", "/issue"), ("post", "/discard")]:
        assert getattr(client, method)(f"/imports/{job.id}{path}").status_code == 404
    assert job.filename not in client.get("/imports").text
    assert db.session.get(ImportJob, job.id).state == "checked"


def test_import_pages_need_login(client):
    response = client.get("/imports")
    assert response.status_code == 302 and "/login" in response.location


def test_export_then_import_round_trip(app, logged_in, issuer, rival, client, auth):
    for name, email in [("Ann Lee", "ann@example.com"), ("Bo Chen", None),
                        ("Zoë Ünal", "zoe@example.com")]:
        issue(issuer, name=name, email=email, group="Course A", action="publish")
    exported = logged_in.get("/credentials/export.csv").data
    client.post("/logout")
    auth.login("issuer@rival.test")
    job = checked(app, client, exported, "credentials.csv")
    assert (job.name_col, job.email_col, job.group_col) == (0, 1, 2)
    issue_import(app, client, job, action="draft")
    assert sorted((c.recipient_name, c.recipient_email, c.group.name)
                  for c in credentials(rival.org_id)) == sorted(
        (c.recipient_name, c.recipient_email, c.group.name)
        for c in credentials(issuer.org_id))


def test_progress_reloads_the_page_when_the_work_is_done(app, logged_in):
    upload(logged_in, HEADER + "Ann,ann@example.com,A\n")
    job = latest_job()
    logged_in.post(f"/imports/{job.id}/mapping",
                   data={"name_col": "0", "email_col": "1", "group_col": "2"})
    response = logged_in.get(f"/imports/{job.id}/progress")
    assert "HX-Refresh" not in response.headers
    assert "Waiting for the background worker to start." in response.text
    work(app)
    response = logged_in.get(f"/imports/{job.id}/progress")
    assert response.headers["HX-Refresh"] == "true"


def test_the_upload_keeps_no_path_from_the_filename(app, logged_in):
    upload(logged_in, HEADER + "Ann,ann@example.com,A\n", "../../etc/evil\x07name.csv")
    job = latest_job()
    assert job.filename == "evilname.csv"
    assert re.fullmatch(r"[0-9a-f]{32}\.csv", job.stored_as)
    assert os.listdir(app.config["IMPORT_FOLDER"]) == [job.stored_as]
