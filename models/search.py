"""The search of names and addresses: the folded text each credential keeps, and its index.

Both databases search the same column, credentials.search_text, which holds the name and the
address folded here in Python (so accents and case compare alike on both, whatever the
database's locale or extensions). SQLite indexes it with an FTS5 trigram table kept by
triggers; PostgreSQL with a pg_trgm GIN index. Without them (an SQLite without FTS5, a
server refusing the extension) the same search reads every row: slower, not different.
"""

import logging
import unicodedata
import weakref

import sqlalchemy as sa

log = logging.getLogger(__name__)

# Between the name and the address: a query never holds it (names and addresses refuse
# control characters, so a query with one finds nothing), so no match spans both.
SEPARATOR = "\n"
FTS = "credentials_search"  # SQLite: the FTS5 table
TRIGRAM_INDEX = "ix_credentials_search"  # PostgreSQL: the GIN index
# A trigram index finds substrings of 3 characters or more; shorter ones are read.
INDEXED_LENGTH = 3

SQLITE_INDEX = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(search_text, content='credentials', "
    "content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_insert AFTER INSERT ON credentials BEGIN "
    f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_delete AFTER DELETE ON credentials BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_update AFTER UPDATE OF search_text ON credentials "
    f"BEGIN INSERT INTO {FTS}({FTS}, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",  # the rows already there
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {FTS}_{event}" for event in ("insert", "delete", "update")
               ] + [f"DROP TABLE IF EXISTS {FTS}"]


def include_object(_object, name, type_, _reflected, _compare_to):
    """Alembic's filter: the index lives outside the models (FTS5 tables and their shadow
    tables, a GIN index made only where pg_trgm is), so autogenerate leaves it alone."""
    return not ((type_ == "table" and name.startswith(FTS))
                or (type_ == "index" and name == TRIGRAM_INDEX))


def fold(text):
    """Text as the search compares it: case-folded, compatibility-decomposed, without its
    combining marks ("Héloïse" → "heloise", "ﬁ" → "fi")."""
    text = text or ""
    if text.isascii():  # the common case: nothing to decompose, and casefold() is lower()
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_text(name, email):
    """What a credential's search_text holds: its folded name and address."""
    return fold(name) + SEPARATOR + fold(email)


def default_search_text(context):
    """Column default: the search text of the row being inserted (ORM or Core rows)."""
    row = context.get_current_parameters()
    return search_text(row.get("recipient_name"), row.get("recipient_email"))


def create_index(connection):
    """Create the search index on the credentials table where the database can: False
    where it cannot (the search then reads every row)."""
    if connection.dialect.name == "sqlite":
        if not _sqlite_has_trigram(connection):
            return False
        for statement in SQLITE_INDEX:
            connection.exec_driver_sql(statement)
        return True
    if not _pg_trgm(connection):
        return False
    connection.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON credentials "
                               "USING gin (search_text gin_trgm_ops)")
    return True


def tidy_index(connection):
    """Fold what inserts left aside into the index proper: FTS5 merges the segments each
    insert made, PostgreSQL's GIN its pending list (read in full by every search until
    then: measured 25 ms against 3 ms at 100,000 credentials filled in bulk)."""
    if not indexed(connection):
        return
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"INSERT INTO {FTS}({FTS}) VALUES ('optimize')")
    else:
        connection.exec_driver_sql(f"SELECT gin_clean_pending_list('{TRIGRAM_INDEX}')")


def drop_index(connection):
    """Drop the search index (the extension stays: other schemas may use it)."""
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_DROP:
            connection.exec_driver_sql(statement)
    else:
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


def _sqlite_has_trigram(connection):
    """True when this SQLite has FTS5 with the trigram tokenizer (3.34 and later)."""
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE VIRTUAL TABLE temp.trigram_probe "
                                       "USING fts5(x, tokenize='trigram')")
            connection.exec_driver_sql("DROP TABLE temp.trigram_probe")
    except sa.exc.OperationalError:
        return False
    return True


def _pg_trgm(connection):
    """True when pg_trgm is installed, installing it first where the server offers it and
    lets us (CREATE EXTENSION needs a privilege: refused, the search reads every row)."""
    installed = "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"
    if connection.exec_driver_sql(installed).scalar():
        return True
    if not connection.exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").scalar():
        return False
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        return False
    return True


def indexed(connection):
    """True when the database has the search index (False also before the tables exist)."""
    if connection.dialect.name == "sqlite":
        found = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"
    else:
        found = ("SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid "
                 "WHERE relname = :name AND indisvalid")
    name = FTS if connection.dialect.name == "sqlite" else TRIGRAM_INDEX
    return bool(connection.execute(sa.text(found), {"name": name}).scalar())


_fts_found = weakref.WeakKeyDictionary()


def uses_fts(engine):
    """True for an SQLite database with the FTS5 table (looked up once per engine)."""
    if engine.dialect.name != "sqlite":
        return False
    if engine not in _fts_found:
        with engine.connect() as connection:
            _fts_found[engine] = indexed(connection)
    return _fts_found[engine]


def warn_if_unindexed(engine):
    """Log once, at start, when the credentials are there but their search index is not."""
    try:
        with engine.connect() as connection:
            if sa.inspect(connection).has_table("credentials") and not indexed(connection):
                log.warning("The search index of names and addresses is missing (%s): the "
                            "Credentials page and the API read every credential to search.",
                            "SQLite without FTS5 trigram" if engine.dialect.name == "sqlite"
                            else "PostgreSQL without the pg_trgm extension")
    except sa.exc.OperationalError:  # no database yet: the migration will say more
        pass
    engine.dispose()  # no connection kept from before a fork
