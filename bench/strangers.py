"""What a stranger's requests cost: a credential's PDF asked for again and again, and share
views of its public page while another process holds SQLite's write lock.

pdf:   COUNT requests for one credential's PDF from one client (each counted as a download
       by a person), against COUNT requests for the same credential's page (HTML) in the
       same run: the ratio is how many pages one PDF costs.
share: COUNT views of the public page /v/<id> from CLIENTS clients while another process
       holds the write lock (BEGIN IMMEDIATE) for as long as they take, against COUNT views
       with the lock free; each answer's status is counted. The lock is then let go, and
       the share views written are counted (every view answered 200 must be).
Run: .venv/bin/python bench/strangers.py   (SQLite, in a temp folder: the lock is SQLite's)
"""

import http.client
import logging
import multiprocessing
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import issuing  # noqa: E402
from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import sized  # noqa: E402
from models import Credential, EmailMessage, db  # noqa: E402
from models.types import utcnow  # noqa: E402

COUNT = sized(100, 10)
CLIENTS = 4
PERSON = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0",
          "Accept-Language": "en-GB,en;q=0.9"}


def fetch(port, paths, clients=1):
    """Request every path over that many connections; ({status: n}, seconds)."""
    chunks = [paths[i::clients] for i in range(clients)]
    statuses = Counter()

    def run(chunk):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for path in chunk:
            connection.request("GET", path, headers=PERSON)
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
        connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, chunks))
    return statuses, time.perf_counter() - start


def hold_write_lock(path, ready, release):
    """Another process: take SQLite's write lock and keep it until told."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    ready.set()
    release.wait()
    holder.execute("ROLLBACK")


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/public.db"
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench",
                          "MAIL_SERVER": "127.0.0.1", "PUBLIC_RATE_LIMIT": "100000 per minute"})
        with app.app_context():
            db.create_all()
            user = create_user("bench@example.com", "Bench", "bench-password")
            issuing.issue_new(db.session.connection(), user.org_id, user.id, [
                issuing.NewCredential("Zoë Ångström", "zoe@example.com", "Benchmarks 101",
                                      "publish")])
            db.session.commit()
            db.session.execute(sa.update(EmailMessage).values(
                state="sent", sent_at=utcnow().replace(year=2025)))
            db.session.commit()
            credential = db.session.scalar(sa.select(Credential))
            token, public_id = credential.token, credential.public_id
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_port
        fetch(port, [f"/c/{token}", f"/c/{token}.pdf", f"/v/{public_id}"])  # warm up
        page, page_seconds = fetch(port, [f"/c/{token}"] * COUNT)
        pdf, pdf_seconds = fetch(port, [f"/c/{token}.pdf"] * COUNT)
        free, free_seconds = fetch(port, [f"/v/{public_id}"] * COUNT, CLIENTS)
        ready, release = multiprocessing.Event(), multiprocessing.Event()
        holder = multiprocessing.Process(target=hold_write_lock, args=(path, ready, release))
        holder.start()
        ready.wait(10)
        locked, locked_seconds = fetch(port, [f"/v/{public_id}"] * COUNT, CLIENTS)
        release.set()
        holder.join()
        deadline = time.monotonic() + 30
        with app.app_context():
            while True:  # views noted in memory are written once the lock is free
                db.session.rollback()
                written = db.session.scalar(sa.select(Credential.share_views))
                if written >= free[200] + locked[200] + 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        server.shutdown()
    print(f"pdf: {COUNT} requests for one credential's PDF from one client")
    for label, statuses, seconds in (("credential page", page, page_seconds),
                                     ("pdf", pdf, pdf_seconds)):
        print(f"  {label:18}{seconds:7.2f} s {COUNT / seconds:8.1f} req/s {dict(statuses)}")
    print(f"  pdf / page = {pdf_seconds / page_seconds:.2f} (seconds: pages one PDF costs)")
    print(f"share: {COUNT} views of the public page over {CLIENTS} connections")
    for label, statuses, seconds in (("write lock free", free, free_seconds),
                                     ("write lock held", locked, locked_seconds)):
        print(f"  {label:18}{seconds:7.2f} s {COUNT / seconds:8.1f} views/s {dict(statuses)}")
    print(f"  held / free = {free_seconds / locked_seconds:.2f} (views/s); share views written: "
          f"{written} of {free[200] + locked[200] + 1} answered 200")


if __name__ == "__main__":
    main()
