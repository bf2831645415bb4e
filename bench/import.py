"""A 100,000-row spreadsheet import end to end, against a plain executemany of the same rows.

A CSV of ROWS rows (name,email,group: generated names, unique addresses
person<n>@example.com, four groups) is written to a temp folder, then imported as the app
does it, on a fresh schema:
  inspect: importer.files.inspect (UTF-8 check, header, row count), the mapping guess and
    the ImportJob row, committed in state "checking", as the upload and mapping views do;
  check:   importer.run.run_imports(app), the background job: it streams the file, checks
    every row, inserts import_rows 1,000 at a time (a commit each), marks duplicates in
    SQL, and leaves the import "checked";
  issue:   action "publish" with send_email, state "issuing" (as the issue view sets it),
    then run_imports(app) again: credentials, queued messages and their "queued" events by
    INSERT … SELECT in one transaction, then the issued import_rows are deleted.
Each phase's time, rows/s and its slowest SQL statement are printed. The result is checked
(ROWS credentials, ROWS queued messages and events, no import rows left): a broken import
fails the bench.

Baselines, in the same run, each on its own fresh schema of the same database:
  executemany, credentials: a plain program reads the same CSV with csv.reader into a
    list (a new token per row, no checks) and inserts the ROWS credentials, same columns,
    with one DBAPI executemany and one commit. This is the ratio the bench reports.
  executemany, all three: the same plus the queued messages and their events (explicit
    ids, one executemany per table, one commit): the rows the import leaves behind, so the
    difference to the import is the checks and the staging in import_rows.

SQLite: while the check and the issue run, a second connection in a thread tries BEGIN
IMMEDIATE every 20 ms and records how long it waited: the longest wait is how long the
import held the write lock, which every other writer (the mail queue, the web app) waits.

Peak memory: a separate, untimed run of the import and of the credentials baseline under
tracemalloc (which slows Python down), at MEMORY_SMALL rows and at ROWS rows, each on a
fresh schema; the figure is the peak of the Python heap during each phase above what was
allocated when the phase began. It counts what Python code holds (rows, batches, result
sets), not SQLite's own page cache (bounded by its cache_size) nor the PostgreSQL server.
A streaming import's peak stays about the same when the file grows 5x; the baseline's list
grows with it.

Run: .venv/bin/python bench/import.py [--database sqlite|postgres] [--rows N] [--no-memory]
  sqlite (default): files in a temp folder; postgres: TEST_DATABASE_URL, else
  postgresql://postgres@127.0.0.1:5432/test (its tables are dropped and left empty).
"""

import argparse
import csv
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from cli import create_user  # noqa: E402
from importer import files, mapping  # noqa: E402
from importer.run import run_imports  # noqa: E402
from models import (  # noqa: E402
    Credential,
    CredentialGroup,
    EmailEvent,
    EmailMessage,
    ImportJob,
    ImportRow,
    db,
)
from models.email_message import new_message_id, new_token  # noqa: E402
from models.status import email_status  # noqa: E402
from models.types import utcnow  # noqa: E402

MEMORY_SMALL = 20_000
SENDER = "credentials@bench.test"
GROUPS = ["Data Analysis 101", "Project Management Fundamentals", "Advanced Spreadsheets",
          "First Aid Certificate"]
FIRST = ["Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia",
         "James", "Isabella", "Lucas", "Charlotte", "Mateo", "Ava", "Benjamin", "Zoë", "José",
         "Aoife", "Søren", "Chloé", "Mohammed", "Priya", "Wei", "Yuki", "Fatima", "Ingrid",
         "Kwame", "Léa", "Dmitri", "Ana María", "Jean-Luc", "Siobhán", "Björn", "Nguyen"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernández", "Lopez", "Müller", "Schmidt", "Dubois", "Rossi",
        "O'Brien", "Nakamura", "Kowalski", "Van der Berg", "Andersson", "Novák", "Singh",
        "Okafor", "Papadopoulos", "Da Silva", "Kim", "Chen", "Ivanova", "MacDonald"]
# The status a published credential with a queued message has (as importer.run derives it).
SENDING = email_status(SimpleNamespace(recipient_email="a"),
                       SimpleNamespace(state="queued", opened_at=None)).value


def write_csv(path, count):
    random_ = random.Random(1)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "email", "group"])
        for i in range(count):
            writer.writerow([f"{random_.choice(FIRST)} {random_.choice(LAST)}",
                             f"person{i}@example.com", random_.choice(GROUPS)])


# Databases -------------------------------------------------------------------------------


def database_url(kind, folder, label):
    if kind == "postgres":
        url = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"sqlite:///{folder}/{label}.db"


def fresh_app(url, folder):
    """An app on an empty schema (tables dropped and created again), not in context."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "SCHEDULER_ENABLED": False, "MAIL_DEFAULT_SENDER": SENDER,
                      "IMPORT_FOLDER": str(Path(folder) / "imports")})
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


def close(app):
    """Leave a shared PostgreSQL database empty; release the connections."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.remove()
            db.drop_all()
        db.engine.dispose()


class SlowStatements:
    """The slowest SQL statements (an executemany counts as one) while active."""

    def __init__(self, engine):
        self.active, self.found = False, []
        sa.event.listen(engine, "before_cursor_execute", self.before)
        sa.event.listen(engine, "after_cursor_execute", self.after)

    def before(self, connection, cursor, statement, parameters, context, executemany):
        connection.info["bench_started"] = time.perf_counter()

    def after(self, connection, cursor, statement, parameters, context, executemany):
        if self.active:
            seconds = time.perf_counter() - connection.info.pop("bench_started")
            self.found.append((seconds, " ".join(statement.split())))

    def start(self):
        self.active, self.found = True, []

    def stop(self):
        self.active = False
        return sorted(self.found, reverse=True)[:3]


class LockProbe:
    """SQLite: another writer taking the write lock every 20 ms; its longest wait."""

    def __init__(self, path):
        self.path, self.longest, self.done = path, 0.0, threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=600)
        while not self.done.wait(0.02):
            start = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            self.longest = max(self.longest, time.perf_counter() - start)
            connection.execute("ROLLBACK")
        connection.close()

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


# The import ------------------------------------------------------------------------------


def run_import(url, folder, source, count, trace=False):
    """Inspect, check and issue the file as the app does; per phase: seconds, the longest
    write-lock wait (SQLite), the slowest statements, the Python heap peak (trace)."""
    app = fresh_app(url, folder)
    sqlite_path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else None
    with app.app_context():
        user = create_user("bench@example.com", "Bench", "bench-password")
        org_id, user_id = user.org_id, user.id
        max_rows, max_bytes = max(count, 100_000), app.config["IMPORT_MAX_BYTES"]
        app.config["IMPORT_MAX_ROWS"] = max_rows
        statements = SlowStatements(db.engine)
        stored_as = f"bench-{count}.csv"
        path = Path(app.config["IMPORT_FOLDER"])
        path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path / stored_as)  # as the upload view saved it
    result = {}

    def phase(name, work):
        probe = LockProbe(sqlite_path) if sqlite_path and not trace else None
        if trace:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
        statements.start()
        start = time.perf_counter()
        if probe:
            with probe:
                work()
        else:
            work()
        seconds = time.perf_counter() - start
        result[name] = {"seconds": seconds, "statements": statements.stop(),
                        "lock": probe.longest if probe else None}
        if trace:
            result[name]["peak"] = tracemalloc.get_traced_memory()[1] - before

    def inspect():
        with app.app_context():
            found = files.inspect(path / stored_as, "people.csv", max_rows, max_bytes)
            guessed = mapping.guess(found.columns)
            job = ImportJob(
                org_id=org_id, user_id=user_id, filename="people.csv", stored_as=stored_as,
                kind=found.kind, delimiter=found.delimiter, columns=found.columns,
                sample=found.sample, expected_rows=found.expected_rows,
                name_col=guessed["name"], email_col=guessed["email"],
                group_col=guessed["group"], state="checking")
            db.session.add(job)
            db.session.commit()
            result["import_id"] = job.id

    def to_issuing():  # as views.imports.issue does
        with app.app_context():
            job = db.session.get(ImportJob, result["import_id"])
            assert job.state == "checked", (job.state, job.error)
            assert job.good_rows == count and job.problem_rows == 0, (
                job.good_rows, job.problem_rows)
            job.action, job.send_email, job.scheduled_at = "publish", True, None
            job.state, job.error, job.processed_rows = "issuing", None, 0
            job.lease_owner = job.lease_until = None
            db.session.commit()

    if trace:
        tracemalloc.start()
    try:
        phase("inspect", inspect)
        phase("check", lambda: run_imports(app))
        to_issuing()
        phase("issue", lambda: run_imports(app))
    finally:
        if trace:
            tracemalloc.stop()
    verify(app, result["import_id"], count)
    close(app)
    return result


def verify(app, import_id, count):
    """Fail loudly unless every row became a published credential with a queued message."""
    with app.app_context():
        job = db.session.get(ImportJob, import_id)
        found = {
            "import": (job.state, job.issued, job.queued),
            "credentials": db.session.scalar(sa.select(sa.func.count()).select_from(
                Credential).where(Credential.issue_state == "published",
                                  Credential.email_status == SENDING)),
            "queued messages": db.session.scalar(sa.select(sa.func.count()).select_from(
                EmailMessage).where(EmailMessage.state == "queued")),
            "queued events": db.session.scalar(sa.select(sa.func.count()).select_from(
                EmailEvent).where(EmailEvent.type == "queued")),
            "import rows left": db.session.scalar(sa.select(sa.func.count()).select_from(
                ImportRow)),
        }
        expected = {"import": ("done", count, count), "credentials": count,
                    "queued messages": count, "queued events": count, "import rows left": 0}
        if found != expected:
            raise SystemExit(f"the import went wrong: {found} (expected {expected})")
        db.session.rollback()


# The baselines ---------------------------------------------------------------------------


def run_baseline(url, folder, source, count, all_tables=False, trace=False):
    """A plain program: csv.reader into a list, one executemany per table, one commit."""
    app = fresh_app(url, folder)
    with app.app_context():
        user = create_user("bench@example.com", "Bench", "bench-password")
        org_id, user_id = user.org_id, user.id
        for name in GROUPS:
            db.session.add(CredentialGroup(org_id=org_id, name=name))
        db.session.commit()
        groups = dict(db.session.execute(
            sa.select(CredentialGroup.name, CredentialGroup.id)).all())
        db.session.remove()
        raw = db.engine.raw_connection()
        sqlite = db.engine.dialect.name == "sqlite"

        def insert(table, columns, rows):
            marks = ", ".join(["?" if sqlite else "%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                               rows)

        if trace:
            tracemalloc.start()
        start = time.perf_counter()
        now = utcnow().replace(tzinfo=None)  # the columns store naive UTC
        with open(source, newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            next(reader)
            rows = [(i, org_id, groups[group], name, email, "published", now, True,
                     new_token(), now, SENDING)
                    for i, (name, email, group) in enumerate(reader, 1)]
        cursor = raw.cursor()
        if sqlite:
            cursor.execute("BEGIN")  # the app's SQLite connections start no transaction
        columns = ["org_id", "group_id", "recipient_name", "recipient_email", "issue_state",
                   "published_at", "send_email", "token", "created_at", "email_status"]
        if all_tables:  # explicit ids, for the messages to refer to
            insert("credentials", ["id", *columns], rows)
        else:
            insert("credentials", columns, [row[1:] for row in rows])
        if all_tables:
            insert("email_messages",
                   ["id", "org_id", "credential_id", "requested_by_id", "to_address", "state",
                    "attempts", "next_attempt_at", "message_id", "token", "created_at",
                    "open_count", "is_reminder"],
                   [(row[0], org_id, row[0], user_id, row[4], "queued", 0, now,
                     new_message_id(), new_token(), now, 0, False) for row in rows])
            insert("email_events", ["credential_id", "message_id", "user_id", "type", "at",
                                    "detail"],
                   [(row[0], row[0], user_id, "queued", now, f"to {row[4]}") for row in rows])
        raw.commit()
        seconds = time.perf_counter() - start
        peak = None
        if trace:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        cursor.close()
        raw.close()
        inserted = db.session.scalar(sa.select(sa.func.count()).select_from(Credential))
        if inserted != count:
            raise SystemExit(f"the baseline inserted {inserted} credentials, not {count}")
    close(app)
    return {"seconds": seconds, "peak": peak}


# Report ----------------------------------------------------------------------------------


def mb(size):
    return f"{size / 1e6:.1f} MB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the tracemalloc runs (20,000 and --rows rows)")
    args = parser.parse_args()
    count = args.rows
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "people.csv"
        write_csv(source, count)
        url = database_url(args.database, folder, "timing")
        timed = run_import(url, folder, source, count)
        plain = run_baseline(database_url(args.database, folder, "plain"), folder, source, count)
        three = run_baseline(database_url(args.database, folder, "three"), folder, source,
                             count, all_tables=True)
        memory = {}
        if not args.no_memory:
            small = Path(folder) / "small.csv"
            write_csv(small, MEMORY_SMALL)
            for size, csv_path in ((MEMORY_SMALL, small), (count, source)):
                memory[size] = (
                    run_import(database_url(args.database, folder, f"mem{size}"), folder,
                               csv_path, size, trace=True),
                    run_baseline(database_url(args.database, folder, f"memb{size}"), folder,
                                 csv_path, size, trace=True))
        size = source.stat().st_size

    print(f"database: {args.database}; {count:,} rows ({size / 1e6:.1f} MB CSV), "
          f"{len(GROUPS)} groups, published with email")
    lock = args.database == "sqlite"
    print(f"{'':34}{'seconds':>9}{'rows/s':>10}" + (f"{'write lock':>12}" if lock else ""))
    total = sum(timed[name]["seconds"] for name in ("inspect", "check", "issue"))
    for name, label in (("inspect", "import: inspect"), ("check", "import: check"),
                        ("issue", "import: issue (one transaction)")):
        seconds = timed[name]["seconds"]
        held = timed[name]["lock"]
        print(f"{label:34}{seconds:9.2f}{count / seconds:10,.0f}"
              + (f"{held:11.2f}s" if lock and held is not None else ""))
    print(f"{'import: whole':34}{total:9.2f}{count / total:10,.0f}")
    for label, figures in (("executemany, credentials", plain),
                           ("executemany, all three tables", three)):
        print(f"{label:34}{figures['seconds']:9.2f}{count / figures['seconds']:10,.0f}")
    print(f"import / executemany credentials = {total / plain['seconds']:.1f} times slower")
    print(f"import / executemany all three   = {total / three['seconds']:.1f} times slower")
    if lock:
        print("write lock: the longest another writer waited for BEGIN IMMEDIATE during the "
              "phase")
    for name in ("check", "issue"):
        print(f"slowest statements, {name}:")
        for seconds, statement in timed[name]["statements"]:
            print(f"  {seconds:7.3f} s  {statement[:110]}")
    if memory:
        small, large = memory[MEMORY_SMALL], memory[count]
        print(f"peak Python heap (tracemalloc, separate run){'':4}{MEMORY_SMALL:>10,}"
              f"{count:>12,}{'ratio':>8}")
        for label, pick in (("import: inspect", lambda m: m[0]["inspect"]["peak"]),
                            ("import: check", lambda m: m[0]["check"]["peak"]),
                            ("import: issue", lambda m: m[0]["issue"]["peak"]),
                            ("executemany, credentials", lambda m: m[1]["peak"])):
            print(f"{label:48}{mb(pick(small)):>10}{mb(pick(large)):>12}"
                  f"{pick(large) / pick(small):8.2f}")
        print(f"rows ratio: {count / MEMORY_SMALL:.1f}")
    print(f"verified: {count:,} published credentials, {count:,} queued messages and events")


if __name__ == "__main__":
    main()
