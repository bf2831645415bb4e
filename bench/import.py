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
    INSERT … SELECT, a chunk of rows per transaction (hidden until a last short one shows
    them all), then the emails released and the issued import_rows deleted, by chunks too;
  same file again: the same file uploaded once more and checked (not part of the import's
    figures): every row is then "existing", so this times the look-up of addresses already
    in the groups, ROWS rows against ROWS credentials.
Each phase's time, rows/s, longest transaction and slowest SQL statements are printed.
The result is checked (ROWS published credentials, ROWS queued messages and events, no
import rows left; then every row of the second check "existing"): a broken import fails
the bench.

Baselines, in the same run, each on its own fresh schema of the same database:
  executemany, credentials: a plain program reads the same CSV with csv.reader into a
    list (a new token, public id and folded search text per row, no checks) and inserts
    the ROWS credentials, same columns, with one DBAPI executemany and one commit. This is
    the ratio the bench reports.
  executemany, all three: the same plus the queued messages and their events (explicit
    ids, one executemany per table, one commit): the rows the import leaves behind, so the
    difference to the import is the checks and the staging in import_rows.

Longest transaction: from BEGIN to the end of its COMMIT, through the engine's events and
the dialect's commit. Longest write lock: from BEGIN IMMEDIATE (models.write_lock) or the
first write statement to the end of the COMMIT, which writes the pages (and FTS5 its
pending index data) under the lock: on SQLite every other writer (the mail queue, the web
app) waits that long, and fails after busy_timeout (10 s). A WAL checkpoint that a COMMIT
runs once it has let the lock go is counted too, so the figure errs long. The import's is
printed on its own line; each phase's five longest holds, with the statements of the
longest, at the end.

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
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import sized  # noqa: E402
from importer import files, mapping  # noqa: E402
from jobs import run_import_job  # noqa: E402
from models import (  # noqa: E402
    Credential,
    CredentialGroup,
    EmailEvent,
    EmailMessage,
    ImportJob,
    ImportRow,
    db,
)
from models.credential import new_public_id  # noqa: E402
from models.email_message import new_message_id, new_token  # noqa: E402
from models.search import search_text  # noqa: E402
from models.states import MessageState  # noqa: E402
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
# The status a published credential with a queued message has (the one rule).
SENDING = email_status(True, MessageState.QUEUED, False)


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
                      "IMPORT_FOLDER": str(Path(folder) / "imports"), "MAIL_SERVER": "127.0.0.1"})
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


WRITES = ("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE", "ANALYZE")


class Watch:
    """While active: the longest transaction (BEGIN to COMMIT's end), the write locks held
    (from BEGIN IMMEDIATE or the first write to COMMIT's end: on SQLite every other writer
    waits that long) and the slowest statements (an executemany counts as one)."""

    def __init__(self, engine):
        self.active = False
        for name, handler in (("begin", self.begin),
                              ("before_cursor_execute", self.before),
                              ("after_cursor_execute", self.after)):
            sa.event.listen(engine, name, handler)
        # The commit event comes before the COMMIT, which still holds the lock while it
        # writes the pages (and FTS5 its pending index data): the end is after it.
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback"):
            setattr(dialect, name, self.ending(getattr(dialect, name)))

    def ending(self, finish):
        """The dialect's commit or rollback, then the end of the transaction noted."""
        def finished(connection):  # the pool's connection, which holds the same info
            try:
                finish(connection)
            finally:
                if hasattr(connection, "info"):
                    self.end(connection)
        return finished

    def begin(self, connection):
        connection.info["bench_begun"] = time.perf_counter()

    def end(self, connection):
        begun = connection.info.pop("bench_begun", None)
        locked = connection.info.pop("bench_locked", None)
        statements = connection.info.pop("bench_statements", [])
        if self.active and begun is not None:
            self.longest = max(self.longest, time.perf_counter() - begun)
        if self.active and locked is not None:
            held = time.perf_counter() - locked
            self.holds.append(held)
            if held > self.locked:
                self.locked, self.locked_in = held, (len(statements), max(statements, default=None))

    def before(self, connection, cursor, statement, parameters, context, executemany):
        connection.info["bench_started"] = time.perf_counter()
        if statement.lstrip().upper().startswith(WRITES):
            connection.info.setdefault("bench_locked", connection.info["bench_started"])

    def after(self, connection, cursor, statement, parameters, context, executemany):
        if self.active:
            seconds = time.perf_counter() - connection.info.pop("bench_started")
            self.statements.append((seconds, " ".join(statement.split())))
            connection.info.setdefault("bench_statements", []).append(self.statements[-1])

    def start(self):
        self.active, self.longest, self.locked, self.statements = True, 0.0, 0.0, []
        self.holds, self.locked_in = [], (0, None)

    def stop(self):
        self.active = False
        return {"longest": self.longest, "locked": self.locked, "locked_in": self.locked_in,
                "holds": self.holds, "statements": sorted(self.statements, reverse=True)[:3]}


# The import ------------------------------------------------------------------------------


def run_import(url, folder, source, count, trace=False):
    """Inspect, check and issue the file as the app does; per phase: seconds, the longest
    transaction, the slowest statements, the Python heap peak (trace)."""
    app = fresh_app(url, folder)
    with app.app_context():
        user = create_user("bench@example.com", "Bench", "bench-password")
        org_id, user_id = user.org_id, user.id
        max_rows = max(count, 100_000)
        app.config["IMPORT_MAX_ROWS"] = max_rows
        watch = Watch(db.engine)
        folder_path = Path(app.config["IMPORT_FOLDER"])
        folder_path.mkdir(parents=True, exist_ok=True)
    result = {}

    def phase(name, work):
        if trace:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
        watch.start()
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start
        result[name] = {"seconds": seconds, **watch.stop()}
        if trace:
            result[name]["peak"] = tracemalloc.get_traced_memory()[1] - before

    def upload(key):
        """The file as the upload view keeps it, inspected; the import waits for its check."""
        stored_as = f"{key}-{count}.csv"
        shutil.copyfile(source, folder_path / stored_as)
        with app.app_context():
            found = files.inspect(folder_path / stored_as, "csv", max_rows)
            job = ImportJob(
                org_id=org_id, user_id=user_id, filename="people.csv", stored_as=stored_as,
                **mapping.proposal(found), state="checking")
            db.session.add(job)
            db.session.commit()
            result[f"{key}_id"] = job.id

    def to_issuing():  # as views.imports.issue does
        with app.app_context():
            job = db.session.get(ImportJob, result["first_id"])
            if (job.state, job.good_rows, job.problem_rows) != ("checked", count, 0):
                raise SystemExit(f"the check went wrong: {job.state} {job.error}, "
                                 f"{job.good_rows} good rows, {job.problem_rows} problems")
            job.start_issuing("publish", None, True)
            db.session.commit()

    if trace:
        tracemalloc.start()
    try:
        phase("inspect", lambda: upload("first"))
        phase("check", lambda: run_import_job(app))
        to_issuing()
        phase("issue", lambda: run_import_job(app))
        verify(app, result["first_id"], count)
        upload("again")  # the same file once more: every row is in its group already
        phase("again", lambda: run_import_job(app))
    finally:
        if trace:
            tracemalloc.stop()
    verify_again(app, result["again_id"], count)
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


def verify_again(app, import_id, count):
    """The second check must find every row issued already."""
    with app.app_context():
        job = db.session.get(ImportJob, import_id)
        existing = db.session.scalar(sa.select(sa.func.count()).select_from(ImportRow).where(
            ImportRow.import_id == import_id, ImportRow.problem_kind == "existing"))
        found = (job.state, job.good_rows, job.problem_rows, existing)
        if found != ("checked", 0, count, count):
            raise SystemExit(f"the second check went wrong: {found}")
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
                     new_token(), now, SENDING, new_public_id(), search_text(name, email))
                    for i, (name, email, group) in enumerate(reader, 1)]
        cursor = raw.cursor()
        if sqlite:
            cursor.execute("BEGIN")  # the app's SQLite connections start no transaction
        columns = ["org_id", "group_id", "recipient_name", "recipient_email", "issue_state",
                   "published_at", "send_email", "token", "created_at", "email_status",
                   "public_id", "search_text"]
        if all_tables:  # explicit ids, for the messages to refer to
            insert("credentials", ["id", *columns], rows)
        else:
            insert("credentials", columns, [row[1:] for row in rows])
        if all_tables:
            insert("email_messages",
                   ["id", "org_id", "credential_id", "requested_by_id", "to_address", "state",
                    "attempts", "next_attempt_at", "message_id", "token", "created_at",
                    "open_count", "purpose"],
                   [(row[0], org_id, row[0], user_id, row[4], "queued", 0, now,
                     new_message_id(), new_token(), now, 0, "delivery") for row in rows])
            insert("email_events", ["credential_id", "email_message_id", "user_id", "type", "at"],
                   [(row[0], row[0], user_id, "queued", now) for row in rows])
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
    parser.add_argument("--rows", type=int, default=sized(100_000, 500))
    parser.add_argument("--no-memory", action="store_true",
                        help=f"skip the tracemalloc runs ({MEMORY_SMALL:,} and --rows rows)")
    args = parser.parse_args()
    count, kind = args.rows, args.database
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "people.csv"
        write_csv(source, count)
        timed = run_import(database_url(kind, folder, "import"), folder, source, count)
        plain = run_baseline(database_url(kind, folder, "plain"), folder, source, count)
        three = run_baseline(database_url(kind, folder, "three"), folder, source, count,
                             all_tables=True)
        report_times(kind, count, source.stat().st_size, timed, plain, three)
        if args.no_memory:
            return
        small = Path(folder) / "small.csv"
        write_csv(small, MEMORY_SMALL)
        memory = {size: (run_import(database_url(kind, folder, f"mem{size}"), folder, path,
                                    size, trace=True),
                         run_baseline(database_url(kind, folder, f"memb{size}"), folder,
                                      path, size, trace=True))
                  for size, path in ((MEMORY_SMALL, small), (count, source))}
    report_memory(memory, count)


def report_times(kind, count, size, timed, plain, three):
    print(f"database: {kind}; {count:,} rows ({size / 1e6:.1f} MB CSV), {len(GROUPS)} groups, "
          "published with email")
    print(f"{'':34}{'seconds':>9}{'rows/s':>10}{'longest transaction':>21}"
          f"{'longest write lock':>20}")
    total = sum(timed[name]["seconds"] for name in ("inspect", "check", "issue"))
    for name, label in (("inspect", "import: inspect"), ("check", "import: check"),
                        ("issue", "import: issue"), (None, "import: whole"),
                        ("again", "same file again: check")):
        figures = timed[name] if name else {"seconds": total, "longest": None}
        print(f"{label:34}{figures['seconds']:9.2f}{count / figures['seconds']:10,.0f}"
              + (f"{figures['longest']:19.3f} s{figures['locked']:18.3f} s" if name else ""))
    for label, figures in (("executemany, credentials", plain),
                           ("executemany, all three tables", three)):
        print(f"{label:34}{figures['seconds']:9.2f}{count / figures['seconds']:10,.0f}")
    print(f"import / executemany credentials = {total / plain['seconds']:.2f} (times slower; "
          f"ratio {plain['seconds'] / total:.2f})")
    print("longest write lock of the import = "
          f"{max(timed[name]['locked'] for name in ('inspect', 'check', 'issue')) * 1000:.0f} ms")
    print(f"import / executemany all three   = {total / three['seconds']:.1f}")
    if kind == "sqlite":
        print("(on SQLite a transaction holds the write lock from BEGIN IMMEDIATE or its first "
              "write to COMMIT's end:\n other writers wait the longest write lock, and fail after "
              "busy_timeout, 10 s)")
    for name in ("check", "issue", "again"):
        print(f"slowest statements, {name}:")
        for seconds, statement in timed[name]["statements"]:
            print(f"  {seconds:8.3f} s  {statement[:100]}")
    for name in ("check", "issue", "again"):
        holds = sorted(timed[name]["holds"], reverse=True)
        size, slowest = timed[name]["locked_in"]
        print(f"write locks, {name}: {len(holds)} held, the longest "
              + ", ".join(f"{hold * 1000:.0f}" for hold in holds[:5])
              + f" ms; the longest had {size} statements"
              + (f", the slowest {slowest[0]:.3f} s  {slowest[1][:60]}" if slowest else ""))
    print(f"verified: {count:,} published credentials, {count:,} queued messages and events",
          flush=True)


def report_memory(memory, count):
    small, large = memory[MEMORY_SMALL], memory[count]
    print(f"peak Python heap (tracemalloc, separate run){MEMORY_SMALL:>12,}{count:>12,}"
          f"{'ratio':>8}")
    for label, pick in (("import: inspect", lambda m: m[0]["inspect"]["peak"]),
                        ("import: check", lambda m: m[0]["check"]["peak"]),
                        ("import: issue", lambda m: m[0]["issue"]["peak"]),
                        ("same file again: check", lambda m: m[0]["again"]["peak"]),
                        ("executemany, credentials", lambda m: m[1]["peak"])):
        print(f"{label:44}{mb(pick(small)):>12}{mb(pick(large)):>12}"
              f"{pick(large) / pick(small):8.2f}")
    print(f"(rows ratio {count / MEMORY_SMALL:.1f})")


if __name__ == "__main__":
    main()
