"""The mail queue against plain smtplib on one connection, three kinds of server.

Each server runs in a process of its own (bench/smtp_servers.py), and each case queues its
own published credentials, then times in the same run:
  sink (2,000 messages; the server drops what it gets):
    smtplib, composing: build each email with the standard library's email package (same
      subject, text and HTML as the queue's), send over one connection (target: the queue
      >= 0.9 of it);
    smtplib, pre-built: the same bytes built beforehand: wire speed alone, for reference;
  relay (500 messages; the server takes 20 ms a message): smtplib sending the bytes the
    queue sends, built beforehand, over one connection (target: the queue >= 4x);
  parsing (2,000 messages; the server parses each message, about 1 ms of work):
    smtplib sending the bytes the queue sends, built beforehand, over one connection
    (target: the queue >= 0.9).
Each case also prints, for the queue's group commits (mailer.commit.record_all), how many
outcomes a group carried, the statements it took (BEGIN and COMMIT included: round trips to
the database) and its time, counted with the engine's events: less noisy than the run's
time on a busy machine.
The queue runs with default settings: send_due() until nothing is due, which claims
(leased, atomic), renders, sends over SMTP_CONCURRENCY connections and commits each outcome
(status, timeline event, counts) before that connection's next message.
Run: .venv/bin/python bench/mail_queue.py [DATABASE_URL]
"""

import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from email import policy
from email.message import EmailMessage as StdMessage
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import issuing  # noqa: E402
from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import free_port, sized  # noqa: E402
from mailer import commit  # noqa: E402
from mailer.compose import compose  # noqa: E402
from mailer.queue import send_due  # noqa: E402
from models import EmailMessage, db  # noqa: E402

COUNT = sized(2000, 40)
SENDER = "credentials@bench.test"


def start_server(kind, port):
    process = subprocess.Popen([sys.executable, str(Path(__file__).parent / "smtp_servers.py"),
                                kind, str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the {kind} server did not start")


def queue_all(user, count):
    for start in range(0, count, 500):
        issuing.issue_new(db.session.connection(), user.org_id, user.id, [
            issuing.NewCredential(f"Recipient {i}", f"r{i}@example.com", "Benchmarks 101",
                                  "publish") for i in range(start, min(count, start + 500))])
        db.session.commit()


def emails():
    """(recipient, subject, text, html, Message-ID) of every queued message, as composed,
    and [(recipient, the bytes the queue sends)]."""
    result, queue_bytes = [], []
    queued = sa.select(EmailMessage).filter_by(state="queued").order_by(EmailMessage.id)
    for message in db.session.scalars(queued):
        mail = compose(message)
        result.append((message.to_address, mail.subject, mail.body, mail.html, mail.msgId))
        queue_bytes.append((message.to_address, mail.as_bytes()))
    db.session.rollback()
    return result, queue_bytes


def std_bytes(to, subject, text, html, message_id):
    message = StdMessage()
    message["From"], message["To"], message["Subject"] = SENDER, to, subject
    message["Message-ID"] = message_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message.as_bytes(policy=policy.SMTP)


def plain_smtplib(port, items, compose_each):
    start = time.perf_counter()
    connection = smtplib.SMTP("127.0.0.1", port)
    for item in items:
        data = std_bytes(*item) if compose_each else item[1]
        connection.sendmail(SENDER, [item[0]], data)
    connection.quit()
    return time.perf_counter() - start


def run_queue():
    """Seconds to send all that is queued, as the worker does."""
    start = time.perf_counter()
    sent = 0
    while True:
        counts = send_due()
        if not counts["claimed"]:
            break
        sent += counts["sent"]
    seconds = time.perf_counter() - start
    return sent, seconds


class GroupMeter:
    """Counts the queue's group commits while in use: outcomes, statements (with BEGIN,
    which psycopg sends on its own, and COMMIT) and seconds in each."""

    def __init__(self):
        self.groups = self.outcomes = self.statements = 0
        self.seconds = 0.0
        self.writing = threading.local()
        self.record_all = commit.record_all

    def measured(self, connection, outcomes, owner):
        self.writing.now = True
        start = time.perf_counter()
        try:
            return self.record_all(connection, outcomes, owner)
        finally:
            self.seconds += time.perf_counter() - start
            self.groups, self.outcomes = self.groups + 1, self.outcomes + len(outcomes)
            self.writing.now = False

    def statement(self, conn, *_):
        if getattr(self.writing, "now", False):
            self.statements += 1

    def begin(self, conn):
        if conn.dialect.name == "postgresql":  # SQLite's BEGIN is a statement of ours
            self.statement(conn)

    def __enter__(self):
        commit.record_all = self.measured
        for name, listener in self._events():
            sa.event.listen(db.engine, name, listener)
        return self

    def __exit__(self, *_):
        commit.record_all = self.record_all
        for name, listener in self._events():
            sa.event.remove(db.engine, name, listener)

    def _events(self):
        return [("before_cursor_execute", self.statement), ("begin", self.begin),
                ("commit", self.statement)]

    def __str__(self):
        n = max(self.groups, 1)
        return (f"{self.groups} groups: {self.outcomes / n:.2f} outcomes, "
                f"{self.statements / n:.2f} statements, {1000 * self.seconds / n:.2f} ms each")


def run_case(kind, count, url, folder, user_holder):
    """Queue count messages, time the baselines and the queue against a kind of server."""
    port = free_port()
    server = start_server(kind, port)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{folder}/q.db",
                          "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1",
                          "MAIL_PORT": port, "MAIL_DEFAULT_SENDER": SENDER})
        with app.app_context():
            if not user_holder:
                db.drop_all()
                db.create_all()
                user_holder.append(create_user("bench@example.com", "Bench", "bench-password"))
            user = db.session.merge(user_holder[0])
            queue_all(user, count)
            items, queue_bytes = emails()
            # The sink case shows wire speed for the standard library's bytes; the others
            # send the very bytes the queue sends, which a parsing server reads the same.
            prebuilt = ([(item[0], std_bytes(*item)) for item in items] if kind == "sink"
                        else queue_bytes)
            times = {}
            if kind == "sink":
                times["smtplib, composing"] = plain_smtplib(port, items, compose_each=True)
            times["smtplib, pre-built"] = plain_smtplib(port, prebuilt, compose_each=False)
            with GroupMeter() as meter:
                sent, times["mail queue"] = run_queue()
            assert sent == count, sent
            db.session.remove()
            db.engine.dispose()
        return times, meter
    finally:
        server.terminate()
        server.wait()


CASES = [  # kind, messages, baseline, target
    ("sink", COUNT, "smtplib, composing", 0.9),
    ("relay", sized(500, 20), "smtplib, pre-built", 4.0),
    ("parsing", COUNT, "smtplib, pre-built", 0.9),
]


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else None
    url = url and url.replace("postgresql://", "postgresql+psycopg://")
    print(f"database: {(url or 'sqlite').split(':')[0]}; default settings")
    users = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, count, baseline, target in CASES:
            times, meter = run_case(kind, count, url, folder, users)
            print(f"{kind} server, {count} messages")
            for label, seconds in times.items():
                print(f"  {label:22}{seconds:7.2f} s {count / seconds:8.0f} msg/s")
            print(f"  group commits: {meter}")
            ratio = times[baseline] / times["mail queue"]
            print(f"  queue / {baseline} = {ratio:.2f} (target >= {target})")
    if url:  # leave the shared PostgreSQL database empty
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                          "MAIL_SERVER": "127.0.0.1"})
        with app.app_context():
            db.drop_all()


if __name__ == "__main__":
    main()
