"""The import job: lease the next import with work to do, then read, check or issue it.

The steps run in the background (APScheduler or `flask worker`) and lease the import, as
the mail queue leases messages. Reading learns a workbook's header and first rows.
Issuing hands the checked good rows, as one set, to the issuing service: one transaction,
so an import is never half-issued.
"""

import logging

import sqlalchemy as sa
from flask import current_app

import issuing
from importer import files, mapping
from importer.check import check, drop_rows, fail, folder, remove_file
from models import ImportJob, ImportRow, LeaseLost, db, write_lock, write_transaction
from models.import_job import LEASE, PENDING
from models.lease import lease_end, lease_owner
from models.types import UTCDateTime, utcnow

log = logging.getLogger(__name__)
imports, import_rows = ImportJob.__table__, ImportRow.__table__


def claim_import(owner, now=None):
    """Lease the oldest import with work to do (or whose lease expired); its id or None."""
    now = now or utcnow()
    oldest = (sa.select(imports.c.id)
              .where(imports.c.state.in_(PENDING), LEASE.free(now))
              .order_by(imports.c.id).limit(1).with_for_update(skip_locked=True))
    with write_transaction() as connection:
        claimed = LEASE.claim(connection, oldest, owner, lease_end(now=now))
    return claimed[0] if claimed else None


def read(job, owner):
    """Learn a workbook's header, first rows and size, and propose a mapping; or fail the
    import with the reason the workbook cannot be read."""
    import_id, stored_as = job.id, job.stored_as
    db.session.commit()  # no transaction held open while openpyxl reads
    try:
        found = files.inspect(folder() / stored_as, "xlsx",
                              current_app.config["IMPORT_MAX_ROWS"])
    except files.FileError as error:
        return fail(import_id, owner, str(error), held="reading")
    except FileNotFoundError:
        return fail(import_id, owner, "The uploaded file is gone; upload it again.",
                    held="reading")
    write_lock()
    ImportJob.move_held(db.session.connection(), import_id, owner, "reading", "mapping",
                        **mapping.proposal(found))
    db.session.commit()


def issue(job, owner):
    """Issue every good row (credentials, groups, queued emails) in one transaction; then
    the import is done."""
    connection = db.session.connection()
    ImportJob.move_held(connection, job.id, owner, "issuing", "issuing",
                        lease_until=lease_end())
    now, stored_as = utcnow(), job.stored_as
    good = sa.and_(import_rows.c.import_id == job.id, import_rows.c.problem_kind.is_(None))
    rows = sa.select(
        import_rows.c.line, import_rows.c.name, import_rows.c.email, import_rows.c.group_name,
        sa.literal(job.action).label("action"),
        sa.literal(job.scheduled_at, UTCDateTime).label("scheduled_at"),
        sa.literal(job.send_email).label("send_email"), import_rows.c.token,
        import_rows.c.message_id, import_rows.c.message_token, import_rows.c.public_id,
        sa.literal(None, UTCDateTime).label("expires_at")
    ).where(good).subquery("rows")
    counts = issuing.issue(connection, job.org_id, job.user_id, rows, now)
    ImportJob.move_held(connection, job.id, owner, "issuing", "done", queued=counts["queued"],
                        finished_at=now, stored_as=None)
    db.session.commit()
    log.info("import %s: issued %s credentials for user %s", job.id, counts["issued"],
             job.user_id)
    # The credentials hold the good rows now (and their tokens): keep only the problems.
    write_lock()
    drop_rows(job.id, good_only=True)
    db.session.commit()
    remove_file(stored_as)


STEPS = {"reading": read, "checking": check, "issuing": issue}


def run_next(owner):
    """Check or issue the next import; False when there was none."""
    import_id = claim_import(owner)
    if import_id is None:
        return False
    write_lock()  # SQLite: read the import under the write lock its first step needs
    job = db.session.get(ImportJob, import_id)
    state = job.state
    try:
        STEPS[state](job, owner)
    except LeaseLost:
        db.session.rollback()
    except Exception as error:
        # Nothing of a failed step is kept: its transaction is rolled back.
        db.session.rollback()
        log.exception("import %s stopped while %s", import_id, state)
        _stopped(import_id, owner, state, error)
    return True


def _stopped(import_id, owner, state, error):
    """An unexpected error: reading or a check fails; issuing goes back to checked, to try
    again."""
    reason = f"({type(error).__name__}). Nothing was issued"
    try:
        if state in ("reading", "checking"):
            step = "Reading the workbook" if state == "reading" else "The check"
            fail(import_id, owner, f"{step} stopped on an unexpected error {reason}; "
                                   "upload the file again.", held=state)
            return
        write_lock()
        ImportJob.move_held(db.session.connection(), import_id, owner, "issuing", "checked",
                            error=f"Issuing stopped on an unexpected error {reason}; you can "
                                  "try again.")
        db.session.commit()
    except LeaseLost:
        db.session.rollback()


def run_imports(owner=None):
    """Run every import step there is to do, one after the other; return how many."""
    owner, steps = owner or lease_owner(), 0
    while run_next(owner):
        steps += 1
    return steps
