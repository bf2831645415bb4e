"""The mail queue with DKIM signing on, against the same queue with it off, in one run.

Each round queues the same number of published credentials and sends them all with
send_due() (as the worker does) to a server in a process of its own (bench/smtp_servers.py),
once with the default sender's DKIM key set (DKIM_PRIVATE_KEY, an RSA 2048 key) and once
without; rounds alternate so that the machine's drift falls on both. Two servers: the
parsing one (reads each message as an MTA does, the realistic case) and the sink (takes the
bytes and drops them: the queue's own cost alone, where signing weighs most).
Target: signed / unsigned >= 0.8 (messages a second).
Run: .venv/bin/python bench/dkim_signing.py [DATABASE_URL]
"""

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import free_port, sized  # noqa: E402
from bench.mail_queue import SENDER, queue_all, run_queue, start_server  # noqa: E402
from mailer import signing  # noqa: E402
from models import db  # noqa: E402

COUNT = sized(1000, 20)
ROUNDS = sized(3, 1)


def send_round(url, port, key, count):
    """Messages a second of one round: count credentials queued, then sent."""
    settings = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_DEFAULT_SENDER": SENDER}
    if key:
        settings |= {"DKIM_PRIVATE_KEY": key, "DKIM_SELECTOR": "bench",
                     "DKIM_DOMAIN": "bench.test"}
    app = create_app(settings)
    assert (app.config["DKIM_DEFAULT_SIGNER"] is None) == (key is None)
    with app.app_context():
        db.drop_all()
        db.create_all()
        user = create_user("bench@example.com", "Bench", "bench-password")
        queue_all(user, count)
        sent, seconds = run_queue()
        assert sent == count, sent
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    return count / seconds


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else None
    url = url and url.replace("postgresql://", "postgresql+psycopg://")
    key = signing.new_key()
    print(f"database: {(url or 'sqlite').split(':')[0]}; {COUNT} messages a round, "
          f"{ROUNDS} rounds each way")
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("parsing", "sink"):
            port = free_port()
            server = start_server(kind, port)
            rates = {"unsigned": [], "signed": []}
            try:
                for round_ in range(ROUNDS):
                    for label in (("unsigned", "signed") if round_ % 2 == 0
                                  else ("signed", "unsigned")):
                        database = url or f"sqlite:///{folder}/{kind}-{round_}-{label}.db"
                        rates[label].append(send_round(
                            database, port, key if label == "signed" else None, COUNT))
            finally:
                server.terminate()
                server.wait()
            unsigned, signed = (statistics.median(rates[k]) for k in ("unsigned", "signed"))
            print(f"{kind} server: unsigned {unsigned:.0f} msg/s, signed {signed:.0f} msg/s "
                  f"(each round: {', '.join(f'{r:.0f}' for r in rates['signed'])})")
            print(f"  signed / unsigned = {signed / unsigned:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
