"""The check: read an uploaded file's rows into import_rows, each cleaned and good or
refused with why; then flag duplicates, and apply the issuer's typo fixes.

It streams the file and commits every BATCH rows, so its progress shows and memory stays
flat, then flags duplicates LINES lines at a time, each range a short transaction of its
own while the import stays leased. The new credential's tokens and Message-ID are fixed
here, so issuing is set-based.
"""

import bisect
import gc
import re
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import psycopg.sql
import sqlalchemy as sa
from flask import current_app

import validation
from importer import files
from importer.files import FileError
from models import Credential, CredentialGroup, ImportJob, ImportRow, db, write_lock
from models.credential import new_public_id
from models.email_message import new_message_id, new_token
from models.lease import lease_end
from models.search import search_text
from models.types import utcnow
from typos import suggest_address

BATCH = 1000
# Lines whose duplicates one transaction flags: on SQLite its write lock is held about
# 10 ms (one transaction for all 100,000 lines held it 170-440 ms).
LINES = 5000
SHOWN = 200  # characters of a refused cell kept to show the issuer
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")

imports, import_rows = ImportJob.__table__, ImportRow.__table__


def folder():
    """Where uploaded files wait until their import is done."""
    path = Path(current_app.config["IMPORT_FOLDER"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_file(stored_as):
    """Delete an import's uploaded file, if it is still there."""
    if stored_as:
        (folder() / stored_as).unlink(missing_ok=True)


@contextmanager
def uncollected():
    """Hold Python's cyclic garbage collector back for a short write transaction."""
    # A full collection of a worker's objects takes 100-200 ms: under SQLite's write lock
    # every other writer would wait for it too. It runs once the lock is let go instead.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def drop_rows(import_id, good_only=False):
    """Delete an import's checked rows (good_only: those issued, now credentials)."""
    rows = import_rows.c
    db.session.execute(sa.delete(import_rows).where(
        rows.import_id == import_id, *([rows.problem_kind.is_(None)] if good_only else [])))


def check_row(job, line, cells, error=None):
    """One row of the file as an import_rows row: cleaned and good, or refused with why."""

    def cell(index):
        return cells[index].strip() if index is not None and index < len(cells) else ""

    name, email, group = cell(job.name_col), cell(job.email_col), cell(job.group_col)
    group = group or job.default_group or ""
    problems = [error] if error else []
    if not error:
        name = _clean(problems, name, validation.clean_text, "Name")
        email = _clean(problems, email, validation.clean_email)
        if not group:
            problems.append("Group is empty: fill it in, or choose a group for rows "
                            "without one.")
        else:
            group = _clean(problems, group, validation.clean_text, "Group")
    row = {"import_id": job.id, "line": line, "name": name, "email": email or None,
           "group_name": group, "problem_kind": None, "problem": None, "email_key": None,
           "suggestion": None, "token": None, "message_token": None, "message_id": None,
           "public_id": None, "search_text": None}
    if problems:
        row.update({key: _shown(row[key]) for key in ("name", "email", "group_name")})
        row.update(problem_kind="invalid", problem="; ".join(problems))
        return row
    row.update(token=new_token(), public_id=new_public_id(),
               search_text=search_text(name, email))
    if email:
        row.update(email_key=email.lower(), suggestion=suggest_address(email),
                   message_token=new_token(), message_id=new_message_id())
    return row


def _clean(problems, value, rule, *args):
    try:
        return rule(value, *args)
    except validation.InvalidInput as problem:
        problems.append(str(problem))
        return value


def _shown(value):
    """A refused cell as the issuer may see it: one line, line breaks marked, cut short."""
    if not value:
        return value
    value = LINE_BREAKS.sub(" ⏎ ", value[:SHOWN + 1])
    value = "".join("�" if unicodedata.category(ch) == "Cc" else ch for ch in value)
    return value[:SHOWN] + "…" if len(value) > SHOWN else value


def check(job, owner):
    """Read the whole file into import_rows, then flag duplicates; the import is checked,
    or failed with the reason when the file cannot be read."""
    spec = SimpleNamespace(**{key: getattr(job, key) for key in (
        "id", "org_id", "stored_as", "kind", "delimiter", "name_col", "email_col", "group_col",
        "default_group")})  # plain values: the loop below must not reload the ORM object
    max_rows = current_app.config["IMPORT_MAX_ROWS"]
    drop_rows(spec.id)
    db.session.commit()
    batch, seen = [], 0
    try:
        for line, cells, error in files.rows(folder() / spec.stored_as, spec.kind,
                                             spec.delimiter):
            seen += 1
            if seen > max_rows:
                raise FileError(f"The file has more than {max_rows:,} rows; split it into "
                                f"files of at most {max_rows:,} rows.")
            batch.append(check_row(spec, line, cells, error))
            if len(batch) == BATCH:
                _save(spec.id, batch, seen, owner)
                batch = []
        _save(spec.id, batch, seen, owner)
        if not seen:
            raise FileError("The file has no rows under its header.")
    except FileError as error:
        return fail(spec.id, owner, str(error))
    except FileNotFoundError:
        return fail(spec.id, owner, "The uploaded file is gone; upload it again.")
    _mark(spec, owner)


def _mark(spec, owner):
    """Flag the duplicates a range of lines at a time, each range a short transaction of its
    own, then count the rows and move the import to checked in one more."""
    if db.engine.dialect.name == "postgresql":
        # The planner must know the rows just staged, or it loops over them for each
        # credential of a group (measured: minutes at 100,000 rows, instead of a second).
        db.session.execute(sa.text("ANALYZE import_rows"))
        db.session.commit()
    # Read without the write lock (a group can hold a million credentials): the leased
    # import's rows change only here, and a credential added meanwhile is as one added
    # just after the check.
    existing = existing_lines(db.session.connection(), spec.id, spec.org_id)
    ranges = _ranges(db.session.connection(), spec.id)
    db.session.commit()
    for after in ranges:
        with uncollected():
            write_lock()
            connection = db.session.connection()
            mark_range(connection, spec.id, after, existing)
            ImportJob.move_held(connection, spec.id, owner, "checking", "checking",
                                lease_until=lease_end())
            db.session.commit()
    good, problems = _counts(spec.id)
    db.session.commit()
    write_lock()
    ImportJob.move_held(db.session.connection(), spec.id, owner, "checking", "checked",
                        good_rows=good, problem_rows=problems)
    db.session.commit()


def _save(import_id, batch, seen, owner):
    """Store a batch of checked rows and the progress, if this worker still holds the lease."""
    with uncollected():
        write_lock()
        if batch:
            _insert(db.session.connection(), batch)
        ImportJob.move_held(db.session.connection(), import_id, owner, "checking",
                            "checking", processed_rows=seen, lease_until=lease_end())
        db.session.commit()


def _insert(connection, batch):
    """Insert checked rows (dicts of the same keys): PostgreSQL's COPY, at a fraction of an
    INSERT's cost a row (bench/README.md), else one executemany."""
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(import_rows), batch)
        return
    columns = list(batch[0])
    copy_in = psycopg.sql.SQL("COPY import_rows ({}) FROM STDIN").format(
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns)))
    with connection.connection.dbapi_connection.cursor() as cursor, \
            cursor.copy(copy_in) as copy:
        for row in batch:
            copy.write_row([row[column] for column in columns])


def fail(import_id, owner, reason, held="checking"):
    """The file cannot be imported: keep the reason, drop the rows and the file."""
    db.session.rollback()
    write_lock()
    drop_rows(import_id)
    stored_as = db.session.scalar(sa.select(imports.c.stored_as)
                                  .where(imports.c.id == import_id))
    ImportJob.move_held(db.session.connection(), import_id, owner, held, "failed",
                        error=reason, finished_at=utcnow(), stored_as=None)
    db.session.commit()
    remove_file(stored_as)


def mark_duplicates(connection, import_id, org_id):
    """Flag good rows that repeat an earlier line's address in the same group, and rows
    whose group has a credential for that address already (case aside), in one go."""
    existing = existing_lines(connection, import_id, org_id)
    for after in _ranges(connection, import_id):
        mark_range(connection, import_id, after, existing)


def _ranges(connection, import_id):
    """Where each range of LINES lines of the import starts (the line before it)."""
    last = connection.scalar(sa.select(sa.func.max(import_rows.c.line))
                             .where(import_rows.c.import_id == import_id))
    return range(0, last or 0, LINES)


def existing_lines(connection, import_id, org_id):
    """The lines, in order, whose group has a credential for their address already."""
    rows, credentials, groups = import_rows, Credential.__table__, CredentialGroup.__table__
    keyed = (rows.c.import_id == import_id, rows.c.email_key.is_not(None))
    found = []
    # One statement per group the organization has already: an uncorrelated IN list is
    # built once, where a correlated look-up per row would scan the group each time.
    for group_id, name in connection.execute(
            sa.select(groups.c.id, groups.c.name)
            .where(groups.c.org_id == org_id,
                   groups.c.name.in_(sa.select(rows.c.group_name).where(*keyed)))).all():
        addresses = (sa.select(sa.func.lower(credentials.c.recipient_email))
                     .where(credentials.c.group_id == group_id,
                            credentials.c.recipient_email.is_not(None)))
        found += connection.scalars(sa.select(rows.c.line).where(
            *keyed, rows.c.group_name == name, rows.c.email_key.in_(addresses))).all()
    return sorted(found)


def mark_range(connection, import_id, after, existing):
    """Flag the good rows of the lines after … after + LINES: a duplicate of the first
    earlier line of any range with the same group and address, else existing when its line
    is one of existing (existing_lines)."""
    rows, earlier = import_rows, import_rows.alias("earlier")
    through = after + LINES
    lines = (rows.c.import_id == import_id, rows.c.line > after, rows.c.line <= through)
    connection.execute(
        sa.update(rows).where(*lines, rows.c.problem_kind.in_(("duplicate", "existing")))
        .values(problem_kind=None, duplicate_of=None))
    first = (sa.select(sa.func.min(earlier.c.line))
             .where(earlier.c.import_id == rows.c.import_id,
                    earlier.c.group_name == rows.c.group_name,
                    earlier.c.email_key == rows.c.email_key,
                    earlier.c.line < rows.c.line,
                    sa.func.coalesce(earlier.c.problem_kind, "") != "invalid")
             .scalar_subquery())
    candidates = (*lines, rows.c.problem_kind.is_(None), rows.c.email_key.is_not(None))
    connection.execute(sa.update(rows).where(*candidates, first.is_not(None))
                       .values(problem_kind="duplicate", duplicate_of=first))
    found = existing[bisect.bisect_right(existing, after):bisect.bisect_right(existing, through)]
    if found:
        connection.execute(sa.update(rows).where(*candidates, rows.c.line.in_(found))
                           .values(problem_kind="existing"))


def _counts(import_id):
    """(good rows, problem rows) of the import."""
    counts = dict(db.session.execute(
        sa.select(import_rows.c.problem_kind.is_(None), sa.func.count())
        .where(import_rows.c.import_id == import_id)
        .group_by(import_rows.c.problem_kind.is_(None))).all())
    return counts.get(True, 0), counts.get(False, 0)


def apply_fixes(job, line=None):
    """Use the suggested address on one line (or on every line with a suggestion), then
    look for duplicates again; return how many rows changed."""
    rows = import_rows
    where = [rows.c.import_id == job.id, rows.c.suggestion.is_not(None),
             rows.c.problem_kind.is_(None) if line is None else rows.c.line == line]
    changed = db.session.execute(
        sa.update(rows).where(*where).values(
            fixed_from=rows.c.email, email=rows.c.suggestion,
            email_key=sa.func.lower(rows.c.suggestion), suggestion=None)
        .returning(rows.c.id, rows.c.name, rows.c.email)).all()
    if changed:  # the new address is searched for (models.search folds in Python)
        db.session.execute(sa.update(rows).where(rows.c.id == sa.bindparam("row_id")).values(
            search_text=sa.bindparam("text")),
            [{"row_id": i, "text": search_text(name, email)} for i, name, email in changed])
        mark_duplicates(db.session.connection(), job.id, job.org_id)
        job.good_rows, job.problem_rows = _counts(job.id)
    return len(changed)
