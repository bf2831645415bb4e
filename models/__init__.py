"""Database models, one module each; `db` is the Flask-SQLAlchemy handle."""

import fcntl
import zlib
from contextlib import contextmanager

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def immediate_connection():
    """A Core connection whose transactions take the write lock at BEGIN (SQLite)."""
    return db.engine.connect().execution_options(sqlite_immediate=True)


@contextmanager
def write_transaction():
    """One short Core write transaction outside the ORM session, committed on exit."""
    with immediate_connection() as connection, connection.begin():
        yield connection


def refresh_statistics():
    """Gather the credentials table's statistics for SQLite's query planner, and tidy the
    search index (models.search)."""
    # Without them it cannot tell that the engagement filters' partial indexes are small
    # and may read the whole table for a rare one. PostgreSQL's autovacuum keeps its own.
    with write_transaction() as connection:
        if db.engine.dialect.name == "sqlite":
            connection.exec_driver_sql("ANALYZE credentials")
        search.tidy_index(connection)


def write_lock():
    """Start the session's transaction with the write lock taken (SQLite), so a change that
    reads first cannot fail half-way on a lock another writer took in between."""
    if not db.session().in_transaction():
        db.session.connection(execution_options={"sqlite_immediate": True})


@contextmanager
def only_one(name):
    """Yield True to the one holder of the named lock across every process sharing the
    database, False to the others while it is held; a holder that dies lets go (a
    PostgreSQL advisory lock on a connection of its own; on SQLite, whose processes share
    one machine, a file lock beside the database)."""
    if db.engine.dialect.name == "postgresql":
        key = zlib.crc32(name.encode())
        with db.engine.connect() as connection:
            held = connection.scalar(sa.select(sa.func.pg_try_advisory_lock(key)))
            connection.commit()  # the lock belongs to the session: no transaction stays open
            try:
                yield held
            finally:
                if held:
                    connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                    connection.commit()
        return
    with open(f"{db.engine.url.database}.{name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True  # closing the file lets go


def _is_sqlite(dbapi_connection):
    return type(dbapi_connection).__module__.startswith("sqlite3")


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """Foreign keys on, WAL so readers never wait on the queue, and wait on locks."""
    if _is_sqlite(dbapi_connection):
        # We emit BEGIN ourselves (below), so the queue can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives a crash of the process, not of the OS.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.close()


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_begin(connection):
    """BEGIN, or BEGIN IMMEDIATE (take the write lock now) when the caller asked for it."""
    if connection.dialect.name == "sqlite":
        immediate = connection.get_execution_options().get("sqlite_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


from models import search  # noqa: E402
from models.api_key import ApiKey  # noqa: E402
from models.credential import Credential  # noqa: E402
from models.email_event import EmailEvent  # noqa: E402
from models.email_message import EmailMessage  # noqa: E402
from models.funnel_count import DailyCount, FunnelCount  # noqa: E402
from models.group import CredentialGroup  # noqa: E402
from models.import_job import ImportJob, ImportRow, LeaseLost  # noqa: E402
from models.intake import IntakeReceipt, IntakeStatus  # noqa: E402
from models.organization import Organization  # noqa: E402
from models.send_slot import SendSlot  # noqa: E402
from models.signed_message import SignedMessage  # noqa: E402
from models.signing_key import SigningKey  # noqa: E402
from models.status_count import StatusCount  # noqa: E402
from models.suppression import Suppression  # noqa: E402
from models.team import AccountToken, AuditEntry, ResetRequest  # noqa: E402
from models.unsubscribe import Unsubscribe  # noqa: E402
from models.user import User  # noqa: E402
from models.webhook import WebhookAttempt, WebhookEndpoint, WebhookMessage  # noqa: E402

__all__ = [
    "AccountToken", "ApiKey", "AuditEntry", "Credential", "CredentialGroup", "DailyCount",
    "EmailEvent", "EmailMessage", "FunnelCount", "ImportJob", "ImportRow", "IntakeReceipt",
    "IntakeStatus", "LeaseLost", "Organization", "ResetRequest", "SendSlot", "SignedMessage",
    "SigningKey", "StatusCount", "Suppression", "Unsubscribe", "User", "WebhookAttempt",
    "WebhookEndpoint", "WebhookMessage", "db", "immediate_connection", "only_one", "write_lock",
    "write_transaction",
]
