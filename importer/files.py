"""Reading an uploaded spreadsheet row by row: CSV (UTF-8, comma, semicolon or tab) or XLSX.

Both readers stream, so memory stays flat whatever the file's length, and both number rows
as the issuer's spreadsheet does (line 1 is the header).
"""

import codecs
import csv
from dataclasses import dataclass
from datetime import date, datetime, time

from openpyxl.reader.excel import ExcelReader

from importer.limits import UNREADABLE, FileError, check_archive, check_parts

MAX_COLUMNS = 200
MAX_CELL = 100_000  # characters; a longer CSV cell makes its row a problem, not a crash
SAMPLE_ROWS = 5
MAX_SAMPLE_COLUMNS = 30
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"

csv.field_size_limit(MAX_CELL)


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


def _open_workbook(path):
    """The workbook, read only, once its zip and the parts openpyxl reads passed the limits;
    the caller closes it."""
    check_archive(path)
    # load_workbook, in two steps: the limits need the parts the small ones name.
    reader = ExcelReader(path, read_only=True, data_only=False, keep_links=False)
    try:
        check_parts(reader)
        reader.read()
    except FileError:
        reader.archive.close()
        raise
    except Exception:  # noqa: BLE001 (openpyxl raises many kinds on damaged files)
        reader.archive.close()
        raise FileError(UNREADABLE) from None
    workbook = reader.wb
    if not workbook.worksheets:
        workbook.close()
        raise FileError("The workbook has no sheet of rows (only charts?).")
    return workbook


def _inspect_xlsx(path):
    workbook = _open_workbook(path)
    reader = _sheet_rows(workbook)
    try:
        expected = workbook.worksheets[0].max_row
        first = next(reader, None)
        if first is None or _empty(first[1]):
            raise FileError("The first row of the workbook's first sheet is empty: it must "
                            "name the columns, for example name, email, group.")
        sample = []
        for _, cells, _ in reader:
            if not _empty(cells):
                sample.append(_sample(cells))
                if len(sample) == SAMPLE_ROWS:
                    break
    finally:
        reader.close()
        workbook.close()
    if not sample:
        raise FileError("The workbook has a header row but no rows under it.")
    return Inspection("xlsx", None, _header(first[1]), sample,
                      max(expected - 1, 1) if expected else None)


def _xlsx_rows(path):
    """(line, cells, None) for every row of the first sheet, cells as text."""
    workbook = _open_workbook(path)
    try:
        yield from _sheet_rows(workbook)
    finally:
        workbook.close()


def _sheet_rows(workbook):
    sheet, line = workbook.worksheets[0], 0
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
