"""Reading an uploaded spreadsheet row by row: CSV (UTF-8, comma, semicolon or tab) or XLSX.

Both readers stream, so memory stays flat whatever the file's length, and both number rows
as the issuer's spreadsheet does (line 1 is the header).
"""

import codecs
import csv
import os
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

import openpyxl

MAX_COLUMNS = 200
MAX_CELL = 100_000  # characters; a longer CSV cell makes its row a problem, not a crash
SAMPLE_ROWS = 5
MAX_SAMPLE_COLUMNS = 30
# A workbook is a zip of XML parts. openpyxl unpacks the small parts (workbook, styles,
# relationships) whole, streams the sheets and keeps every shared string in memory, so the
# zip's directory is checked against these limits before openpyxl opens it. Members are
# read through zipfile, which stops at the size the directory declares (a member holding
# more then fails its CRC check), so the declared sizes bound what is unpacked.
MAX_MEMBERS = 500
SMALL_PART_LIMIT = 4 << 20
# Sheets and shared strings (and pictures, which openpyxl does not read here): a multiple
# of the upload's size, as XML compresses about 5 to 15 times, with a floor for small files.
LARGE_PART_FACTOR, LARGE_PART_FLOOR = 20, 8 << 20
TOTAL_FACTOR, TOTAL_FLOOR = 30, 16 << 20
# Deflate can pack XML up to about 1000 times; real spreadsheets stay far below this.
MAX_RATIO, RATIO_FROM = 100, 1 << 20
LARGE_PARTS = re.compile(r"xl/(sharedStrings|worksheets/[^/]+)\.xml|(?!.*\.(xml|rels)$).*",
                         re.IGNORECASE)
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"

csv.field_size_limit(MAX_CELL)


class FileError(Exception):
    """The file as a whole cannot be imported; the message tells the issuer why."""


@dataclass
class Inspection:
    """What the upload step learns: the format, the header, a few rows, about how many."""

    kind: str
    delimiter: str | None
    columns: list
    sample: list
    expected_rows: int | None


def kind_of(path, filename):
    """csv or xlsx, from the file's first bytes (an .xlsx only from its zip's directory);
    raise FileError when it is neither. Cheap enough for the upload request."""
    with open(path, "rb") as file:
        head = file.read(8)
    if not head:
        raise FileError("The file is empty.")
    if head.startswith(XLS_MAGIC):
        raise FileError("This is an old Excel .xls workbook. Save it as .xlsx, or as "
                        "CSV UTF-8, and upload that.")
    if head.startswith(XLSX_MAGIC):
        check_archive(path)
        return "xlsx"
    if filename.lower().endswith(".xlsx"):
        raise FileError("This file is named .xlsx but is not an Excel workbook.")
    return "csv"


def inspect(path, kind, max_rows):
    """Check the file can be read and learn its header; raise FileError when it cannot."""
    return _inspect_xlsx(path) if kind == "xlsx" else _inspect_csv(path, max_rows)


def rows(path, kind, delimiter):
    """(line, cells, error) for each row below the header, empty rows left out; error is
    a sentence when the row itself cannot be read (cells are then empty)."""
    reader = _xlsx_rows(path) if kind == "xlsx" else _csv_rows(path, delimiter)
    next(reader, None)  # the header
    for line, cells, error in reader:
        if error or not _empty(cells):
            yield line, cells, error


def _empty(cells):
    return not any(cell.strip() for cell in cells)


# CSV -----------------------------------------------------------------------------------


def _inspect_csv(path, max_rows):
    _check_text(path)
    with open(path, encoding="utf-8-sig", newline="") as file:
        first_line = file.readline()
    if not first_line.strip():
        raise FileError("The first line is empty: it must name the columns, for example "
                        "name,email,group.")
    delimiter = max(",;\t", key=first_line.count)
    reader = _csv_rows(path, delimiter)
    _, header, error = next(reader)
    if error:
        raise FileError(f"Line 1 cannot be read: {error}")
    sample, count = [], 0
    for _, cells, _ in reader:
        if _empty(cells):
            continue
        count += 1
        if len(sample) < SAMPLE_ROWS:
            sample.append(_sample(cells))
        if count > max_rows:
            raise FileError(f"The file has more than {max_rows:,} rows; split it into files "
                            f"of at most {max_rows:,} rows.")
    if not count:
        raise FileError("The file has a header line but no rows under it.")
    return Inspection("csv", delimiter, _header(header), sample, count)


def _check_text(path):
    """Refuse binary data and text that is not UTF-8, naming the line of the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            if b"\0" in chunk:
                raise FileError("This file holds binary data, not CSV text. Upload a CSV "
                                "file saved as text, or an .xlsx workbook.")
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                bad = chunk[error.start:error.start + 1].hex().upper()
                line += chunk[:error.start].count(b"\n")
                raise FileError(
                    f"The file is not UTF-8 text: byte 0x{bad} on line {line} cannot be read. "
                    "In your spreadsheet, save as \u201cCSV UTF-8\u201d, or upload the .xlsx "
                    "workbook.") from None
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileError("The file is not UTF-8 text: it ends in the middle of a "
                            "character.") from None


def _csv_rows(path, delimiter):
    """(line, cells, error) for every record, numbered by the line it starts on."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file, delimiter=delimiter)
        start = 1
        while True:
            try:
                cells = next(reader)
                error = None
            except StopIteration:
                return
            except csv.Error as problem:
                cells, error = [], _csv_error(problem)
            yield start, cells[:MAX_COLUMNS], error
            start = reader.line_num + 1


def _csv_error(problem):
    if "field larger than field limit" in str(problem):
        return f"a cell is longer than {MAX_CELL:,} characters"
    return f"the line is not valid CSV ({problem})"


# XLSX ----------------------------------------------------------------------------------


UNREADABLE = ("The file is not a readable Excel workbook (.xlsx). Open it in your "
              "spreadsheet and save it again, or save it as CSV UTF-8.")


def check_archive(path):
    """Refuse a workbook whose zip would unpack to more than its limits (see above), from
    the zip's directory alone: nothing is unpacked."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileError(UNREADABLE) from None
    if len(members) > MAX_MEMBERS:
        raise FileError(f"The workbook holds {len(members):,} files; a workbook may hold at "
                        f"most {MAX_MEMBERS:,}. Save it as CSV UTF-8, or copy its first "
                        "sheet into a new workbook.")
    upload = os.path.getsize(path)
    large = max(LARGE_PART_FLOOR, LARGE_PART_FACTOR * upload)
    for member in members:
        limit = large if LARGE_PARTS.fullmatch(member.filename) else SMALL_PART_LIMIT
        if member.file_size > limit:
            _too_large(f"its part {member.filename[:100]} unpacks to "
                       f"{_megabytes(member.file_size)}, and a part of a "
                       f"{_megabytes(upload)} workbook may unpack to at most "
                       f"{_megabytes(limit)}")
        if (member.file_size > RATIO_FROM
                and member.file_size > MAX_RATIO * max(member.compress_size, 1)):
            _too_large(f"its part {member.filename[:100]} is packed "
                       f"{member.file_size // max(member.compress_size, 1):,} times; a part "
                       f"may be packed at most {MAX_RATIO} times")
    total, limit = sum(member.file_size for member in members), \
        max(TOTAL_FLOOR, TOTAL_FACTOR * upload)
    if total > limit:
        _too_large(f"it unpacks to {_megabytes(total)}, and a {_megabytes(upload)} workbook "
                   f"may unpack to at most {_megabytes(limit)}")


def _too_large(why):
    raise FileError(f"The workbook is refused: {why}. Save it as CSV UTF-8, or split it.")


def _megabytes(size):
    return f"{size / (1 << 20):,.1f} MB" if size >= 1 << 20 else f"{size >> 10:,} KB"


def _open_workbook(path):
    check_archive(path)
    # openpyxl raises many kinds of errors on damaged files; any of them means "unreadable".
    # defusedxml, when installed, is what openpyxl parses with: entity expansion is refused.
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception:  # noqa: BLE001
        raise FileError(UNREADABLE) from None
    if not workbook.worksheets:
        workbook.close()
        raise FileError("The workbook has no sheet of rows (only charts?).")
    return workbook


def _inspect_xlsx(path):
    workbook = _open_workbook(path)
    try:
        expected = workbook.worksheets[0].max_row
    finally:
        workbook.close()
    reader = _xlsx_rows(path)
    first = next(reader, None)
    if first is None or _empty(first[1]):
        raise FileError("The first row of the workbook's first sheet is empty: it must name "
                        "the columns, for example name, email, group.")
    sample = []
    for _, cells, _ in reader:
        if not _empty(cells):
            sample.append(_sample(cells))
            if len(sample) == SAMPLE_ROWS:
                break
    reader.close()
    if not sample:
        raise FileError("The workbook has a header row but no rows under it.")
    return Inspection("xlsx", None, _header(first[1]), sample,
                      max(expected - 1, 1) if expected else None)


def _xlsx_rows(path):
    """(line, cells, None) for every row of the first sheet, cells as text."""
    workbook = _open_workbook(path)
    line = 0
    try:
        sheet = workbook.worksheets[0]
        # iter_rows pads every row to max_col: ask for the sheet's own width when known.
        width = min(sheet.max_column or MAX_COLUMNS, MAX_COLUMNS)
        values = sheet.iter_rows(values_only=True, max_col=width)
        while True:
            try:
                row = next(values, None)
            except Exception:  # noqa: BLE001 (damaged sheet XML, as in _open_workbook)
                raise FileError(f"The workbook cannot be read after row {line}: the sheet is "
                                "damaged. Save it again, or save it as CSV UTF-8.") from None
            if row is None:
                return
            line += 1
            yield line, [_text(value) for value in row], None
    finally:
        workbook.close()


def _text(value):
    """A cell's value as the text the issuer sees (formulas keep their leading =)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _sample(cells):
    """A row to show in the mapping: its first columns, each cut short."""
    return [cell[:100] for cell in cells[:MAX_SAMPLE_COLUMNS]]


def _header(cells):
    """Column names: trimmed, one line, at most 100 characters; empty ones at the end
    dropped."""
    names = [" ".join(str(cell).split())[:100] for cell in cells[:MAX_COLUMNS]]
    while names and not names[-1]:
        names.pop()
    return names
