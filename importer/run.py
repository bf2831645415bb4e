"""The import job: lease the next import with work to do, then read, check or issue it.

The steps run in the background (APScheduler or `flask worker`) and lease the import, as
the mail queue leases messages. Reading learns a workbook's header and first rows.
Issuing writes the checked good rows a chunk at a time, hidden, and shows them at once
(importer.issue): an import is never seen half-issued.
"""

import logging

import sqlalchemy as sa
from flask import current_app

from importer import files, mapping
from importer.check import check, fail, folder
from importer.issue import issue, release_held, stop
from models import ImportJob, LeaseLost, db, write_lock, write_transaction
from models.import_job import LEASE, PENDING
from models.lease import lease_end, lease_owner
from models.types import utcnow

log = logging.getLogger(__name__)
imports = ImportJob.__table__


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
        # Nothing of a failed step is kept: its transaction is rolled back (and the chunks
        # an issuing wrote before are removed).
        db.session.rollback()
        log.exception("import %s stopped while %s", import_id, state)
        _stopped(import_id, owner, state, error)
    return True


def _stopped(import_id, owner, state, error):
    """An unexpected error: reading or a check fails; issuing removes what it wrote and
    goes back to checked, to try again."""
    reason = f"({type(error).__name__}). Nothing was issued"
    try:
        if state in ("reading", "checking"):
            step = "Reading the workbook" if state == "reading" else "The check"
            fail(import_id, owner, f"{step} stopped on an unexpected error {reason}; "
                                   "upload the file again.", held=state)
            return
        stop(import_id, owner, f"Issuing stopped on an unexpected error {reason}; you can try "
                               "again.")
    except LeaseLost:
        db.session.rollback()


def run_imports(owner=None):
    """Run every import step there is to do, one after the other; return how many."""
    owner, steps = owner or lease_owner(), 0
    release_held()
    while run_next(owner):
        steps += 1
    return steps
