"""`flask worker` processes against a real SMTP server: killed, and several at once."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import make_app

import issuing
from accounts import create_user
from models import EmailMessage, db

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request, tmp_path, sink):
    """An app with its database, and how to start worker processes against both."""
    app = make_app(tmp_path, request.param, MAIL_PORT=sink.port)
    workers, logs = [], []

    def start_worker(**settings):
        env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
               "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port),
               "MAIL_DEFAULT_SENDER": "credentials@issuer.test", "SECRET_KEY": "test",
               "QUEUE_INTERVAL_SECONDS": "0.2", "SCHEDULER_ENABLED": "0",
               **{key: str(value) for key, value in settings.items()}}
        log = open(tmp_path / f"worker-{len(workers)}.log", "w")  # read it when a test fails
        logs.append(log)
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        workers.append(process)
        return process

    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", "correct horse battery")
        yield app, user, start_worker
        for process in workers:  # all told at once, as each takes a moment to stop
            if process.poll() is None:
                process.terminate()
        for process in workers:
            process.wait(timeout=20)
        for log in logs:
            log.close()
        db.session.remove()
        db.engine.dispose()


def publish_many(user, count):
    """Publish count credentials, as one set (as the API or an import does); return their
    Message-IDs."""
    issuing.issue_new(db.session.connection(), user.org_id, user.id, [
        issuing.NewCredential(f"Person {i}", f"p{i}@example.com", "Course A", "publish")
        for i in range(count)])
    db.session.commit()
    return set(db.session.scalars(sa.select(EmailMessage.message_id)))


def wait_until_all_sent(count, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # see other processes' commits
        states = Counter(db.session.scalars(sa.select(EmailMessage.state)))
        if states.get("sent") == count:
            return
        time.sleep(0.1)
    raise AssertionError(f"not all sent in time: {states}")


def test_three_workers_send_every_message_exactly_once(setup, sink):
    app, user, start_worker = setup
    expected = publish_many(user, 90)
    db.session.rollback()
    for _ in range(3):
        start_worker(BATCH_SIZE=7)
    wait_until_all_sent(90)
    received = Counter(sink.message_ids())
    assert set(received) == expected
    assert set(received.values()) == {1}


def test_a_killed_worker_loses_nothing_and_repeats_at_most_the_one_in_flight(setup, sink):
    app, user, start_worker = setup
    expected = publish_many(user, 30)
    db.session.rollback()
    sink.delay = 0.05  # a slow server, so the kill lands mid-batch
    first = start_worker(BATCH_SIZE=10, LEASE_SECONDS=2)
    sink.wait_for(5)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    start_worker(BATCH_SIZE=10, LEASE_SECONDS=2)
    wait_until_all_sent(30)
    received = Counter(sink.message_ids())
    assert set(received) == expected  # nothing lost
    duplicates = {message_id: n for message_id, n in received.items() if n > 1}
    # At most the messages in flight, one per connection, went out twice.
    assert len(duplicates) <= app.config["SMTP_CONCURRENCY"]
    assert set(duplicates.values()) <= {2}


@pytest.mark.slow(first=True)  # a minute waiting for the lease to run out
@pytest.mark.parametrize("setup", ["sqlite"], indirect=True)
def test_a_killed_worker_s_mail_goes_to_another_within_two_minutes(setup, sink):
    app, user, start_worker = setup
    expected = publish_many(user, 200)
    db.session.rollback()
    sink.delay = 0.02  # a relay that takes 20 ms a message
    first = start_worker()  # default concurrency, batch and lease
    sink.wait_for(40)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    start_worker()
    # Its claims are free again LEASE_SECONDS (60) after their last renewal at most.
    wait_until_all_sent(200, timeout=120)
    received = Counter(sink.message_ids())
    assert set(received) == expected
    duplicates = {message_id: n for message_id, n in received.items() if n > 1}
    assert len(duplicates) <= app.config["SMTP_CONCURRENCY"]
    assert set(duplicates.values()) <= {2}


def test_three_workers_together_stay_under_the_rate_limit(setup, sink):
    app, user, start_worker = setup
    expected = publish_many(user, 45)
    db.session.rollback()
    for _ in range(3):
        start_worker(MAIL_RATE_LIMIT="10 per second")
    wait_until_all_sent(45)
    assert set(sink.message_ids()) == expected
    # No window of one second in which the server saw more than 10 (clocks read to 1 ms).
    arrivals = sorted(sink.arrivals)
    windows = zip(arrivals, arrivals[10:], strict=False)
    assert all(later - earlier >= 0.999 for earlier, later in windows)
