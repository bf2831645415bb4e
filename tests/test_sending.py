"""Sending at production speed: parallel connections, throttling, rate limits, leases."""

import itertools
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import make_app

import issuing
from accounts import create_user
from app import ConfigError
from mailer import pace
from mailer.queue import send_due
from models import EmailEvent, EmailMessage, SendSlot, db
from models.types import utcnow


@pytest.fixture
def user(mail_app):
    return create_user("issuer@acme.test", "Acme Academy", "correct horse battery")


def publish_many(user, count):
    """Publish count credentials as one set (as the API or an import does); return their
    Message-IDs."""
    issuing.issue_new(db.session.connection(), user.org_id, user.id, [
        issuing.NewCredential(f"Person {i}", f"p{i}@example.com", "Course A", "publish")
        for i in range(count)])
    db.session.commit()
    return set(db.session.scalars(sa.select(EmailMessage.message_id)))


def send_until_all_sent(count, timeout=60):
    """Call send_due as the worker does until count messages are sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        send_due()
        states = Counter(db.session.scalars(sa.select(EmailMessage.state)))
        if states.get("sent") == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"not all sent in time: {states}")


def test_a_slow_relay_is_served_over_parallel_connections(user, sink, mail_app):
    expected = publish_many(user, 120)
    sink.delay = 0.02  # a relay that takes 20 ms a message
    counts = send_due(batch_size=10)
    assert counts == {"claimed": 120, "sent": 120}
    received = Counter(sink.message_ids())
    assert set(received) == expected and set(received.values()) == {1}
    # Each connection claimed its own batches: several handed mail over at the same time.
    assert 2 <= sink.most_at_once <= mail_app.config["SMTP_CONCURRENCY"]
    assert sink.connections <= mail_app.config["SMTP_CONCURRENCY"]


def test_a_few_messages_take_one_connection(user, sink):
    publish_many(user, 3)
    assert send_due() == {"claimed": 3, "sent": 3}
    assert sink.connections == 1


def test_throttling_pauses_and_uses_up_no_attempt(tmp_path, sink):
    # One attempt only: any ordinary temporary failure would bounce at once.
    app = make_app(tmp_path, MAIL_PORT=sink.port, MAX_ATTEMPTS=1, SMTP_CONCURRENCY=1)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", "correct horse battery")
        expected = publish_many(user, 6)
        sink.throttle = ["454 4.7.0 Throttling failure: Maximum sending rate exceeded, "
                         "try again in 1 seconds"] * 3
        send_until_all_sent(6)
        assert set(sink.message_ids()) == expected
        messages = db.session.scalars(sa.select(EmailMessage)).all()
        assert {(m.state, m.attempts) for m in messages} == {("sent", 1)}
        # The connection paused after each throttling reply, for as long as the server said.
        gaps = [later - earlier for earlier, later in itertools.pairwise(sink.arrivals)]
        assert all(gap >= 0.9 for gap in gaps[:3]), gaps
        deferred = db.session.scalars(sa.select(EmailEvent).filter_by(type="deferred")).all()
        assert [event.code for event in deferred] == ["throttled"] * 3
        assert "send more slowly" in deferred[0].detail
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("text, windows", [
    ("14 per second; 50000 per day", [(14, 1), (50000, 86400)]),
    ("30/minute", [(30, 60)]),
    ("", []),
])
def test_rate_limits_are_read_with_the_limits_syntax(text, windows):
    assert pace.parse_rate_limit(text) == windows


@pytest.mark.parametrize("text", ["fast", "14 per fortnight", "0 per second"])
def test_a_rate_limit_that_cannot_be_read_stops_the_app(tmp_path, text):
    with pytest.raises(ConfigError, match="MAIL_RATE_LIMIT.*14 per second"):
        make_app(tmp_path, MAIL_RATE_LIMIT=text)


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_a_slot_is_refused_while_the_window_is_full(app):
    windows = [(3, 1)]
    slots = [pace.take_slot(windows) for _ in range(3)]
    assert all(slot is not None and wait == 0 for slot, wait in slots)
    # All three are under way: a fourth waits a moment and asks again.
    assert pace.take_slot(windows) == (None, pace.POLL_SECONDS)
    with db.engine.begin() as connection:
        for slot, _ in slots:
            pace.finish_slots(connection, [slot])
    slot, wait = pace.take_slot(windows)
    assert slot is None and 0.5 < wait <= 1.0  # the oldest leaves the window within 1 s
    db.session.execute(sa.update(SendSlot).values(counts_at=utcnow() - timedelta(seconds=2)))
    db.session.commit()
    assert pace.take_slot(windows)[0] is not None


def test_a_claim_is_renewed_while_its_connection_works(user, sink, mail_app):
    mail_app.config["LEASE_SECONDS"] = 0.6
    publish_many(user, 6)
    sink.delay = 0.25  # the batch takes 1.5 s: over twice the lease
    send_due(batch_size=6)
    # Nobody else could claim them meanwhile: each went out once.
    assert sorted(Counter(sink.message_ids()).values()) == [1] * 6



@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_outcomes_handed_in_together_are_committed_together(app, issuer, monkeypatch):
    from mailer import commit
    from mailer.claim import claim_messages
    from mailer.replies import Outcome
    from models import immediate_connection

    publish_many(issuer, 80)
    ids = claim_messages(80, "worker-1")
    groups = []
    record_all = commit.record_all
    monkeypatch.setattr(commit, "record_all", lambda connection, outcomes, owner: (
        groups.append(len(outcomes)), record_all(connection, outcomes, owner))[1])
    recorder, start, seen = commit.GroupCommit("worker-1"), threading.Barrier(8), {}
    watcher = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    def connection_thread(mine):
        with app.app_context(), immediate_connection() as connection, \
                watcher.connect() as elsewhere:
            start.wait()
            for row_id in mine:
                state = recorder.record(connection, row_id, Outcome("sent", "250 ok"), None)
                # Committed before record returns: another connection sees it at once.
                seen[row_id] = (state, elsewhere.scalar(
                    sa.select(EmailMessage.state).where(EmailMessage.id == row_id)))
                elsewhere.rollback()

    threads = [threading.Thread(target=connection_thread, args=(ids[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    watcher.dispose()
    assert seen == {row_id: ("sent", "sent") for row_id in ids}
    assert sum(groups) == 80 and max(groups) > 1  # fewer transactions than outcomes
    db.session.rollback()
    events = db.session.scalars(sa.select(EmailEvent.email_message_id)
                                .where(EmailEvent.type == "sent")).all()
    assert sorted(events) == sorted(ids)
    assert db.session.scalar(sa.select(sa.func.max(EmailMessage.attempts))) == 1
