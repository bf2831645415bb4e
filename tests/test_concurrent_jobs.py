"""Several workers running the scheduled jobs at the same moment, as several `flask worker`
processes do on one database: scheduled publishing, reminders and the bounce mailbox each
act exactly once. Most tests make each worker a thread with its own app context (its own
session and connections), released together by a barrier; the last runs three real
`flask worker` processes. On SQLite and on a PostgreSQL database of the test's own."""

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, make_app
from pg_database import own_database

import issuing
import samples
from accounts import create_user
from bounces import mailbox
from lifecycle.publishing import publish_due
from lifecycle.reminders import send_reminders
from models import Credential, EmailEvent, EmailMessage, IntakeReceipt, db, write_transaction
from models.status_count import StatusCount, sync_statuses
from models.types import utcnow

WORKERS = 6
ROOT = Path(__file__).resolve().parent.parent
MESSAGES, CREDENTIALS = EmailMessage.__table__, Credential.__table__


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request):
    return request.param


def _dispose(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_shared_app(kind, tmp_path):
    """Build the app (with extra settings) on a database the test's workers share."""
    with contextlib.ExitStack() as cleanup:  # the app's connections, then its database
        def make(**config):
            if kind == "postgres":
                config["SQLALCHEMY_DATABASE_URI"] = cleanup.enter_context(own_database())
            app = make_app(tmp_path, **config)
            cleanup.callback(_dispose, app)
            return app

        yield make


def at_once(app, job, workers=WORKERS):
    """Run job() in that many threads released together, each in an app context of its own
    and calling it until it finds nothing to do; return every call's result."""
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def worker():
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                while True:
                    result = job()
                    results.append(result)
                    if not result:
                        break
            except BaseException as error:  # reported by the test, not lost in the thread
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert not errors, errors
    return results


def issue_many(user, count, action, scheduled_at=None):
    new = [issuing.NewCredential(f"Person {i}", f"p{i}@example.com", "Course A", action,
                                 scheduled_at) for i in range(count)]
    issuing.issue_new(db.session.connection(), user.org_id, user.id, new)
    db.session.commit()
    return db.session.scalars(sa.select(Credential.id).order_by(Credential.id)).all()


def per_credential(*where):
    """{credential id: how many messages} of the messages matching where."""
    db.session.rollback()  # see what the workers committed
    return Counter(db.session.scalars(sa.select(EmailMessage.credential_id).where(*where)))


def events(type_, code=None):
    db.session.rollback()
    query = sa.select(EmailEvent.credential_id).where(EmailEvent.type == type_)
    if code:
        query = query.where(EmailEvent.code == code)
    return Counter(db.session.scalars(query))


def counts(org_id):
    db.session.rollback()
    return {status: n for status, n in StatusCount.for_org(org_id).items() if n}


def test_scheduled_credentials_are_published_once_by_workers_at_once(make_shared_app):
    app = make_shared_app()
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        ids = issue_many(user, 300, "schedule", utcnow() + timedelta(days=1))
        with write_transaction() as connection:  # their time has come
            connection.execute(sa.update(CREDENTIALS).values(
                scheduled_at=utcnow() - timedelta(minutes=1)))

        results = at_once(app, lambda: publish_due(limit=7))

        assert sum(results) == 300  # each publication counted by one worker only
        db.session.rollback()
        assert set(db.session.scalars(sa.select(Credential.issue_state))) == {"published"}
        assert per_credential() == dict.fromkeys(ids, 1)  # one delivery email each
        assert events("queued") == dict.fromkeys(ids, 1)
        assert counts(user.org_id) == {"sending": 300}


def test_a_reminder_is_queued_once_by_workers_at_once(make_shared_app):
    app = make_shared_app()
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        user.org.reminder_after_days, user.org.reminder_max = 3, 2
        db.session.commit()
        ids = issue_many(user, 120, "publish")
        with write_transaction() as connection:  # delivered four days ago, never opened
            connection.execute(sa.update(MESSAGES).values(
                state="sent", sent_at=utcnow() - timedelta(days=4)))
            sync_statuses(connection, ids)
        assert counts(user.org_id) == {"not_opened": 120}

        results = at_once(app, send_reminders)

        assert sum(results) == 120
        assert per_credential(EmailMessage.purpose == "reminder") == dict.fromkeys(ids, 1)
        assert per_credential() == dict.fromkeys(ids, 2)
        assert events("resent", "reminder") == dict.fromkeys(ids, 1)
        assert counts(user.org_id) == {"sending": 120}


def bounce_reports(app, dovecot, imap_user, count):
    """count delivered credentials, a bounce report for each in the mailbox; their ids."""
    user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    ids = issue_many(user, count, "publish")
    with write_transaction() as connection:
        connection.execute(sa.update(MESSAGES).values(state="sent", sent_at=utcnow()))
        sync_statuses(connection, ids)
    db.session.rollback()
    messages = db.session.execute(sa.select(EmailMessage.message_id, EmailMessage.to_address)
                                  .order_by(EmailMessage.id)).all()
    dovecot.append(imap_user, *[samples.postfix(message_id, recipient=address)
                                for message_id, address in messages])
    return user, ids


def test_a_bounce_report_is_applied_once_by_workers_polling_at_once(
        make_shared_app, dovecot, imap_user, monkeypatch):
    monkeypatch.setattr(mailbox, "IMAP_BATCH", 4)  # many small batches, interleaved
    app = make_shared_app(**dovecot.settings(imap_user))
    with app.app_context():
        user, ids = bounce_reports(app, dovecot, imap_user, 40)

        results = at_once(app, lambda: sum(mailbox.poll().values()))

        assert sum(results) == 40  # one worker at a time reads the mailbox
        assert events("bounced") == dict.fromkeys(ids, 1)  # but applied by one
        assert per_credential(EmailMessage.state == "bounced") == dict.fromkeys(ids, 1)
        assert counts(user.org_id) == {"bounced": 40}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IntakeReceipt)) == 40
        assert dovecot.counts(imap_user) == {"INBOX": 0, "Processed": 40, "Unrecognised": 0}


def test_a_bounce_report_is_filed_once_by_workers_polling_at_once(
        make_shared_app, dovecot, imap_user, monkeypatch):
    monkeypatch.setattr(mailbox, "IMAP_BATCH", 4)
    app = make_shared_app(**dovecot.settings(imap_user))
    with app.app_context():
        bounce_reports(app, dovecot, imap_user, 40)
        at_once(app, lambda: sum(mailbox.poll().values()))
        assert dovecot.counts(imap_user) == {"INBOX": 0, "Processed": 40, "Unrecognised": 0}


@pytest.mark.slow
def test_worker_processes_publish_and_remind_once_when_both_fall_due_at_once(
        make_shared_app, sink, tmp_path):
    """Three real `flask worker` processes (jobs.run_mail every 0.2 s) are running when 30
    scheduled credentials and 30 reminders fall due at the same moment: each goes out
    once."""
    app = make_shared_app(MAIL_PORT=sink.port)
    workers = []
    with app.app_context():
        try:
            user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
            user.org.reminder_after_days, user.org.reminder_max = 3, 2
            db.session.commit()
            new = [issuing.NewCredential(f"Scheduled {i}", f"s{i}@example.com", "Course A",
                                         "schedule", utcnow() + timedelta(days=1))
                   for i in range(30)]
            new += [issuing.NewCredential(f"Delivered {i}", f"d{i}@example.com", "Course A",
                                          "publish") for i in range(30)]
            issuing.issue_new(db.session.connection(), user.org_id, user.id, new)
            db.session.commit()
            scheduled = db.session.scalars(sa.select(Credential.id).where(
                Credential.issue_state == "scheduled")).all()
            delivered = db.session.scalars(sa.select(Credential.id).where(
                Credential.issue_state == "published")).all()
            with write_transaction() as connection:  # delivered yesterday: no reminder yet
                connection.execute(sa.update(MESSAGES).values(
                    state="sent", sent_at=utcnow() - timedelta(days=1)))
                sync_statuses(connection, delivered)
            db.session.rollback()

            env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                   "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port),
                   "MAIL_DEFAULT_SENDER": "credentials@issuer.test", "SECRET_KEY": "test",
                   "QUEUE_INTERVAL_SECONDS": "0.2", "SCHEDULER_ENABLED": "0"}
            for n in range(3):
                log = tmp_path / f"worker-{n}.log"
                with open(log, "w") as output:
                    workers.append((log, subprocess.Popen(
                        [sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT,
                        env=env, stdout=output, stderr=subprocess.STDOUT)))
            wait_for("three workers running", lambda: all(
                "Worker running" in log.read_text() for log, _ in workers), workers)

            due = utcnow() + timedelta(seconds=1)  # the same moment for both, for all three
            with write_transaction() as connection:
                connection.execute(sa.update(CREDENTIALS).where(CREDENTIALS.c.id.in_(scheduled))
                                   .values(scheduled_at=due))
                connection.execute(sa.update(MESSAGES).values(sent_at=due - timedelta(days=3)))

            def all_sent():
                db.session.rollback()
                states = Counter(db.session.scalars(sa.select(EmailMessage.state)))
                return states.get("sent", 0) >= 90 and set(states) == {"sent"}

            wait_for("30 publications and 30 reminders sent", all_sent, workers)
            assert per_credential() == {**dict.fromkeys(scheduled, 1),
                                        **dict.fromkeys(delivered, 2)}
            assert events("resent", "reminder") == dict.fromkeys(delivered, 1)
            expected = set(db.session.scalars(sa.select(EmailMessage.message_id).where(
                sa.or_(EmailMessage.purpose == "reminder",
                       EmailMessage.credential_id.in_(scheduled)))))
            received = Counter(sink.message_ids())
            assert set(received) == expected and set(received.values()) == {1}
        finally:
            for _, process in workers:
                process.terminate()
            for _, process in workers:
                process.wait(timeout=30)


def wait_for(what, check, workers, timeout=60):
    deadline = time.monotonic() + timeout
    while not check():
        for log, process in workers:
            assert process.poll() is None, f"{log.name} exited:\n{log.read_text()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s\n" + "\n".join(
                log.read_text()[-3000:] for log, _ in workers))
        time.sleep(0.1)
