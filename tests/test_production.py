"""Production, end to end, as README's "Run in production" sets it up: a PostgreSQL database
of the test's own migrated with `flask db upgrade`, an issuer and an API key made with the
CLI, gunicorn with two workers (SCHEDULER_ENABLED=0) and one `flask worker`, all real
processes, mailing a real SMTP server (aiosmtpd). Credentials are issued over HTTP, their
emails arrive, and the tracking image in one of them turns its status to opened.

Every process logs to a file in the test's tmp_path (printed when something fails)."""

import email
import email.policy
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pg_database import own_database
from smtp_server import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                       reason="the production test needs TEST_DATABASE_URL (see README, Test)"),
]
ROOT = Path(__file__).resolve().parent.parent
ISSUER, PASSWORD = "issuer@acme.test", "correct horse battery"
# A person's mail program, not a privacy proxy's bare "Mozilla/5.0" prefetch.
BROWSER = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0 Safari/537.36")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Deployment:
    """The processes of one deployment: CLI commands run to completion, services started
    in a session of their own and stopped (all of them) at the end."""

    def __init__(self, tmp_path, env, port):
        self.tmp_path, self.env, self.port = tmp_path, env, port
        self.base = f"http://127.0.0.1:{port}"
        self.services, self.logs = {}, {}

    def flask(self, *args):
        """Run `flask --app app …` to completion; its CompletedProcess."""
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=120)
        with open(self.tmp_path / "cli.log", "a") as log:
            log.write(f"$ flask {' '.join(args)}\n{done.stdout}{done.stderr}\n")
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def start(self, name, command):
        log = self.logs[name] = open(self.tmp_path / f"{name}.log", "w")
        self.services[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        """SIGTERM every service (gunicorn stops its workers), then SIGKILL what is left of
        each one's process group."""
        for process in self.services.values():
            if process.poll() is None:
                process.terminate()
        for process in self.services.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # gunicorn workers left behind, if any
            except ProcessLookupError:
                pass
            process.wait(timeout=10)
        for log in self.logs.values():
            log.close()

    def output(self):
        """Every log, for a failure's message."""
        for log in self.logs.values():
            log.flush()
        return "\n".join(f"--- {path.name}\n{path.read_text()[-4000:]}"
                         for path in sorted(self.tmp_path.glob("*.log")))

    def check_running(self):
        for name, process in self.services.items():
            assert process.poll() is None, f"{name} exited ({process.returncode})\n" + \
                self.output()

    def http(self, method, path, body=None, key=None, user_agent="test"):
        """(status, headers, body bytes) of one request to the web app."""
        headers = {"User-Agent": user_agent, "Accept-Language": "en-GB,en;q=0.9"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = path if path.startswith("http") else self.base + path
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with NO_PROXY.open(request, timeout=15) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def wait_until(self, what, check, timeout=60):
        """Poll check() until it returns something true; fail with the logs after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s\n" + self.output())
            time.sleep(0.1)


@pytest.fixture
def deployment(tmp_path, sink):
    pytest.importorskip("gunicorn")
    with own_database() as url:
        port = free_port()
        env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
               if name in os.environ}
        env.update({
            # As an operator writes it: the app points postgresql:// at psycopg 3 itself.
            "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://", 1),
            "SECRET_KEY": "production-test-secret", "SCHEDULER_ENABLED": "0",
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port),
            "MAIL_DEFAULT_SENDER": "Acme Academy <certificates@acme.example>",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "QUEUE_INTERVAL_SECONDS": "0.2",
            "IMPORT_FOLDER": str(tmp_path / "imports"), "PYTHONUNBUFFERED": "1",
            # gunicorn's control socket ($XDG_RUNTIME_DIR/gunicorn.ctl), the test's own.
            "XDG_RUNTIME_DIR": str(tmp_path),
        })
        running = Deployment(tmp_path, env, port)
        try:
            yield running
        finally:
            running.stop()


def ready(deployment):
    """True once gunicorn answers (a worker is up and serving)."""
    try:
        status, _, _ = deployment.http("GET", "/login")
    except OSError:  # not listening yet, or no worker took the connection yet
        return False
    return status == 200


def html_part(raw):
    return email.message_from_bytes(raw, policy=email.policy.default).get_body(
        ("html",)).get_content()


def test_gunicorn_and_a_worker_send_and_track_on_postgresql(deployment, sink):
    deployment.flask("db", "upgrade")
    deployment.flask("users", "create", ISSUER, "--org", "Acme Academy", "--password",
                     PASSWORD)
    key = deployment.flask("apikeys", "create", ISSUER).stdout.strip().splitlines()[-1]
    deployment.start("gunicorn", [sys.executable, "-m", "gunicorn", "-w", "2", "-b",
                                  f"127.0.0.1:{deployment.port}", "--access-logfile", "-",
                                  "app:create_app()"])
    deployment.start("worker", [sys.executable, "-m", "flask", "--app", "app", "worker"])
    deployment.wait_until("gunicorn ready", lambda: ready(deployment), timeout=30)

    status, _, body = deployment.http("GET", "/api/v1/credentials", key="wrong")
    assert status == 401, body
    addresses = [f"person{i}@example.com" for i in range(3)]
    ids = {}
    for i, address in enumerate(addresses):
        status, _, body = deployment.http("POST", "/api/v1/credentials", key=key, body={
            "recipient_name": f"Person {i}", "recipient_email": address, "group": "Maths",
            "action": "publish"})
        assert status == 201, body
        ids[address] = json.loads(body)["id"]

    def statuses():
        found = {}
        for address, credential_id in ids.items():
            status, _, body = deployment.http("GET", f"/api/v1/credentials/{credential_id}",
                                              key=key)
            assert status == 200, body
            found[address] = json.loads(body)["email_status"]
        return found

    deployment.wait_until("3 emails at the server", lambda: len(sink.received) >= 3)
    deployment.wait_until("all not opened", lambda: set(statuses().values()) == {"not_opened"})
    assert sorted(recipient for recipient, _, _ in sink.received) == addresses  # each once
    raw = {recipient: content for recipient, _, content in sink.received}

    # The recipient's mail program loads the tracking image of the first email.
    images = re.findall(r'<img src="([^"]+)"', html_part(raw[addresses[0]]))
    assert len(images) == 1
    image = html.unescape(images[0])
    assert image.startswith(f"{deployment.base}/t/"), image
    status, headers, _ = deployment.http("GET", image, user_agent=BROWSER)
    assert status == 200 and headers["Content-Type"] == "image/gif"

    deployment.wait_until("the first opened", lambda: statuses()[addresses[0]] == "opened")
    assert statuses() == {addresses[0]: "opened", addresses[1]: "not_opened",
                          addresses[2]: "not_opened"}
    status, _, body = deployment.http("GET", f"/api/v1/credentials/{ids[addresses[0]]}/events",
                                      key=key)
    assert [event["type"] for event in json.loads(body)] == ["queued", "sent", "opened"]
    status, _, body = deployment.http("GET", "/api/v1/email-statuses", key=key)
    assert json.loads(body) == {"not_sent": 0, "not_provided": 0, "sending": 0,
                                "not_opened": 2, "bounced": 0, "opened": 1}
