"""The check flags duplicates a range of lines at a time, each range its own short
transaction: the rows flagged are those one pass over the whole file would flag."""

import pytest
import sqlalchemy as sa
from conftest import issue
from test_imports import HEADER, checked

import importer.check
from models import ImportJob, ImportRow, db

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
LINES = 5  # ranges of lines 1-5, 6-10, 11-15, …: the file's first row is line 2

ROWS = [
    "Ann,ann@example.com,A",            # 2
    ",bob@example.com,A",               # 3 invalid (no name): never the first of a duplicate
    "Cy,cy@example.com,A",              # 4
    "Dee,dee@example.com,A",            # 5 the last line of the first range
    "Dee Again,DEE@example.com,A",      # 6 duplicate of 5, the first line of the next range
    "Kim,kim@example.com,A",            # 7 existing: group A has a credential for it
    "Bob,bob@example.com,A",            # 8 good: line 3 was refused
    "Ann B,ann@example.com,B",          # 9 good: another group
    "Ann Again,ann@example.com,A",      # 10 duplicate of 2
    "Kim Again,KIM@example.com,A",      # 11 duplicate of 7 (which is existing)
    "Kim B,kim@example.com,B",          # 12 good: group B has no credential for it
    *(f"P{i},p{i}@example.com,A" for i in range(13, 15)),  # 13-14
    "Lee,lee@example.com,A",            # 15 existing, the last line of its range
    *(f"P{i},p{i}@example.com,A" for i in range(16, 25)),  # 16-24
    "Ann Third,ann@example.com,A",      # 25 duplicate of 2, four ranges later
    "Bob Again,bob@example.com,A",      # 26 duplicate of 8
    "Ann B Again,ann@example.com,B",    # 27 duplicate of 9
    "No Mail,,A",                       # 28 good: without an address, never a duplicate
    "No Mail Either,,A",                # 29 good
    "Tim,tim@gmial.com,A",              # 30 good, with a suggestion
    "Tim Right,tim@gmail.com,A",        # 31 good until line 30 is fixed
    "Pat Typo,p13@example.con,A",       # 32 good; fixed, a duplicate of 13
]
FLAGGED = {3: ("invalid", None), 6: ("duplicate", 5), 7: ("existing", None),
           10: ("duplicate", 2), 11: ("duplicate", 7), 15: ("existing", None),
           25: ("duplicate", 2), 26: ("duplicate", 8), 27: ("duplicate", 9)}


def issued_already(issuer):
    """Credentials group A has already."""
    for name in ("Kim", "Lee"):
        issue(issuer, name=name, email=f"{name.lower()}@example.com", group="A")


def flags(job):
    """{line: (problem kind, duplicate of)} of the import's refused rows."""
    return {line: (kind, first) for line, kind, first in db.session.execute(
        sa.select(ImportRow.line, ImportRow.problem_kind, ImportRow.duplicate_of)
        .where(ImportRow.import_id == job.id, ImportRow.problem_kind.is_not(None)))}


@BOTH
def test_duplicates_across_ranges_are_flagged_as_in_one_pass(app, logged_in, issuer,
                                                             monkeypatch):
    issued_already(issuer)
    text = HEADER + "\n".join(ROWS) + "\n"
    whole = checked(app, logged_in, text)  # every line in one range
    monkeypatch.setattr(importer.check, "LINES", LINES)
    marked, mark_range = [], importer.check.mark_range

    def noted(connection, import_id, after, existing):
        marked.append(after)
        return mark_range(connection, import_id, after, existing)

    monkeypatch.setattr(importer.check, "mark_range", noted)
    ranged = checked(app, logged_in, text)
    assert marked == [0, 5, 10, 15, 20, 25, 30]  # 7 ranges: the rows are lines 2-32
    for job in (whole, ranged):
        assert flags(job) == FLAGGED
        assert (job.state, job.total_rows, job.good_rows, job.problem_rows) == (
            "checked", len(ROWS), len(ROWS) - len(FLAGGED), len(FLAGGED))

    # The fixes mark again, in ranges, in the request's transaction.
    marked.clear()
    response = logged_in.post(f"/imports/{ranged.id}/fixes", data={})
    assert response.status_code == 302
    assert marked == [0, 5, 10, 15, 20, 25, 30]
    db.session.expire_all()
    job = db.session.get(ImportJob, ranged.id)
    fixed = {**FLAGGED, 31: ("duplicate", 30), 32: ("duplicate", 13)}
    assert flags(job) == fixed
    assert (job.good_rows, job.problem_rows) == (len(ROWS) - len(fixed), len(fixed))


def test_another_writer_gets_the_write_lock_between_the_checks_transactions(
        app, logged_in, issuer, monkeypatch):
    issued_already(issuer)
    monkeypatch.setattr(importer.check, "LINES", LINES)
    write_lock, wrote = importer.check.write_lock, []

    def after_another_writer():
        # Every transaction of the check begins here: the lock must be free, at once.
        with db.engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout = 0")
            other.execute(sa.text("UPDATE organizations SET status_next = status_next"))
            other.commit()
        wrote.append(True)
        return write_lock()

    monkeypatch.setattr(importer.check, "write_lock", after_another_writer)
    job = checked(app, logged_in, HEADER + "\n".join(ROWS) + "\n")
    assert (job.state, flags(job)) == ("checked", FLAGGED)
    assert len(wrote) == 1 + 7 + 1  # the rows saved, 7 ranges marked, the move to checked
