"""2,000 messages through the mail queue against plain smtplib, to the same local sink.

The sink is aiosmtpd's own Sink handler in a separate process. Baselines, in the same run:
  smtplib, composing: build each email with the standard library's email package (same
    subject, text and HTML as the queue's), send over one connection. A plain program
    must compose what it sends, so this is the comparison the target (0.9) is about.
  smtplib, pre-built: the same bytes built beforehand; wire speed alone, for reference.
The queue run: the 2,000 rows are queued first; then send_due() is called until the queue
is empty, which claims, renders, sends over one connection per batch and commits each
outcome (status, timeline event, counts) before the next message.
Run: .venv/bin/python bench/mail_queue.py [DATABASE_URL]
"""

import smtplib
import subprocess
import sys
import tempfile
import time
from email import policy
from email.message import EmailMessage as StdMessage
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import issuing  # noqa: E402
from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from mailer.compose import compose  # noqa: E402
from mailer.queue import send_due  # noqa: E402
from models import EmailMessage, db  # noqa: E402

COUNT = 2000
SENDER = "credentials@bench.test"


def start_sink(port):
    process = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l",
                                f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the sink did not start")


def queue_all(user):
    for start in range(0, COUNT, 500):
        issuing.issue_new(db.session.connection(), user.org_id, user.id, [
            issuing.NewCredential(f"Recipient {i}", f"r{i}@example.com", "Benchmarks 101",
                                  "publish") for i in range(start, min(COUNT, start + 500))])
        db.session.commit()


def emails():
    """(recipient, subject, text, html, Message-ID) of every queued message, as composed."""
    result = []
    for message in db.session.scalars(sa.select(EmailMessage).order_by(EmailMessage.id)):
        mail = compose(message)
        result.append((message.to_address, mail.subject, mail.body, mail.html, mail.msgId))
    db.session.rollback()
    return result


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


def main():
    from tests.smtp_server import free_port

    port = free_port()
    sink = start_sink(port)
    url = sys.argv[1] if len(sys.argv) > 1 else None
    url = url and url.replace("postgresql://", "postgresql+psycopg://")
    try:
        with tempfile.TemporaryDirectory() as folder:
            app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{folder}/q.db",
                              "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1",
                              "MAIL_PORT": port, "MAIL_DEFAULT_SENDER": SENDER,
                              "BATCH_SIZE": 100})
            with app.app_context():
                db.drop_all()
                db.create_all()
                queue_all(create_user("bench@example.com", "Bench", "bench-password"))
                items = emails()
                prebuilt = [(item[0], std_bytes(*item)) for item in items]
                composing = plain_smtplib(port, items, compose_each=True)
                wire = plain_smtplib(port, prebuilt, compose_each=False)
                start = time.perf_counter()
                sent = 0
                while True:
                    counts = send_due()
                    if not counts["claimed"]:
                        break
                    sent += counts["sent"]
                queued = time.perf_counter() - start
                assert sent == COUNT, sent
                if url:  # leave the shared PostgreSQL database empty
                    db.session.remove()
                    db.drop_all()
                db.engine.dispose()
    finally:
        sink.terminate()
        sink.wait()
    print(f"database: {(url or 'sqlite').split(':')[0]}; {COUNT} messages each")
    for label, seconds in [("smtplib, composing", composing), ("smtplib, pre-built", wire),
                           ("mail queue", queued)]:
        print(f"{label:22}{seconds:7.2f} s {COUNT / seconds:8.0f} msg/s")
    print(f"queue / smtplib composing = {composing / queued:.2f} (target >= 0.9)")
    print(f"queue / smtplib pre-built = {wire / queued:.2f}")


if __name__ == "__main__":
    main()
