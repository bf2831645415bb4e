"""Workbooks within a memory bound: what an uploaded .xlsx may hold before openpyxl reads it.

A workbook is a zip of XML parts. openpyxl unpacks the small parts (workbook, styles,
relationships) whole; it streams a sheet row by row and the shared strings text by text,
but keeps every shared string, the cleared element of every row it read, every element
outside the rows, and the whole of the row it is reading. So two checks, each refusing a
workbook with a message that names the limit it went over:

- check_archive, on the zip's directory alone (nothing unpacked; cheap enough for the
  upload request): how many members, each part's and the total unpacked size, and how
  tightly each part is packed. Members are read through zipfile, which stops at the size
  the directory declares (a member holding more then fails its CRC check), so the declared
  sizes bound what is unpacked.
- check_parts, on the parts openpyxl will parse, found as it finds them (the manifest
  and the workbook's relationships may name any member): the workbook part is held to
  the small-part limit, and every sheet and the shared strings are streamed through
  defusedxml without building a tree, counting rows (texts), the elements in one of
  them and the elements outside them. These bound what openpyxl keeps, whatever the
  bytes say. External links are not read at all (keep_links off).

XML is parsed with defusedxml, here and in openpyxl (which uses it once it is installed):
entity declarations are refused, so no entity expansion.
"""

import os
import re
import zipfile
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from openpyxl.reader.excel import _find_workbook_part  # the pinned openpyxl's own look-up
from openpyxl.xml.constants import SHARED_STRINGS


class FileError(Exception):
    """The file as a whole cannot be imported; the message tells the issuer why."""


UNREADABLE = ("The file is not a readable Excel workbook (.xlsx). Open it in your "
              "spreadsheet and save it again, or save it as CSV UTF-8.")

MAX_MEMBERS = 500
SMALL_PART_LIMIT = 4 << 20
# Sheets and shared strings by their usual names, and members that are not XML (pictures,
# which openpyxl does not read here): a multiple of the upload's size, as XML compresses
# about 5 to 15 times, with a floor for small files. Other XML parts are small.
LARGE_PART_FACTOR, LARGE_PART_FLOOR = 20, 8 << 20
TOTAL_FACTOR, TOTAL_FLOOR = 30, 16 << 20
# Deflate can pack XML up to about 1000 times; real spreadsheets stay far below this.
MAX_RATIO, RATIO_FROM = 100, 1 << 20
LARGE_PARTS = re.compile(r"xl/(sharedStrings|worksheets/[^/]+)\.xml|(?!.*\.(xml|rels)$).*",
                         re.IGNORECASE)
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
# A spreadsheet holds at most 1,048,576 rows of 16,384 cells; a cell's value, formula and
# text runs are elements of their own.
MAX_RECORDS, MAX_RECORD_ELEMENTS, MAX_OTHER_ELEMENTS = 1 << 20, 1 << 16, 200_000
CHUNK = 1 << 20


def check_archive(path):
    """Refuse a workbook whose zip would unpack to more than its limits, from the zip's
    directory alone."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except FileNotFoundError:
        raise  # the caller says the upload is gone
    except (zipfile.BadZipFile, OSError, ValueError):  # OSError: a seek a damaged zip asks
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
                       f"{_size(member.file_size)}, and a part of a "
                       f"{_size(upload)} workbook may unpack to at most "
                       f"{_size(limit)}")
        if (member.file_size > RATIO_FROM
                and member.file_size > MAX_RATIO * max(member.compress_size, 1)):
            _too_large(f"its part {member.filename[:100]} is packed "
                       f"{member.file_size // max(member.compress_size, 1):,} times; a part "
                       f"may be packed at most {MAX_RATIO} times")
    total = sum(member.file_size for member in members)
    limit = max(TOTAL_FLOOR, TOTAL_FACTOR * upload)
    if total > limit:
        _too_large(f"it unpacks to {_size(total)}, and a {_size(upload)} workbook "
                   f"may unpack to at most {_size(limit)}")


def _too_large(why):
    raise FileError(f"The workbook is refused: {why}. Save it as CSV UTF-8, or split it.")


def _size(size):
    """A size in bytes as people read it: 8.0 MB, 402 KB."""
    return f"{size / (1 << 20):,.1f} MB" if size >= 1 << 20 else f"{size >> 10:,} KB"

def check_parts(reader):
    """Refuse a workbook whose parts openpyxl's reader (an ExcelReader made with keep_links
    off, not yet read) would parse are over the limits; the parts found as it finds them."""
    reader.read_manifest()  # [Content_Types].xml: a small part by its fixed name
    # The manifest may name the workbook part anything: openpyxl reads it whole.
    book = _find_workbook_part(reader.package)
    if book is not None:
        _check_whole(reader.archive, book.PartName[1:])
    reader.read_workbook()  # the workbook and its relationships (a .rels: a small part)
    strings = reader.package.find(SHARED_STRINGS)
    if strings is not None:
        check_part(reader.archive, strings.PartName[1:], "si")
    for _, rel in reader.parser.find_sheets():
        # Every sheet, not only the first: opening a workbook sizes each of its sheets. A
        # chart sheet, read whole, has no rows: all its elements count as outside them.
        if rel.target in reader.valid_files:
            check_part(reader.archive, rel.target, "row")


def _check_whole(archive, name):
    """Refuse a part that openpyxl reads whole when it unpacks to more than a small part."""
    size = archive.getinfo(name).file_size
    if size > SMALL_PART_LIMIT:
        _too_large(f"its part {name[:100]} unpacks to {_size(size)}, and a part read whole "
                   f"may unpack to at most {_size(SMALL_PART_LIMIT)}")


def check_part(archive, name, record):
    """Refuse a sheet (record "row") or the shared strings (record "si") with more rows or
    texts, more elements in one of them, or more elements outside them, than the limits."""
    counter = _Counter(name, record)
    parser = DefusedXMLParser(target=counter)
    try:
        with archive.open(name) as stream:
            while chunk := stream.read(CHUNK):
                parser.feed(chunk)
        parser.close()
    except (ParseError, DefusedXmlException, zipfile.BadZipFile, KeyError):
        raise FileError(UNREADABLE) from None


class _Counter:
    """A parser target that counts what openpyxl would keep of a part, building nothing."""

    def __init__(self, name, record):
        self.name, self.record = name, MAIN + record
        self.kind = {"row": "row", "si": "text"}[record]
        self.records = self.inside = self.others = 0
        self.depth = 0  # within the current record; 0 outside one

    def start(self, tag, attrib):
        if self.depth:
            self.depth += 1
            self.inside += 1
            if self.inside > MAX_RECORD_ELEMENTS:
                self._refuse(f"more than {MAX_RECORD_ELEMENTS:,} elements in its "
                             f"{self.kind} {self.records:,}")
        elif tag == self.record:
            self.depth, self.inside = 1, 0
            self.records += 1
            if self.records > MAX_RECORDS:
                self._refuse(f"more than {MAX_RECORDS:,} {self.kind}s")
        else:
            self.others += 1
            if self.others > MAX_OTHER_ELEMENTS:
                self._refuse(f"more than {MAX_OTHER_ELEMENTS:,} elements outside its "
                             f"{self.kind}s")

    def end(self, tag):
        if self.depth:
            self.depth -= 1

    def data(self, text):
        pass

    def close(self):
        return None

    def _refuse(self, what):
        _too_large(f"its part {self.name[:100]} holds {what}")
