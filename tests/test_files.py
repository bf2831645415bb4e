"""Workbooks within a memory bound: zip bombs, lying zip headers and XML entity bombs are
refused with a clear message, and the process reading them stays small."""

import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import defusedxml
import openpyxl.xml
import openpyxl.xml.functions
import pytest
import sqlalchemy as sa
from test_imports import read_in_background, text_of, upload, xlsx

from importer.limits import UNREADABLE
from models import ImportJob, db

SHEET = "xl/worksheets/sheet1.xml"
HEAD = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>")
TAIL = b"</sheetData></worksheet>"
ROOT = Path(__file__).resolve().parent.parent


def workbook(path, parts):
    """A real workbook at path, with parts replaced or added: {name: iterable of chunks}."""
    original = zipfile.ZipFile(io.BytesIO(xlsx([["name", "email"], ["Ann", "a@x.test"]])))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in original.namelist():
            if name not in parts:
                archive.writestr(name, original.read(name))
        for name, chunks in parts.items():
            with archive.open(name, "w") as member:  # streamed: the test stays small too
                for chunk in chunks:
                    member.write(chunk)
    return path


def spaces(megabytes):
    """A sheet that is all whitespace: valid XML that deflate packs about 1000 times."""
    yield HEAD
    for _ in range(megabytes):
        yield b" " * (1 << 20)
    yield TAIL


def packed(megabytes, ratio):
    """A part that deflate packs about ratio times (random bytes among zeros)."""
    for _ in range(megabytes):
        yield os.urandom((1 << 20) // ratio) + bytes((1 << 20) - (1 << 20) // ratio)


def refused(logged_in, path):
    """The upload's answer: 422 and the page's text."""
    response = upload(logged_in, path.read_bytes(), "people.xlsx")
    assert response.status_code == 422
    return text_of(response.text)


@pytest.mark.parametrize(("parts", "message"), [
    ({SHEET: spaces(12)},
     "The workbook is refused: its part xl/worksheets/sheet1.xml unpacks to 12.0 MB, and a "
     "part of a 16 KB workbook may unpack to at most 8.0 MB. Save it as CSV UTF-8, or split "
     "it."),
    ({"xl/styles.xml": packed(5, 50)},
     "its part xl/styles.xml unpacks to 5.0 MB, and a part of a * workbook may unpack to at "
     "most 4.0 MB."),
    ({SHEET: spaces(4)},
     "its part xl/worksheets/sheet1.xml is packed 1,004 times; a part may be packed at most "
     "100 times."),
    ({f"xl/media/image{i}.png": packed(7, 80) for i in range(3)},
     "it unpacks to 21.0 MB, and a * workbook may unpack to at most 16.0 MB."),
    ({f"xl/media/image{i}.png": [b"x"] for i in range(500)},
     "The workbook holds 509 files; a workbook may hold at most 500. Save it as CSV UTF-8, or "
     "copy its first sheet into a new workbook."),
], ids=["sheet-over-floor", "styles", "ratio", "total", "members"])
def test_a_workbook_over_a_limit_is_refused_at_upload_naming_it(app, logged_in, tmp_path,
                                                                 parts, message):
    text = refused(logged_in, workbook(tmp_path / "bad.xlsx", parts))
    assert re.search(re.escape(message).replace(r"\*", r"\d+ KB"), text), text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportJob)) == 0
    assert os.listdir(app.config["IMPORT_FOLDER"]) == []


def test_a_part_larger_than_its_header_says_is_read_only_as_far_as_declared(app, logged_in,
                                                                          tmp_path):
    # The zip's directory declares 1 KB for a sheet that holds 20 MB, so the checks pass it;
    # zipfile (which openpyxl reads through) stops at the declared size: with the CRC of that
    # first KB it returns just that; with the real CRC it fails the check.
    path = workbook(tmp_path / "liar.xlsx", {SHEET: spaces(20)})
    first = (HEAD + b" " * 1024)[:1024]
    with zipfile.ZipFile(path) as archive:
        real_crc = archive.getinfo(SHEET).CRC
    declare(path, SHEET, 1024, zlib.crc32(first))
    with zipfile.ZipFile(path) as archive:
        assert archive.read(SHEET) == first
    declare(path, SHEET, 1024, real_crc)
    with zipfile.ZipFile(path) as archive, pytest.raises(zipfile.BadZipFile, match="CRC-32"):
        archive.read(SHEET)
    job = read_in_background(app, logged_in, path.read_bytes())
    assert job.state == "failed"
    assert job.error.startswith("The file is not a readable Excel workbook (.xlsx).")


def declare(path, name, size, crc):
    """Rewrite the unpacked size and the CRC the zip's headers give for one member."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    local = info.header_offset
    data[local + 14:local + 18] = struct.pack("<I", crc)
    data[local + 22:local + 26] = struct.pack("<I", size)
    entry = data.index(b"PK\x01\x02")  # the central directory's entries, in turn
    while data[entry + 46:entry + 46 + len(name)] != name.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 16:entry + 20] = struct.pack("<I", crc)
    data[entry + 24:entry + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


def sheet(rows=(), before=b"", after=b""):
    """A sheet's XML: rows (bytes each) in sheetData, other elements around it."""
    yield HEAD.replace(b"<sheetData>", before + b"<sheetData>")
    yield from rows
    yield TAIL.replace(b"</sheetData>", b"</sheetData>" + after)


def with_strings(strings):
    """Parts for a workbook whose shared strings are the given XML (listed in its manifest)."""
    original = zipfile.ZipFile(io.BytesIO(xlsx([["name"]])))
    manifest = original.read("[Content_Types].xml").replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxml'
        b'formats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
    return {"[Content_Types].xml": [manifest], "xl/sharedStrings.xml": [
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">', strings,
        b"</sst>"]}


def renamed_workbook_part(name, chunks):
    """Parts for a workbook whose manifest names another part as the workbook (openpyxl
    follows it), holding chunks: not a name the zip's checks count as a small part."""
    original = zipfile.ZipFile(io.BytesIO(xlsx([["name"]])))
    manifest = original.read("[Content_Types].xml").replace(b"/xl/workbook.xml",
                                                            b"/" + name.encode())
    return {"[Content_Types].xml": [manifest], name: chunks}


@pytest.mark.parametrize(("parts", "message"), [
    ({SHEET: sheet([b'<row r="1">' + b"<c><v>1</v></c>" * 65_537 + b"</row>"])},
     "its part xl/worksheets/sheet1.xml holds more than 65,536 elements in its row 1."),
    ({SHEET: sheet(b'<row r="%d"/>' % i for i in range(1, (1 << 20) + 2))},
     "its part xl/worksheets/sheet1.xml holds more than 1,048,576 rows."),
    ({SHEET: sheet(after=b"<mergeCells>" + b"".join(
        b'<mergeCell ref="A%d:B%d"/>' % (i, i) for i in range(200_000)) + b"</mergeCells>")},
     "its part xl/worksheets/sheet1.xml holds more than 200,000 elements outside its rows."),
    (with_strings(b"<si>" + b"<r><t>a</t></r>" * 40_000 + b"</si>"),
     "its part xl/sharedStrings.xml holds more than 65,536 elements in its text 1."),
    (renamed_workbook_part("xl/book.bin", packed(5, 50)),
     "its part xl/book.bin unpacks to 5.0 MB, and a part read whole may unpack to at most "
     "4.0 MB."),
], ids=["wide-row", "rows", "outside-rows", "long-text", "workbook-part"])
def test_a_part_holding_more_than_openpyxl_should_keep_is_refused_before_it_reads(
        app, logged_in, tmp_path, parts, message):
    job = read_in_background(app, logged_in,
                             workbook(tmp_path / "many.xlsx", parts).read_bytes())
    assert job.state == "failed"
    assert job.error == f"The workbook is refused: {message[:-1]}. Save it as CSV UTF-8, or " \
                        "split it."


LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10)
                     for i in range(1, 10))
          + b"]>")  # &lol9; expands to 10**9 "lol"s


@pytest.mark.parametrize("part", ["xl/workbook.xml", SHEET])
def test_an_entity_expansion_bomb_is_refused_by_defusedxml(app, logged_in, tmp_path, part):
    assert openpyxl.xml.DEFUSEDXML  # installed (requirements.txt), so openpyxl parses with it
    original = zipfile.ZipFile(io.BytesIO(xlsx([["name"], ["Ann"]]))).read(part)
    body = original.split(b"?>", 1)[-1]
    bomb = LAUGHS + body.replace(b"<sheetData>", b"<sheetData><row><c t=\"inlineStr\"><is><t>"
                                 b"&lol9;</t></is></c></row>")
    with pytest.raises(defusedxml.EntitiesForbidden):
        openpyxl.xml.functions.fromstring(bomb)
    job = read_in_background(app, logged_in,
                             workbook(tmp_path / "laughs.xlsx", {part: [bomb]}).read_bytes())
    assert (job.state, job.error) == ("failed", UNREADABLE)


# The peak memory of a process while it imports one file (VmHWM, reset once the app is up
# and logged in): the upload through the test client, every background step, and then the
# file's rows read directly.
MEASURE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
from pathlib import Path
from conftest import PASSWORD, RequestClient, make_app
from accounts import create_user
from importer import files
from importer.run import run_imports
from importer.limits import UNREADABLE
from models import ImportJob, db
from test_imports import latest_job, upload

tmp, path = Path(sys.argv[2]), Path(sys.argv[3])


def kilobytes(field):
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith(field)).split()[1])


app = make_app(tmp)
with app.app_context():
    create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    client = app.test_client()
    client.post("/login", data={"email": "issuer@acme.test", "password": PASSWORD})
    # From here on: the login's password hash (tens of MB) is not the import's peak.
    Path("/proc/self/clear_refs").write_text("5")
    before = kilobytes("VmRSS")
    response = upload(client, path.read_bytes(), path.name)
    steps = run_imports()
    job = latest_job()
    if job is not None and job.state == "mapping":
        client.post(f"/imports/{job.id}/mapping",
                    data={"name_col": "0", "email_col": "1", "group_id": "",
                          "new_group": "Course A"})
        steps += run_imports()
    db.session.expire_all()
    job = latest_job()
    try:
        rows, error = sum(1 for _ in files.rows(path, "xlsx", None)), None
    except files.FileError as problem:
        rows, error = None, str(problem)
    print(json.dumps({"before_mb": before // 1024, "peak_mb": kilobytes("VmHWM") // 1024,
                      "status": response.status_code, "page": response.text, "steps": steps,
                      "state": job and job.state, "good": job and job.good_rows,
                      "rows": rows, "error": error}))
"""


def measured(tmp_path, path):
    """Import path in a fresh process; what came of it and the process's peak memory."""
    (tmp_path / "app").mkdir()
    done = subprocess.run([sys.executable, "-c", MEASURE, str(ROOT), str(tmp_path / "app"),
                           str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    print(path.name, result["before_mb"], "MB before the upload, peak",  # pytest -s shows it
          result["peak_mb"], "MB")
    return result


@pytest.mark.slow
def test_a_small_file_that_unpacks_to_400_mb_is_refused_and_memory_stays_small(tmp_path):
    path = workbook(tmp_path / "bomb.xlsx", {SHEET: spaces(400)})
    assert os.path.getsize(path) < 500_000
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo(SHEET).file_size > 400 << 20
    result = measured(tmp_path, path)
    assert result["status"] == 422
    assert re.search(r"The workbook is refused: its part xl/worksheets/sheet1\.xml unpacks to "
                     r"400\.0 MB, and a part of a \d{3} KB workbook may unpack to at most "
                     r"8\.0 MB\.", text_of(result["page"]))
    assert result["error"].startswith("The workbook is refused: its part")
    assert result["peak_mb"] < 200 and result["peak_mb"] - result["before_mb"] < 64


def wide_row(megabytes):
    """One row of empty cells with random styles: packed only about 10 times, so the zip's
    checks pass it, yet openpyxl would build every cell of the row at once."""
    styles = os.urandom(megabytes << 17)  # a cell is about 8 bytes
    yield b'<row r="1">'
    for start in range(0, len(styles), 1 << 16):
        yield b"".join(b'<c s="%d"/>' % style for style in styles[start:start + (1 << 16)])
    yield b"</row>"


@pytest.mark.slow
def test_a_row_bomb_the_zip_checks_pass_is_refused_and_memory_stays_small(tmp_path):
    path = workbook(tmp_path / "row.xlsx", {SHEET: sheet(wide_row(14))})
    result = measured(tmp_path, path)
    assert (result["status"], result["state"]) == (302, "failed")  # read in the background
    assert result["error"] == (
        "The workbook is refused: its part xl/worksheets/sheet1.xml holds more than 65,536 "
        "elements in its row 1. Save it as CSV UTF-8, or split it.")
    assert result["peak_mb"] < 200 and result["peak_mb"] - result["before_mb"] < 64


@pytest.mark.slow
def test_a_normal_workbook_imports_in_a_measured_process(tmp_path):
    rows = [["name", "email"]] + [[f"Person {i}", f"p{i}@example.com"] for i in range(2000)]
    path = tmp_path / "class.xlsx"
    path.write_bytes(xlsx(rows))
    result = measured(tmp_path, path)
    assert (result["status"], result["state"], result["good"], result["rows"]) == (
        302, "checked", 2000, 2000)
    assert result["peak_mb"] < 200 and result["peak_mb"] - result["before_mb"] < 64

