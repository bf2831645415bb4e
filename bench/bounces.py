"""Late bounce reports: 10,000 read from a Maildir and applied, against a plain loop that
only parses them.

Both read the same Maildir. The plain loop parses each file with the standard library's
`email` parser and does nothing more. The intake (`bounces.mailbox.import_files`, what
`flask bounces import` runs) reads each report, finds what failed and why (RFC 3464, or
flufl.bounce for other formats), matches it to its message, and applies it in a
transaction of its own: the receipt that makes it apply once, the message, its timeline
event, the suppressed address, the status and the counts. Prints reports per second and
the ratio (target >= 0.5), and checks that every credential ended bounced, once.

Run: .venv/bin/python bench/bounces.py [DATABASE_URL] [--reports N]
"""

import argparse
import email
import mailbox
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import issuing  # noqa: E402
import samples  # noqa: E402
from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import sized  # noqa: E402
from bounces.mailbox import import_files, mails_in  # noqa: E402
from models import EmailEvent, EmailMessage, db  # noqa: E402
from models.types import utcnow  # noqa: E402

FORMATS = [samples.postfix, samples.gmail, samples.qmail, samples.exim, samples.microsoft365]


def setup(count):
    """count delivered credentials; their (Message-ID, address)."""
    user = create_user("bench@example.com", "Bench", "bench-password")
    for start in range(0, count, 1000):
        issuing.issue_new(db.session.connection(), user.org_id, user.id, [
            issuing.NewCredential(f"Recipient {i}", f"r{i}@example.com", "Bench", "publish")
            for i in range(start, min(count, start + 1000))])
        db.session.commit()
    db.session.execute(sa.update(EmailMessage).values(state="sent", sent_at=utcnow()))
    db.session.commit()
    return db.session.execute(sa.select(EmailMessage.message_id, EmailMessage.to_address)
                              .order_by(EmailMessage.id)).all()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?")
    parser.add_argument("--reports", type=int, default=sized(10_000, 100))
    args = parser.parse_args()
    url = args.url and args.url.replace("postgresql://", "postgresql+psycopg://")
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{folder}/b.db",
                          "SECRET_KEY": "bench", "MAIL_DEFAULT_SENDER": "credentials@bench.test",
                          "MAIL_SERVER": "127.0.0.1"})
        with app.app_context():
            db.drop_all()
            db.create_all()
            sent = setup(args.reports)
            box = mailbox.Maildir(Path(folder) / "bounces", create=True)
            for number, (message_id, address) in enumerate(sent):
                box.add(FORMATS[number % len(FORMATS)](message_id, recipient=address))
            path = Path(folder) / "bounces"

            start = time.perf_counter()
            for raw in mails_in(path):
                email.message_from_bytes(raw)
            parse_only = time.perf_counter() - start

            db.session.remove()
            start = time.perf_counter()
            outcomes = import_files([path])
            intake = time.perf_counter() - start

            bounced = db.session.scalar(sa.select(sa.func.count()).select_from(EmailEvent)
                                        .where(EmailEvent.type == "bounced"))
            assert outcomes == {"applied": args.reports}, outcomes
            assert bounced == args.reports, bounced
            db.engine.dispose()
    count = args.reports
    print(f"database: {(url or 'sqlite').split(':')[0]}; {count:,} reports "
          f"({len(FORMATS)} formats) in a Maildir")
    print(f"parse only (email parser)   {parse_only:7.2f} s {count / parse_only:9,.0f} reports/s")
    print(f"read, match and apply       {intake:7.2f} s {count / intake:9,.0f} reports/s")
    print(f"intake / parse only = {parse_only / intake:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
