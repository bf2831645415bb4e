"""A bench issuer with any number of credentials in every status, filled set-based (one
INSERT … SELECT per table from a numbers CTE), and kept between runs from a million up.

A kept fill is a SQLite file under $BENCH_CACHE (default ~/.cache/credential-bench/) or
the schema kept_<count> of the PostgreSQL database bench_million (on the server a URL
names), keyed on the schema (the migrations' heads and the models' DDL) and on this
fill's code and size: a schema change rebuilds it. Smaller fills, and every fill at
BENCH_SMALL=1, are made fresh: in a SQLite file of the run's folder, or the schema
bench_<count> of bench_million.
"""

import hashlib
import inspect
import os
import sqlite3
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.schema import CreateIndex, CreateTable

from accounts import create_user
from app import create_app
from bench.common import SMALL, alternating_medians
from models import (
    ApiKey,
    Credential,
    CredentialGroup,
    DailyCount,
    EmailEvent,
    EmailMessage,
    StatusCount,
    User,
    db,
    refresh_statistics,
)
from models.search import SEPARATOR
from models.types import UTCDateTime, utcnow
from timeline.recount import recount_funnel

ROOT = Path(__file__).resolve().parent.parent
EMAIL, PASSWORD = "bench@example.com", "bench-password"
KEPT = 1_000_000  # fills of this size and up are kept
PG_DATABASE = "bench_million"  # every PostgreSQL fill, a schema each
CACHE = Path(os.environ.get("BENCH_CACHE") or Path.home() / ".cache" / "credential-bench")
CREDENTIALS, MESSAGES, EVENTS = Credential.__table__, EmailMessage.__table__, EmailEvent.__table__
DAYS = 40  # the day chart's events spread over this many days


def numbers(count):
    """A CTE of the whole numbers 0 … count - 1, column i."""
    n = sa.select(sa.literal_column("0").label("i")).cte("n", recursive=True)
    return n.union_all(sa.select(n.c.i + 1).where(n.c.i < count - 1))


def fill(count):
    """An issuer with count credentials of one group, in the proportions a busy issuer
    might see (of each ten: two drafts, one without an address, one sending, two sent and
    not opened, one bounced, three opened), their emails and open and view events."""
    user = create_user(EMAIL, "Bench", PASSWORD)
    group = CredentialGroup(org_id=user.org_id, name="Bench group")
    db.session.add(group)
    db.session.commit()
    now = sa.bindparam("now", utcnow(), type_=UTCDateTime())
    n = numbers(count)
    i, k = n.c.i, n.c.i % 10
    opened = k >= 7
    # 60 of a kind whatever the count: a rare filter's page has as many rows at a million.
    rare = sa.literal(max(count // 60, 10))

    def text(prefix, suffix=""):
        return sa.literal(prefix) + sa.cast(i, sa.String) + sa.literal(suffix)

    def when(condition, value):
        return sa.case((condition, value), else_=sa.null())

    statuses = sa.case((k < 2, "not_sent"), (k == 2, "not_provided"), (k == 3, "sending"),
                       (k < 6, "not_opened"), (k == 6, "bounced"), else_="opened")
    name = text("Recipient ")
    email = when(k != 2, text("r", "@") + sa.cast(i % 50, sa.String) + ".example.com")
    columns = {
        "id": i + 1, "org_id": sa.literal(user.org_id), "group_id": sa.literal(group.id),
        "recipient_name": name, "recipient_email": email,
        # models.search.search_text, for ASCII: folded is lowered.
        "search_text": sa.func.lower(name) + sa.literal(SEPARATOR)
        + sa.func.coalesce(email, sa.literal("")),
        "issue_state": sa.case((k < 2, "draft"), else_="published"),
        "published_at": when(k >= 2, now), "send_email": sa.true(),
        "token": text("t"), "public_id": text("p"), "created_at": now,
        "email_status": statuses,
        # Of the opened, a third viewed and a ninth downloaded (Analytics).
        "viewed_at": when(sa.and_(opened, i % 3 == 0), now),
        "downloaded_at": when(sa.and_(opened, i % 9 == 0), now),
        "linkedin_clicked_at": when(i % rare == 7, now),
        "share_views": sa.case((i % 50 == 11, i % 3 + 1), else_=0),
        "revoked_at": when(sa.and_(k >= 2, i % rare == 5), now),
    }
    db.session.execute(sa.insert(CREDENTIALS).from_select(
        list(columns), sa.select(*columns.values()).select_from(n)))
    c = CREDENTIALS.c
    state = sa.case((c.email_status == "sending", "queued"),
                    (c.email_status == "bounced", "bounced"), else_="sent")
    bounced = c.email_status == "bounced"
    messages = {
        "org_id": c.org_id, "credential_id": c.id, "to_address": c.recipient_email,
        "state": state, "attempts": sa.literal(1), "next_attempt_at": now,
        "token": sa.literal("m") + sa.cast(c.id, sa.String),
        "message_id": sa.literal("<") + sa.cast(c.id, sa.String) + sa.literal("@bench.test>"),
        "created_at": now, "sent_at": when(c.email_status.in_(("not_opened", "opened")), now),
        "opened_at": when(c.email_status == "opened", now),
        "open_count": sa.case((c.email_status == "opened", 1), else_=0),
        # A fifth of the bounces blocked as spam, all by one of the 50 domains (the
        # page's banner of blocking domains).
        "bounce_kind": when(bounced, "hard"),
        "bounce_code": when(bounced, sa.case((c.id % 50 == 7, "blocked"),
                                             else_="mailbox_unknown")),
    }
    db.session.execute(sa.insert(MESSAGES).from_select(
        list(messages), sa.select(*messages.values()).where(
            c.org_id == user.org_id,
            c.email_status.in_(("sending", "not_opened", "bounced", "opened")))))
    # Each opened credential's open, and view, on one of the last DAYS days.
    days = sa.union_all(*(sa.select(sa.literal(d).label("d"), sa.bindparam(
        f"day{d}", utcnow() - timedelta(days=d), type_=UTCDateTime()).label("at"))
        for d in range(DAYS))).cte("days")
    for kind, reached in (("opened", c.email_status == "opened"),
                          ("viewed", c.viewed_at.is_not(None))):
        db.session.execute(sa.insert(EVENTS).from_select(
            ["credential_id", "type", "at"],
            sa.select(c.id, sa.literal(kind), days.c.at)
            .join(days, days.c.d == (c.id // 10) % DAYS)
            .where(c.org_id == user.org_id, reached)))
    if db.engine.dialect.name == "postgresql":  # the recount's plans need the row counts
        db.session.execute(sa.text("ANALYZE credentials, email_messages, email_events"))
    # The bulk insert wrote no counts.
    db.session.execute(sa.insert(StatusCount).from_select(
        ["org_id", "status", "n"],
        sa.select(c.org_id, c.email_status, sa.func.count())
        .where(c.org_id == user.org_id).group_by(c.org_id, c.email_status)))
    recount_funnel(db.session.connection(), user.org_id)
    db.session.commit()
    # Fresh statistics, as a running database has: the workers' hourly job on SQLite;
    # autovacuum on PostgreSQL (VACUUM also fills the visibility map that index-only
    # scans need).
    if db.engine.dialect.name == "sqlite":
        refresh_statistics()
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in db.metadata.sorted_tables:
            connection.exec_driver_sql(f"VACUUM ANALYZE {table.name}")


def fill_key(count, dialect):
    """What a kept fill depends on: the schema, the fill's code and its size."""
    heads = ScriptDirectory(str(ROOT / "migrations")).get_heads()
    ddl = [str(CreateTable(table).compile(dialect=dialect)) for table in
           db.metadata.sorted_tables]
    ddl += sorted(str(CreateIndex(index).compile(dialect=dialect))
                  for table in db.metadata.sorted_tables for index in table.indexes)
    code = [inspect.getsource(function) for function in (numbers, fill, recount_funnel)]
    text = "\n".join([str(count), str(DAYS), *sorted(heads), *ddl, *code])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Site:
    """One filled database of one size: its app, a client and an API key for it."""

    def __init__(self, count, url, setup):
        self.count = count
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                               "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1",
                               "RATELIMIT_ENABLED": False})
        with self.app.app_context():
            setup()
            self.org_id = db.session.scalar(sa.select(CredentialGroup.org_id))
            user = db.session.scalar(sa.select(User).filter_by(email=EMAIL))
            _, key = ApiKey.issue(user)
            _as_of_now(self.org_id)
            db.session.commit()
        self.api_headers = {"Authorization": f"Bearer {key}"}
        self.client = self.app.test_client()

    def close(self):
        with self.app.app_context():
            db.engine.dispose()


def _as_of_now(org_id):
    """A kept fill is as of its day: mail went out a moment ago (so the page sees no
    stalled queue) and the day chart ends today."""
    sent = sa.select(sa.func.max(EmailMessage.id)).where(EmailMessage.state == "sent")
    db.session.execute(sa.update(EmailMessage).where(EmailMessage.id == sent.scalar_subquery())
                       .values(sent_at=utcnow()))
    table = DailyCount.__table__
    rows = [dict(row._mapping) for row in db.session.execute(
        table.select().where(table.c.org_id == org_id))]
    shift = utcnow().date() - max((row["day"] for row in rows), default=utcnow().date())
    if shift:
        db.session.execute(table.delete().where(table.c.org_id == org_id))
        db.session.execute(table.insert(), [{**row, "day": row["day"] + shift}
                                            for row in rows])


def fresh(count):
    """The setup of a new, empty database (or schema): every table made here, none
    looked for first (another schema's, on the search path, must not count)."""
    def setup():
        db.metadata.create_all(db.engine, checkfirst=False)
        fill(count)
    return setup


def measured(calls, sizes, rounds, prepare=None):
    """(the database's name, {key: [median ms per size]}) of calls {key: call(site)} on a
    logged-in site of each size, in the database the command line names (SQLite without
    one), the sites alternating (bench.common.alternating_medians); prepare(site) first."""
    url = sys.argv[1] if len(sys.argv) > 1 else None
    url = url and url.replace("postgresql://", "postgresql+psycopg://")
    with tempfile.TemporaryDirectory() as folder:
        sites = [open_site(count, url, folder) for count in sizes]
        for site in sites:
            if prepare:
                prepare(site)
            site.client.post("/login", data={"email": EMAIL, "password": PASSWORD})
        found = alternating_medians(calls, sites, rounds)
        for site in sites:
            site.close()
    return (url or "sqlite").split(":")[0].split("+")[0], found


def open_site(count, url, folder, made=False):
    """A Site of count credentials: kept (and made if missing or stale) from KEPT up unless
    BENCH_SMALL, else filled fresh; made: open the one a previous open_site made.
    url: a PostgreSQL server's (the fills go to its database bench_million), or None for
    SQLite."""
    kept = count >= KEPT and not SMALL
    if url is None and not kept:
        path = f"sqlite:///{folder}/page-{count}.db"
        return Site(count, path, _nothing if made else fresh(count))
    if url is None:
        return _kept_sqlite(count)
    url = sa.make_url(url).set(database=PG_DATABASE)
    if kept:
        return _kept_postgresql(count, url)
    schema = f"bench_{count}"  # a schema of its own, made again on each run
    if not made:
        _new_schema(url, schema)
    return Site(count, _in_schema(url, schema), _nothing if made else fresh(count))


def _nothing():
    """The setup of a database filled already."""


def _database(url):
    """The URL's database, made if missing (a new machine)."""
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": url.database}):
            connection.exec_driver_sql(f"CREATE DATABASE {url.database}")
    server.dispose()


def _new_schema(url, schema):
    """An empty schema in the database (made first if missing)."""
    _database(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        # The search's pg_trgm in public, which every schema's path ends with (and which
        # holds no tables): models.search would install it in the first schema needing it.
        if connection.exec_driver_sql("SELECT 1 FROM pg_available_extensions "
                                      "WHERE name = 'pg_trgm'").scalar():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    engine.dispose()


def _in_schema(url, schema):
    return (url.update_query_dict({"options": f"-csearch_path={schema},public"})
            .render_as_string(hide_password=False))


def _kept_sqlite(count):
    key = fill_key(count, sa.create_engine("sqlite://").dialect)
    path = CACHE / f"page-{count}-{key}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        for stale in CACHE.glob(f"page-{count}-*"):  # an older schema's
            stale.unlink()
        building = path.with_suffix(".building")
        print(f"filling {count:,} credentials into {path} (once)", file=sys.stderr)
        Site(count, f"sqlite:///{building}", fresh(count)).close()
        connection = sqlite3.connect(building)  # the log into the file: it moves alone
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.close()
        building.rename(path)
    return Site(count, f"sqlite:///{path}", _nothing)


def _kept_postgresql(count, url):
    """The kept fill in the schema kept_<count>, its key in its table bench_fill."""
    key, schema = fill_key(count, sa.create_engine(url).dialect), f"kept_{count}"
    _database(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        made = connection.scalar(sa.text(
            "SELECT to_regclass(:table) IS NOT NULL"), {"table": f"{schema}.bench_fill"}
        ) and connection.scalar(sa.text(f"SELECT key FROM {schema}.bench_fill")) == key
    engine.dispose()
    if not made:
        print(f"filling {count:,} credentials into {url.database} (once)", file=sys.stderr)
        _new_schema(url, schema)

    def rebuild():
        fresh(count)()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE bench_fill (key text)")
            connection.execute(sa.text("INSERT INTO bench_fill VALUES (:key)"), {"key": key})

    return Site(count, _in_schema(url, schema), _nothing if made else rebuild)
