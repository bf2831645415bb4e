"""Tracking-image requests per second against a bare Flask route returning the same bytes.

Both routes live in the same app, served by the same threaded WSGI server on loopback, in
the same run; a separate client process requests each image COUNT times over CLIENTS
keep-alive connections. Every pixel request carries a different valid token, so each is a first open
(the costliest case: the message, its timeline and the status counts are written);
then every token is requested once more (a repeat open: count and timeline only).
Target: the pixel at 0.8 or more of the bare route.
With --gunicorn, the app runs as in production: gunicorn, 4 sync workers (DESIGN.md's
command), each recording opens in its own process; gunicorn is stopped before the opens
are counted, so each worker writes what it noted on its way out.
Besides requests a second it prints the server's CPU time per request of each side (all its
threads or workers, the open recorder's writes included), steadier than the rates on a
busy machine.
Run: .venv/bin/python bench/pixel.py [--gunicorn] [DATABASE_URL]
"""

import http.client
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import issuing  # noqa: E402
from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import free_port, sized  # noqa: E402
from models import EmailMessage, db  # noqa: E402
from models.types import utcnow  # noqa: E402
from team import roles  # noqa: E402
from tracking import opens  # noqa: E402
from views.tracking import PIXEL  # noqa: E402

# All requests come from one address: a limit this high is checked on each, never reached.
BENCH_LIMIT = "1000000 per minute"
COUNT = sized(3000, 100)
CLIENTS = 4


def fetch_all(port, paths, server_cpu):
    """In a client process, request every path over CLIENTS connections; return the seconds
    it took and the server's CPU seconds meanwhile (server_cpu() tells them)."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        cpu = server_cpu()
        seconds = pool.apply(_fetch_all, (port, paths))
        return seconds, server_cpu() - cpu


def _fetch_all(port, paths):
    chunks = [paths[i::CLIENTS] for i in range(CLIENTS)]

    def run(chunk):
        connection = http.client.HTTPConnection("127.0.0.1", port)
        for path in chunk:
            # A person's browser: it says which languages it reads (tracking.engagement).
            connection.request("GET", path, headers={"User-Agent": "Mozilla/5.0 Chrome/130",
                                                     "Accept-Language": "en"})
            response = connection.getresponse()
            assert response.status == 200 and response.read() == PIXEL
        connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(run, chunks))
    return time.perf_counter() - start


def setup(app):
    """COUNT sent messages, each with its own token."""
    user = create_user("bench@example.com", "Bench", "bench-password")
    issuing.issue_new(db.session.connection(), user.org_id, user.id, [
        issuing.NewCredential(f"Recipient {i}", f"r{i}@example.com", "Benchmarks 101", "publish")
        for i in range(COUNT)])
    db.session.commit()
    db.session.execute(sa.update(EmailMessage).values(state="sent", sent_at=utcnow()))
    db.session.commit()
    return db.session.scalars(sa.select(EmailMessage.token)).all()


def bench_app(test_config=None):
    """The app with a bare route that returns the tracking image's bytes and headers."""
    app = create_app(test_config)
    app.add_url_rule("/bare.gif", "bare", lambda: (PIXEL, 200, {
        "Content-Type": "image/gif", "Cache-Control": "no-store, max-age=0"}))
    roles.RULES["bare"] = roles.PUBLIC  # anyone's, as the tracking image is
    return app


def workers_cpu(master):
    """CPU seconds used so far by the worker processes of a gunicorn master (Linux /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == master:  # ppid; then utime and stime are fields 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def serve_with_gunicorn(url):
    """Start gunicorn with 4 workers on a free port; return (process, port)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "SCHEDULER_ENABLED": "0",
           "PUBLIC_RATE_LIMIT": BENCH_LIMIT, "MAIL_SERVER": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "bench.pixel:bench_app()"],
        cwd=Path(__file__).resolve().parent.parent, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/bare.gif")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def main():
    args = sys.argv[1:]
    under_gunicorn = "--gunicorn" in args
    args = [arg for arg in args if arg != "--gunicorn"]
    url = args[0] if args else None
    url = url and url.replace("postgresql://", "postgresql+psycopg://")
    with tempfile.TemporaryDirectory() as folder:
        url = url or f"sqlite:///{folder}/p.db"
        app = bench_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                         "PUBLIC_RATE_LIMIT": BENCH_LIMIT, "MAIL_SERVER": "127.0.0.1"})
        with app.app_context():
            db.drop_all()
            db.create_all()
            tokens = setup(app)
            opened_before = db.session.scalar(sa.select(sa.func.sum(EmailMessage.open_count)))
        if under_gunicorn:
            process, port = serve_with_gunicorn(url)
            server_cpu = lambda: workers_cpu(process.pid)  # noqa: E731
        else:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            port = server.server_port
            server_cpu = time.process_time  # the client runs in a process of its own
        fetch_all(port, ["/bare.gif"] * sized(200, 10), server_cpu)  # warm up
        (bare, bare_cpu), (pixel, pixel_cpu), (again, again_cpu) = (
            fetch_all(port, paths, server_cpu) for paths in (
                ["/bare.gif"] * COUNT, [f"/t/{token}.gif" for token in tokens],
                [f"/t/{token}.gif" for token in tokens]))
        if under_gunicorn:
            process.send_signal(signal.SIGTERM)  # its workers write what they noted
            process.wait(timeout=30)
        else:
            server.shutdown()
            opens.recorder(app).flush()  # what the recorder has not written yet
        with app.app_context():
            opened = db.session.scalar(sa.select(sa.func.sum(EmailMessage.open_count)))
            assert opened - opened_before == 2 * COUNT, "every open must be recorded"
            if url.startswith("postgresql"):  # leave the shared database empty
                db.session.remove()  # its open read would make DROP TABLE wait
                db.drop_all()
            db.engine.dispose()
    server = "gunicorn -w 4" if under_gunicorn else "werkzeug, threaded"
    print(f"database: {url.split(':')[0]}; {server}; {COUNT} requests each, "
          f"{CLIENTS} clients")
    per_request = {name: cpu / COUNT * 1000 for name, cpu in (
        ("bare", bare_cpu), ("pixel", pixel_cpu), ("again", again_cpu))}
    print(f"bare route      {COUNT / bare:8.0f} req/s, {per_request['bare']:.3f} ms CPU each")
    print(f"tracking image  {COUNT / pixel:8.0f} req/s, {per_request['pixel']:.3f} ms CPU each "
          "(each a first open)")
    print(f"  opened again  {COUNT / again:8.0f} req/s, {per_request['again']:.3f} ms CPU each "
          "(each a repeat open)")
    print(f"pixel / bare = {bare / pixel:.2f} first opens (target >= 0.8), "
          f"{bare / again:.2f} repeat opens; CPU per request, bare / pixel = "
          f"{per_request['bare'] / per_request['pixel']:.2f} first opens, "
          f"{per_request['bare'] / per_request['again']:.2f} repeat opens")


if __name__ == "__main__":
    main()
