"""Outbound webhook delivery against a plain sequential sender, to a receiver that takes
50 ms to answer (a receiver across the internet, or one doing work before it answers).

In the same run: the baseline signs each event with standardwebhooks and POSTs it with
http.client, one after the other; the workers' deliver_due() sends the same number of
queued events (claim, sign, POST, log each try) with default settings. Target: ≥ 4.
Then the same events again beside DEAD_COUNT events of another organization whose
receiver has stopped answering (each try waits out WEBHOOK_TIMEOUT_SECONDS): the time for
both against the time alone shows what a dead receiver costs everyone else.
Run: .venv/bin/python bench/webhooks.py [DATABASE_URL]   (default: SQLite in a temp folder)
"""

import http.client
import http.server
import json
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from standardwebhooks import Webhook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import free_port, sized  # noqa: E402
from models import WebhookAttempt, WebhookEndpoint, WebhookMessage, db  # noqa: E402
from outbound.deliver import deliver_due  # noqa: E402
from timeline.webhooks import announce_test  # noqa: E402

COUNT = sized(400, 20)
DEAD_COUNT = sized(100, 5)
ANSWER_SECONDS = 0.05
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def serve(port):
    """The receiver: reads the POST, waits ANSWER_SECONDS, answers 204; on /dead it
    waits longer than the workers do."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(6 if self.path == "/dead" else ANSWER_SECONDS)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def plain_sender(port, bodies):
    """Seconds to sign and POST every body, one after the other."""
    start = time.perf_counter()
    for n, body in enumerate(bodies):
        webhook_id, now = f"msg_{n}", datetime.now(UTC)
        headers = {"webhook-id": webhook_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(SECRET).sign(webhook_id, now, body),
                   "Content-Type": "application/json"}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("POST", "/hooks", body=body.encode(), headers=headers)
        assert connection.getresponse().status == 204
        connection.close()
    return time.perf_counter() - start


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else None
    url = url and url.replace("postgresql://", "postgresql+psycopg://")
    port = free_port()
    receiver = multiprocessing.Process(target=serve, args=(port,), daemon=True)
    receiver.start()
    time.sleep(0.5)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{folder}/w.db",
                          "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1",
                          "WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_ALLOW_PRIVATE": True})
        with app.app_context():
            db.drop_all()
            db.create_all()
            user = create_user("bench@example.com", "Bench", "bench-password")
            endpoint = WebhookEndpoint(org_id=user.org_id, events=["*"], secret=SECRET,
                                       url=f"http://127.0.0.1:{port}/hooks")
            db.session.add(endpoint)
            db.session.flush()
            body = json.dumps({"type": "test", "timestamp": datetime.now(UTC).isoformat(),
                               "data": {"detail": {"message": "x" * 60}}})
            baseline = plain_sender(port, [body] * COUNT)
            seconds = timed_delivery(endpoint)
            # Another organization's receiver is down, and a try has found it so.
            other = create_user("dead@example.org", "Elsewhere", "bench-password")
            dead = WebhookEndpoint(org_id=other.org_id, events=["*"], secret=SECRET,
                                   url=f"http://127.0.0.1:{port}/dead",
                                   failing_since=datetime.now(UTC))
            db.session.add(dead)
            db.session.flush()
            for _ in range(DEAD_COUNT):
                announce_test(db.session.connection(), dead.id)
            beside_dead = timed_delivery(endpoint)
            db.engine.dispose()
    receiver.terminate()
    print("database:", (url or "sqlite").split(":")[0])
    print(f"receiver answering in {ANSWER_SECONDS * 1000:.0f} ms, {COUNT} events")
    print(f"  plain sender, one at a time {baseline:7.2f} s {COUNT / baseline:6.0f} events/s")
    print(f"  deliver_due(), all in       {seconds:7.2f} s {COUNT / seconds:6.0f} events/s")
    print(f"  deliver_due / plain sender = {baseline / seconds:.2f} (target >= 4)")
    print(f"beside {DEAD_COUNT} events to a receiver that stopped answering")
    print(f"  deliver_due(), all {COUNT} in   {beside_dead:7.2f} s")
    print(f"  alone / beside the dead one = {seconds / beside_dead:.2f}")


def timed_delivery(endpoint):
    """Seconds until deliver_due() has delivered COUNT fresh events to the endpoint (its
    last answer logged), with whatever else waits."""
    for _ in range(COUNT):
        announce_test(db.session.connection(), endpoint.id)
    db.session.commit()
    mine = (WebhookMessage.endpoint_id == endpoint.id, WebhookMessage.state == "delivered")
    before = db.session.scalar(sa.select(sa.func.count()).where(*mine))
    start = datetime.now(UTC)
    counts = deliver_due()
    assert counts["delivered"] == COUNT, counts
    assert db.session.scalar(sa.select(sa.func.count()).where(*mine)) == before + COUNT
    last = db.session.scalar(sa.select(sa.func.max(WebhookAttempt.at))
                             .where(WebhookAttempt.endpoint_id == endpoint.id))
    return (last - start).total_seconds()


if __name__ == "__main__":
    main()
