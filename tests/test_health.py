"""How mail is going: the queue summary, stalls, /healthz, /metrics and the mail server probe."""

import shutil
import socket
import threading
import time

import pytest
import sqlalchemy as sa
from conftest import add_event, ago, make_app, message_with
from prometheus_client.parser import text_string_to_metric_families
from smtp_server import free_port

from accounts import create_user
from app import create_app
from mailer import health
from models import EmailEvent, EmailMessage, db
from models.types import utcnow

MESSAGES, EVENTS = EmailMessage.__table__, EmailEvent.__table__


@pytest.fixture(autouse=True)
def fresh_probes():
    """Each test probes its own mail server: no status cached by an earlier test."""
    health._probes.clear()


def scrape(client, **headers):
    """/metrics parsed as Prometheus reads it: {sample name: value}."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {sample.name: sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def wait_until(condition, timeout):
    """Poll condition until it holds; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.05)


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_queue_summary_of_one_organization_and_of_all(issuer, rival):
    message_with(issuer, next_attempt_at=ago(10))  # due for 10 minutes: the oldest
    message_with(issuer, state="retry", next_attempt_at=ago(-5))  # tried again in 5 minutes
    message_with(issuer, state="sending", next_attempt_at=ago(3), lease_until=ago(1))  # worker died
    message_with(issuer, state="sending", lease_until=ago(-1))  # being handed over now
    sent = message_with(issuer, state="sent", sent_at=ago(20))
    message_with(issuer, state="sent", sent_at=ago(90))  # before the last hour
    bounced = message_with(issuer, state="bounced")
    add_event(sent, "sent", ago(20), "250 2.0.0 Ok: queued as A1")
    add_event(bounced, "bounced", ago(70), "550 an old bounce")
    add_event(bounced, "bounced", ago(5), "550 5.1.1 <x@example.com>: no such user")
    # A report that came back later counts as a bounce, but its words are another server's.
    add_event(bounced, "bounced", ago(1), "550 their MX", late=True, via="mailbox")
    theirs = message_with(rival, next_attempt_at=ago(60))
    add_event(theirs, "deferred", ago(2), "451 4.7.1 Greylisted")

    ours = health.queue_summary(issuer.org_id)
    assert (ours.due.count, ours.sending, ours.sent_last_hour, ours.bounced_last_hour) == (
        2, 1, 1, 2)
    assert 600 <= ours.due.oldest_seconds < 660
    assert ours.last_reply.text == "550 5.1.1 <x@example.com>: no such user"
    assert abs((ours.last_reply.at - ago(5)).total_seconds()) < 60

    everyone = health.queue_summary()
    assert (everyone.due.count, everyone.sending, everyone.sent_last_hour,
            everyone.bounced_last_hour) == (3, 1, 1, 2)
    assert 3600 <= everyone.due.oldest_seconds < 3660
    assert everyone.last_reply.text == "451 4.7.1 Greylisted"

    summary = health.queue_summary(rival.org_id)
    assert (summary.due.count, summary.sending, summary.sent_last_hour,
            summary.bounced_last_hour) == (1, 0, 0, 0)
    assert summary.last_reply.text == "451 4.7.1 Greylisted"
    assert health.event_totals() == {"sent": 1, "bounced": 3, "deferred": 1}


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("waiting_for, accepted, quiet_minutes, retrying", [
    pytest.param(None, 30, None, False, id="nothing waiting"),
    pytest.param(12, 9, 9, False, id="quiet since the last email it took"),
    pytest.param(12, None, 12, False, id="never took one: quiet since the oldest was queued"),
    pytest.param(12, None, 12, True, id="tried and waiting for the next try"),
    pytest.param(12, 2, None, False, id="it took one two minutes ago"),
    pytest.param(3, 30, None, False, id="waiting for three minutes only"),
])
def test_stalled_when_mail_waits_and_the_server_took_nothing_for_5_minutes(
        issuer, rival, waiting_for, accepted, quiet_minutes, retrying):
    if waiting_for is not None:
        # The server refused the connection: both wait for their next try, not due now.
        for minutes in (waiting_for, 1):
            due = {"next_attempt_at": ago(minutes)}
            if retrying:
                due = {"state": "retry", "attempts": 2, "next_attempt_at": ago(-2)}
            message_with(issuer, created_at=ago(minutes), **due)
    message_with(issuer, state="retry", next_attempt_at=ago(-1),  # throttled: not waiting
                 created_at=ago(60))
    if accepted is not None:  # by another organization: the server is the deployment's
        message_with(rival, state="sent", sent_at=ago(accepted))
    stall = health.stalled(issuer.org_id)
    if quiet_minutes is None:
        assert stall is None
        return
    assert stall.waiting == 2
    assert abs((stall.since - ago(waiting_for)).total_seconds()) < 60
    assert stall.quiet_seconds // 60 == quiet_minutes
    assert health.stalled(rival.org_id) is None  # nothing of theirs waits


def test_healthz_reports_the_database_the_mail_server_and_the_queue(tmp_path, sink):
    app = make_app(tmp_path, MAIL_PORT=sink.port)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", "correct horse battery")
        client = app.test_client()
        response = client.get("/healthz")
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        assert response.json == {"database": "ok", "mail_server": "ok",
                                 "queue": {"due": 0, "oldest_due_seconds": None}}
        message_with(user, next_attempt_at=ago(2))
        message_with(user, state="retry", next_attempt_at=ago(-2))  # not due yet
        queue = client.get("/healthz").json["queue"]
        assert queue["due"] == 1 and 120 <= queue["oldest_due_seconds"] < 180
        db.session.remove()
        db.engine.dispose()


def test_a_mail_server_that_goes_away_shows_within_10_seconds(tmp_path, sink):
    app = make_app(tmp_path, MAIL_PORT=sink.port, MAIL_SERVER_CHECK_SECONDS=1)
    client = app.test_client()
    assert client.get("/healthz").json["mail_server"] == "ok"
    assert scrape(client)["mail_server_up"] == 1
    sink.stop()
    stopped = time.monotonic()
    wait_until(lambda: client.get("/healthz").json["mail_server"] == "unreachable", 10)
    assert time.monotonic() - stopped < 10
    assert scrape(client)["mail_server_up"] == 0
    sink.start()  # the same port: back as soon as it greets us again
    wait_until(lambda: client.get("/healthz").json["mail_server"] == "ok", 10)
    with app.app_context():
        db.engine.dispose()


class Greeter:
    """A bare SMTP server on loopback that greets slowly and counts who connects."""

    def __init__(self, delay):
        self.delay, self.connections = delay, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            with connection:
                time.sleep(self.delay)  # a greeting that takes a while, as over a WAN
                connection.sendall(b"220 greeter ESMTP\r\n")
                connection.recv(64)  # QUIT
                connection.sendall(b"221 bye\r\n")

    def close(self):
        self.listener.close()


def test_concurrent_checks_share_one_probe_cached_for_a_few_seconds(app):
    greeter = Greeter(delay=0.3)
    app.config.update(MAIL_PORT=greeter.port, MAIL_SERVER_CHECK_SECONDS=2)
    start, answers = threading.Barrier(10), []

    def check():
        with app.app_context():
            start.wait()
            answers.append(health.mail_server_status())

    threads = [threading.Thread(target=check) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert answers == ["ok"] * 10
    assert greeter.connections == 1
    assert health.mail_server_status() == "ok" and greeter.connections == 1  # cached
    wait_until(lambda: health.mail_server_status() and greeter.connections == 2, 5)
    greeter.close()


def _gone_sqlite(tmp_path):
    """An app whose SQLite file was there, then its folder removed: nothing to open."""
    folder = tmp_path / "data"
    folder.mkdir()
    app = make_app(folder)
    with app.app_context():
        assert app.test_client().get("/healthz").status_code == 200
        shutil.rmtree(folder)
        db.engine.dispose()  # pooled connections still hold the removed file open
    return app


def _closed_postgres(tmp_path):
    """An app on a PostgreSQL URL whose port nothing listens on."""
    return create_app({"TESTING": True, "SECRET_KEY": "x", "MAIL_SERVER": "127.0.0.1",
                       "SQLALCHEMY_DATABASE_URI":
                       f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"})


@pytest.mark.parametrize("broken", [_gone_sqlite, _closed_postgres], ids=["sqlite", "postgres"])
def test_503_when_the_database_does_not_answer(tmp_path, broken):
    app = broken(tmp_path)
    client = app.test_client()
    for _ in range(2):  # and it keeps answering
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json == {"database": "unreachable", "mail_server": "unreachable",
                                 "queue": None}
    metrics = client.get("/metrics")
    assert metrics.status_code == 503 and "database" in metrics.text


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_metrics_count_what_another_process_wrote(app, client, issuer):
    row = message_with(issuer, next_attempt_at=ago(1))
    before = scrape(client)
    assert before["mail_queue_due"] == 1 and 60 <= before["mail_queue_oldest_due_seconds"] < 120
    assert (before["mail_sent_total"], before["mail_bounced_total"],
            before["mail_deferred_total"], before["mail_queue_sending"]) == (0, 0, 0, 0)
    # A worker process elsewhere: an engine of its own on the same database.
    worker = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with worker.begin() as connection:
        connection.execute(sa.update(MESSAGES).where(MESSAGES.c.id == row.id)
                           .values(state="sending", lease_until=ago(-1)))
        connection.execute(sa.insert(EVENTS), [
            {"credential_id": row.credential_id, "email_message_id": row.id, "type": kind,
             "at": utcnow(), "data": {"reply": "250 Ok"}}
            for kind in ("sent", "bounced", "deferred", "deferred")])
    worker.dispose()
    after = scrape(client)
    assert (after["mail_sent_total"], after["mail_bounced_total"],
            after["mail_deferred_total"]) == (1, 1, 2)
    assert (after["mail_queue_due"], after["mail_queue_oldest_due_seconds"],
            after["mail_queue_sending"]) == (0, 0, 1)


def test_metrics_need_the_bearer_token_when_one_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "s3cret-token")
    app = make_app(tmp_path)
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Bearer s3cret-token-and-more"},
                    {"Authorization": "Basic s3cret-token"}, {"Authorization": "Bearer ü"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and "mail_" not in refused.text
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert "mail_queue_due" in scrape(client, Authorization="Bearer s3cret-token")
    assert client.get("/healthz").status_code == 200  # no token for the health check
    with app.app_context():
        db.engine.dispose()
