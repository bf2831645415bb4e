"""Issuing an import's good rows a chunk at a time, each chunk a short transaction of its
own, and showing them all at once.

A chunk writes its credentials marked with the import's id (no page, count or job sees
them while the import is issuing: Credential.shown), their emails held (issuing.emails.HELD:
the queue's claim never reaches them) and their events, and notes the last line it wrote
(issued_through). Once every chunk is written, one short transaction counts them and
moves the import to done, which shows them all; then the held emails get their due time,
a chunk at a time. An import stopped by an error removes what it wrote, a chunk at a time
from its last line down, before it goes back to checked. A worker that dies leaves the
import issuing under an expired lease: the next one resumes after issued_through, or
goes on removing (the import's error is set), and release_held gives any email still
held of a shown import its time.
"""

import logging
from types import SimpleNamespace

import sqlalchemy as sa

import work
from importer.check import remove_file, uncollected
from issuing.new import release, show, stage, tally
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
from models.lease import lease_end
from models.types import UTCDateTime, utcnow

log = logging.getLogger(__name__)
# Rows a transaction writes: on SQLite its write lock is held well under 200 ms (120-150 ms
# at most at 100,000 rows, its COMMIT included). Each chunk also costs about 20 ms of its
# own, most of it in the COMMIT: 500 rows a chunk held the lock 90 ms at most, but the
# whole import took about 20% longer.
CHUNK = 1000
credentials, groups = Credential.__table__, CredentialGroup.__table__
import_rows = ImportRow.__table__
KEPT = ("id", "org_id", "user_id", "action", "scheduled_at", "send_email", "stored_as",
        "issued_through", "new_groups", "error")


def issue(job, owner):
    """Issue the import's good rows chunk by chunk, hidden, then show them; or, when an
    earlier try stopped on an error, go on removing what it wrote."""
    spec = SimpleNamespace(**{key: getattr(job, key) for key in KEPT})
    db.session.commit()  # plain values: the chunks below must not reload the ORM object
    if spec.error:
        return undo(spec.id, owner)
    now = utcnow()
    while (last := _chunk_end(spec.id, spec.issued_through or 0)) is not None:
        with uncollected():
            write_lock()
            connection = db.session.connection()
            made = stage(connection, spec.org_id, spec.user_id,
                         rows(spec, after=spec.issued_through or 0, through=last), now,
                         spec.id)
            spec.new_groups = (spec.new_groups or []) + made if made else spec.new_groups
            spec.issued_through = last
            ImportJob.move_held(connection, spec.id, owner, "issuing", "issuing",
                                issued_through=last, new_groups=spec.new_groups,
                                lease_until=lease_end())
            db.session.commit()
    _show(spec, owner, now)


def rows(spec, after=0, through=None):
    """The import's good rows (of the lines after … through) as issuing.issue's set."""
    lines = [] if through is None else [import_rows.c.line <= through]
    return sa.select(
        import_rows.c.line, import_rows.c.name, import_rows.c.email, import_rows.c.group_name,
        sa.literal(spec.action).label("action"),
        sa.literal(spec.scheduled_at, UTCDateTime).label("scheduled_at"),
        sa.literal(spec.send_email).label("send_email"), import_rows.c.token,
        import_rows.c.message_id, import_rows.c.message_token, import_rows.c.public_id,
        import_rows.c.search_text, sa.literal(None, UTCDateTime).label("expires_at")
    ).where(import_rows.c.import_id == spec.id, import_rows.c.problem_kind.is_(None),
            import_rows.c.line > after, *lines).subquery("rows")


def _chunk_end(import_id, after):
    """The last line of the next chunk of good rows after that line; None when none is
    left."""
    good = sa.select(import_rows.c.line).where(
        import_rows.c.import_id == import_id, import_rows.c.problem_kind.is_(None),
        import_rows.c.line > after)
    end = db.session.scalar(good.order_by(import_rows.c.line).offset(CHUNK - 1).limit(1))
    if end is None:
        end = db.session.scalar(sa.select(sa.func.max(good.subquery().c.line)))
    db.session.commit()  # a read: no transaction held between chunks
    return end


def _show(spec, owner, now):
    """Count the written credentials and move the import to done, which shows them, in
    one short transaction; then release their emails and drop the issued rows."""
    tallied = tally(db.session.connection(), spec.org_id, rows(spec))
    db.session.commit()  # read before the write lock: the leased import's rows stay as they are
    write_lock()
    connection = db.session.connection()
    queued = show(connection, spec.org_id, spec.id, tallied, now)
    ImportJob.move_held(connection, spec.id, owner, "issuing", "done", queued=queued,
                        finished_at=now, stored_as=None, issued_through=None, new_groups=None)
    db.session.commit()
    log.info("import %s: issued %s credentials for user %s", spec.id,
             sum(tallied[0].values()), spec.user_id)
    release_held()
    # The credentials hold the good rows now (and their tokens): keep only the problems.
    good = sa.select(import_rows.c.id).where(import_rows.c.import_id == spec.id,
                                             import_rows.c.problem_kind.is_(None))
    _in_chunks(lambda connection: connection.execute(
        sa.delete(import_rows).where(import_rows.c.id.in_(good.limit(CHUNK)))).rowcount)
    remove_file(spec.stored_as)


def release_held():
    """Give the held emails of every shown import their due time, a chunk at a time (those
    of an import whose worker died after showing it too)."""
    if _in_chunks(lambda connection: release(connection, CHUNK)):
        work.note(work.MAIL)


def _in_chunks(step):
    """Run step(connection), which does up to CHUNK rows, in short write transactions of
    their own until it does fewer; how many it did in all."""
    done = 0
    while True:
        with write_transaction() as connection:
            count = step(connection)
        done += count
        if count < CHUNK:
            return done


def stop(import_id, owner, reason):
    """Issuing stopped on an error: note why (the import stays issuing, hidden), remove
    what it wrote, then it goes back to checked."""
    write_lock()
    ImportJob.move_held(db.session.connection(), import_id, owner, "issuing", "issuing",
                        error=reason, lease_until=lease_end())
    db.session.commit()
    undo(import_id, owner)


def undo(import_id, owner):
    """Remove the import's written credentials (their emails and events with them), from
    its last line down a chunk at a time, and the groups it made; back to checked."""
    through, made = db.session.execute(sa.select(
        ImportJob.issued_through, ImportJob.new_groups).where(ImportJob.id == import_id)).one()
    db.session.commit()
    while through:
        lines = db.session.scalars(
            sa.select(import_rows.c.line).where(
                import_rows.c.import_id == import_id, import_rows.c.problem_kind.is_(None),
                import_rows.c.line <= through)
            .order_by(import_rows.c.line.desc()).limit(CHUNK)).all()
        db.session.commit()
        lowest = lines[-1] - 1 if len(lines) == CHUNK else 0
        write_lock()
        connection = db.session.connection()
        tokens = sa.select(import_rows.c.token).where(
            import_rows.c.import_id == import_id, import_rows.c.problem_kind.is_(None),
            import_rows.c.line > lowest, import_rows.c.line <= through)
        # By token as well as the mark: a discarded import's id may be taken again (SQLite).
        ids = sa.select(credentials.c.id).where(credentials.c.import_id == import_id,
                                                credentials.c.token.in_(tokens))
        for table, column in ((EmailEvent.__table__, "credential_id"),
                              (EmailMessage.__table__, "credential_id"),
                              (credentials, "id")):
            connection.execute(sa.delete(table).where(table.c[column].in_(ids)))
        ImportJob.move_held(connection, import_id, owner, "issuing", "issuing",
                            issued_through=lowest, lease_until=lease_end())
        db.session.commit()
        through = lowest
    write_lock()
    connection = db.session.connection()
    if made:  # those still empty (another import may have issued into one since)
        connection.execute(sa.delete(groups).where(
            groups.c.id.in_(made),
            ~sa.exists().where(credentials.c.group_id == groups.c.id)))
    ImportJob.move_held(connection, import_id, owner, "issuing", "checked",
                        issued_through=None, new_groups=None)
    db.session.commit()
