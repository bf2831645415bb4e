"""The import job: check an uploaded file's rows into import_rows, then issue the good ones.

Both steps run in the background (APScheduler or `flask worker`) as plain functions that
lease the import, like the mail queue leases messages. The check streams the file and
commits every BATCH rows, so its progress shows and memory stays flat. Issuing is one
transaction of set-based INSERT … SELECT statements, so an import is never half-issued.
"""

import logging
import re
import unicodedata
from collections import Counter
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app

import validation
from importer import files
from importer.files import FileError
from mailer.typos import suggest_address
from models import (
    Credential,
    CredentialGroup,
    EmailEvent,
    EmailMessage,
    ImportJob,
    ImportRow,
    db,
    write_lock,
    write_transaction,
)
from models.email_message import new_message_id, new_token
from models.import_job import PENDING
from models.status import email_status
from models.status_count import StatusCount
from models.types import utcnow

BATCH = 1000
SHOWN = 200  # characters of a refused cell kept to show the issuer
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")

log = logging.getLogger(__name__)
imports, import_rows = ImportJob.__table__, ImportRow.__table__


class LeaseLost(Exception):
    """Another worker, or the issuer, took the import away from this one."""


def folder():
    """Where uploaded files wait until their import is done."""
    path = Path(current_app.config["IMPORT_FOLDER"])
    path.mkdir(parents=True, exist_ok=True)
    return path


# The check ------------------------------------------------------------------------------


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
           "suggestion": None, "token": None, "message_token": None, "message_id": None}
    if problems:
        row.update({key: _shown(row[key]) for key in ("name", "email", "group_name")})
        row.update(problem_kind="invalid", problem="; ".join(problems))
        return row
    row.update(token=new_token())
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
    db.session.execute(sa.delete(import_rows).where(import_rows.c.import_id == spec.id))
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
        return _fail(spec.id, owner, str(error))
    except FileNotFoundError:
        return _fail(spec.id, owner, "The uploaded file is gone; upload it again.")
    write_lock()
    if db.engine.dialect.name == "postgresql":
        # The planner must know the rows just staged, or it loops over them for each
        # credential of a group (measured: minutes at 100,000 rows, instead of a second).
        db.session.execute(sa.text("ANALYZE import_rows"))
    mark_duplicates(db.session.connection(), spec.id, spec.org_id)
    good, problems = _counts(spec.id)
    _held(spec.id, owner, "checking", state="checked", good_rows=good,
          problem_rows=problems, lease_owner=None, lease_until=None)
    db.session.commit()


def _save(import_id, batch, seen, owner):
    """Store a batch of checked rows and the progress, if this worker still holds the lease."""
    write_lock()
    if batch:
        db.session.execute(sa.insert(import_rows), batch)
    _held(import_id, owner, "checking", processed_rows=seen, lease_until=_lease())
    db.session.commit()


def _lease():
    return utcnow() + timedelta(seconds=current_app.config["LEASE_SECONDS"])


def _held(import_id, owner, held_state, /, **values):
    """Update the import if this worker still holds it in held_state, else LeaseLost."""
    updated = db.session.execute(
        sa.update(imports)
        .where(imports.c.id == import_id, imports.c.lease_owner == owner,
               imports.c.state == held_state)
        .values(**values)).rowcount
    if not updated:
        raise LeaseLost


def _fail(import_id, owner, reason):
    """The file cannot be imported: keep the reason, drop the rows and the file."""
    db.session.rollback()
    write_lock()
    db.session.execute(sa.delete(import_rows).where(import_rows.c.import_id == import_id))
    stored_as = db.session.scalar(sa.select(imports.c.stored_as)
                                  .where(imports.c.id == import_id))
    _held(import_id, owner, "checking", state="failed", error=reason, finished_at=utcnow(),
          lease_owner=None, lease_until=None, stored_as=None)
    db.session.commit()
    _remove_file(stored_as)


def mark_duplicates(connection, import_id, org_id):
    """Flag good rows that repeat an earlier line's address in the same group, and rows
    whose group has a credential for that address already (case aside)."""
    rows, earlier = import_rows, import_rows.alias("earlier")
    connection.execute(
        sa.update(rows).where(rows.c.import_id == import_id,
                              rows.c.problem_kind.in_(("duplicate", "existing")))
        .values(problem_kind=None, duplicate_of=None))
    first = (sa.select(sa.func.min(earlier.c.line))
             .where(earlier.c.import_id == rows.c.import_id,
                    earlier.c.group_name == rows.c.group_name,
                    earlier.c.email_key == rows.c.email_key,
                    earlier.c.line < rows.c.line,
                    sa.func.coalesce(earlier.c.problem_kind, "") != "invalid")
             .scalar_subquery())
    candidates = (rows.c.import_id == import_id, rows.c.problem_kind.is_(None),
                  rows.c.email_key.is_not(None))
    connection.execute(sa.update(rows).where(*candidates, first.is_not(None))
                       .values(problem_kind="duplicate", duplicate_of=first))
    # One statement per group the organization has already: an uncorrelated IN list is
    # built once, where a correlated look-up per row would scan the group each time.
    credentials, groups = Credential.__table__, CredentialGroup.__table__
    named = sa.select(rows.c.group_name).where(*candidates)
    for group_id, name in connection.execute(
            sa.select(groups.c.id, groups.c.name)
            .where(groups.c.org_id == org_id, groups.c.name.in_(named))).all():
        addresses = (sa.select(sa.func.lower(credentials.c.recipient_email))
                     .where(credentials.c.group_id == group_id,
                            credentials.c.recipient_email.is_not(None)))
        connection.execute(sa.update(rows)
                           .where(*candidates, rows.c.group_name == name,
                                  rows.c.email_key.in_(addresses))
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
            email_key=sa.func.lower(rows.c.suggestion), suggestion=None)).rowcount
    if changed:
        mark_duplicates(db.session.connection(), job.id, job.org_id)
        job.good_rows, job.problem_rows = _counts(job.id)
    return changed


# Issuing --------------------------------------------------------------------------------


def issue(job, owner):
    """Create the credentials of every good row, their groups and (when publishing with
    email) their queued messages, in one transaction; then the import is done."""
    connection = db.session.connection()
    _held(job.id, owner, "issuing", lease_until=_lease())
    now, org_id, user_id, stored_as = utcnow(), job.org_id, job.user_id, job.stored_as
    good = sa.and_(import_rows.c.import_id == job.id, import_rows.c.problem_kind.is_(None))
    queue = job.action == "publish" and job.send_email
    # The stored status comes from the one rule, applied to the two shapes a new row has.
    no_address = email_status(SimpleNamespace(recipient_email=None), None).value
    with_address = email_status(SimpleNamespace(recipient_email="a"), SimpleNamespace(
        state="queued", opened_at=None) if queue else None).value

    groups = CredentialGroup.__table__
    known = sa.select(groups.c.id).where(groups.c.org_id == org_id,
                                         groups.c.name == import_rows.c.group_name)
    connection.execute(sa.insert(groups).from_select(
        ["org_id", "name", "created_at"],
        sa.select(sa.literal(org_id), import_rows.c.group_name, _at(now))
        .where(good, ~known.exists()).distinct()))

    credentials = Credential.__table__
    issue_state = {"draft": "draft", "publish": "published", "schedule": "scheduled"}
    connection.execute(sa.insert(credentials).from_select(
        ["org_id", "group_id", "recipient_name", "recipient_email", "issue_state",
         "scheduled_at", "published_at", "send_email", "token", "created_at", "email_status"],
        sa.select(sa.literal(org_id), groups.c.id, import_rows.c.name, import_rows.c.email,
                  sa.literal(issue_state[job.action]),
                  _at(job.scheduled_at if job.action == "schedule" else None),
                  _at(now if job.action == "publish" else None), sa.literal(job.send_email),
                  import_rows.c.token, _at(now),
                  sa.case((import_rows.c.email.is_(None), no_address), else_=with_address))
        .join_from(import_rows, groups, sa.and_(groups.c.org_id == org_id,
                                                groups.c.name == import_rows.c.group_name))
        .where(good).order_by(import_rows.c.line)))

    if queue:
        _queue_messages(connection, good, job, now)
    counts = dict(connection.execute(
        sa.select(import_rows.c.email.is_(None), sa.func.count()).where(good)
        .group_by(import_rows.c.email.is_(None))).all())
    addressed = counts.get(False, 0)
    queued = addressed if queue else 0
    StatusCount.apply(connection, Counter({(org_id, no_address): counts.get(True, 0),
                                           (org_id, with_address): addressed}))
    _held(job.id, owner, "issuing", state="done", queued=queued, error=None,
          finished_at=now, lease_owner=None, lease_until=None, stored_as=None)
    db.session.info["mail_queued"] = bool(queued)  # wakes this process's mail job
    db.session.commit()
    log.info("import %s: issued %s credentials for user %s", job.id, sum(counts.values()),
             user_id)
    # The credentials hold the good rows now (and their tokens): keep only the problems.
    write_lock()
    db.session.execute(sa.delete(import_rows).where(good))
    db.session.commit()
    _remove_file(stored_as)


def _queue_messages(connection, good, job, now):
    """Queue one message per new credential with an address, and its timeline event."""
    messages, credentials = EmailMessage.__table__, Credential.__table__
    connection.execute(sa.insert(messages).from_select(
        ["org_id", "credential_id", "requested_by_id", "to_address", "state", "attempts",
         "next_attempt_at", "message_id", "token", "created_at", "open_count", "is_reminder"],
        sa.select(sa.literal(job.org_id), credentials.c.id, sa.literal(job.user_id),
                  import_rows.c.email, sa.literal("queued"), sa.literal(0), _at(now),
                  import_rows.c.message_id, import_rows.c.message_token, _at(now),
                  sa.literal(0), sa.false())
        .join_from(import_rows, credentials, credentials.c.token == import_rows.c.token)
        .where(good, import_rows.c.email.is_not(None)).order_by(import_rows.c.line)))
    connection.execute(sa.insert(EmailEvent.__table__).from_select(
        ["credential_id", "message_id", "user_id", "type", "at", "detail"],
        sa.select(messages.c.credential_id, messages.c.id, sa.literal(job.user_id),
                  sa.literal("queued"), _at(now), sa.literal("to ") + messages.c.to_address)
        .join_from(import_rows, messages, messages.c.message_id == import_rows.c.message_id)
        .where(good, import_rows.c.email.is_not(None))))


def _at(moment):
    """A time as a typed SQL literal (stored as naive UTC like every time column)."""
    return sa.literal(moment, EmailMessage.__table__.c.created_at.type)


def _remove_file(stored_as):
    if stored_as:
        (folder() / stored_as).unlink(missing_ok=True)


# The job --------------------------------------------------------------------------------


def claim(owner, now=None):
    """Lease the oldest import with work to do (or whose lease expired); its id or None."""
    now = now or utcnow()
    chosen = (sa.select(imports.c.id)
              .where(imports.c.state.in_(PENDING),
                     sa.or_(imports.c.lease_until.is_(None), imports.c.lease_until < now))
              .order_by(imports.c.id).limit(1).with_for_update(skip_locked=True))
    lease = now + timedelta(seconds=current_app.config["LEASE_SECONDS"])
    with write_transaction() as connection:
        return connection.execute(
            sa.update(imports).where(imports.c.id.in_(chosen))
            .values(lease_owner=owner, lease_until=lease).returning(imports.c.id)).scalar()


def run_next(owner):
    """Check or issue the next import; False when there was none."""
    import_id = claim(owner)
    if import_id is None:
        return False
    write_lock()  # SQLite: read the import under the write lock its first step needs
    job = db.session.get(ImportJob, import_id)
    state = job.state
    try:
        (check if state == "checking" else issue)(job, owner)
    except LeaseLost:
        db.session.rollback()
    except Exception as error:
        # Nothing of a failed step is kept: its transaction is rolled back.
        db.session.rollback()
        log.exception("import %s stopped while %s", import_id, state)
        _stopped(import_id, owner, state, error)
    return True


def _stopped(import_id, owner, state, error):
    """An unexpected error: a check fails; issuing goes back to checked, to try again."""
    reason = f"({type(error).__name__}). Nothing was issued"
    try:
        if state == "checking":
            _fail(import_id, owner, f"The check stopped on an unexpected error {reason}; "
                                    "upload the file again.")
            return
        write_lock()
        _held(import_id, owner, "issuing", state="checked", lease_owner=None, lease_until=None,
              error=f"Issuing stopped on an unexpected error {reason}; you can try again.")
        db.session.commit()
    except LeaseLost:
        db.session.rollback()


def run_imports(app):
    """Run every import that has work to do, one after the other."""
    from mailer.queue import worker_name

    with app.app_context():
        try:
            owner = worker_name()
            while run_next(owner):
                pass
        finally:
            db.session.remove()
