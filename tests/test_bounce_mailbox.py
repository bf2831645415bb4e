"""The bounce mailbox over IMAP, against a real Dovecot: reports applied once and moved to
Processed, the rest to Unrecognised, nothing deleted, several workers at once."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, issue, make_app, mark_latest

import issuing
import jobs
import samples
from accounts import create_user
from bounces import mailbox
from models import Credential, EmailEvent, IntakeStatus, db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite"])
def bounce_app(request, tmp_path, dovecot, imap_user):
    """The app reading this test's mailbox; parametrize indirectly with "postgres"."""
    app = make_app(tmp_path, request.param, **dovecot.settings(imap_user))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def delivered(count):
    """count credentials published, their email sent. Issued as one set, as an import or
    the API does (one issue per credential took 5 s of the 200 the killed worker needs)."""
    user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    ids = issuing.issue_new(db.session.connection(), user.org_id, user.id, [
        issuing.NewCredential(f"P{i}", f"p{i}@example.com", "Course A", "publish")
        for i in range(count)])
    db.session.commit()
    return [mark_latest(db.session.get(Credential, id_), "sent") for id_ in ids]


def bounced_events():
    db.session.rollback()
    return db.session.scalars(sa.select(EmailEvent.credential_id)
                              .where(EmailEvent.type == "bounced")).all()


def test_a_poll_applies_reports_and_files_every_mail(bounce_app, dovecot, imap_user):
    credentials = delivered(3)
    ids = [c.latest_message.message_id for c in credentials]
    dovecot.append(imap_user, samples.postfix(ids[0], recipient="p0@example.com"),
                   samples.qmail(ids[1], recipient="p1@example.com"),
                   samples.delayed(ids[2], recipient="p2@example.com"),
                   samples.out_of_office(ids[0], recipient="p0@example.com"),
                   samples.human_reply(ids[1]),
                   samples.postfix("<not-ours@elsewhere>", recipient="x@elsewhere.example"))
    assert mailbox.poll() == {"applied": 3, "auto_reply": 1, "not_report": 1, "unknown": 1}
    assert dovecot.counts(imap_user) == {"INBOX": 0, "Processed": 3, "Unrecognised": 3}
    db.session.rollback()
    assert [c.email_status for c in credentials] == ["bounced", "bounced", "not_opened"]
    assert "in the bounce mailbox" in credentials[0].events()[-1].detail
    assert IntakeStatus.all()["mailbox"].last_at is not None
    # Read again: the inbox is empty, nothing changes.
    assert mailbox.poll() == {}
    assert sorted(bounced_events()) == sorted([credentials[0].id, credentials[1].id])


def test_a_report_seen_again_is_filed_but_not_applied_twice(bounce_app, dovecot, imap_user):
    (credential,) = delivered(1)
    raw = samples.gmail(credential.latest_message.message_id, recipient="p0@example.com")
    dovecot.append(imap_user, raw)
    assert mailbox.poll() == {"applied": 1}
    dovecot.append(imap_user, raw)  # delivered twice, or put back by hand
    assert mailbox.poll() == {"duplicate": 1}
    assert dovecot.counts(imap_user)["Processed"] == 2
    assert bounced_events() == [credential.id]


@pytest.mark.parametrize("bounce_app", ["sqlite", "postgres"], indirect=True)
def test_two_workers_polling_at_once_apply_each_report_once(bounce_app, dovecot, imap_user):
    credentials = delivered(30)
    dovecot.append(imap_user, *[samples.postfix(c.latest_message.message_id,
                                                recipient=f"p{i}@example.com")
                                for i, c in enumerate(credentials)])

    def worker():
        with bounce_app.app_context():
            mailbox.poll()
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(bounced_events()) == sorted(c.id for c in credentials)
    counts = dovecot.counts(imap_user)
    assert counts["INBOX"] == 0 and counts["Processed"] + counts["Unrecognised"] >= 30


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_the_mailbox_is_read_over_tls(tmp_path, dovecot, imap_user, monkeypatch, security):
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.ca_file))  # trust the test's own CA
    app = make_app(tmp_path, **dovecot.settings(imap_user, security))
    with app.app_context():
        (credential,) = delivered(1)
        dovecot.append(imap_user, samples.postfix(credential.latest_message.message_id,
                                                  recipient="p0@example.com"))
        assert mailbox.poll() == {"applied": 1}
        monkeypatch.delenv("SSL_CERT_FILE")  # a certificate nobody vouches for: refused
        with pytest.raises(mailbox.MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
            mailbox.poll()
        db.engine.dispose()


def test_a_wrong_password_is_noted_and_said(bounce_app):
    bounce_app.config["BOUNCE_IMAP_PASSWORD"] = "wrong"
    result = bounce_app.test_cli_runner().invoke(args=["bounces", "poll"])
    assert result.exit_code == 1 and "Could not read the bounce mailbox" in result.output
    status = IntakeStatus.all()["mailbox"]
    assert status.last_at is None and "AUTHENTICATIONFAILED" in status.last_error.upper()


def test_the_worker_polls_the_mailbox_when_one_is_set(bounce_app):
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler()
    jobs.add_jobs(scheduler, bounce_app)
    assert {job.id for job in scheduler.get_jobs()} == {"mail", "imports", "webhooks",
                                                        "upkeep", "bounces"}
    bounce_app.config["BOUNCE_IMAP_HOST"] = None
    scheduler = BackgroundScheduler()
    jobs.add_jobs(scheduler, bounce_app)
    assert {job.id for job in scheduler.get_jobs()} == {"mail", "imports", "webhooks",
                                                        "upkeep"}


@pytest.mark.slow
def test_a_worker_killed_while_applying_loses_nothing_and_applies_nothing_twice(
        bounce_app, dovecot, imap_user):
    credentials = delivered(200)
    dovecot.append(imap_user, *[samples.postfix(c.latest_message.message_id,
                                                recipient=f"p{i}@example.com")
                                for i, c in enumerate(credentials)])
    db.session.commit()
    env = {**os.environ, "DATABASE_URL": bounce_app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": "test-secret", "MAIL_SERVER": "127.0.0.1",
           "MAIL_DEFAULT_SENDER": "credentials@issuer.test",
           **{key: str(value) for key, value in dovecot.settings(imap_user).items()}}
    command = [sys.executable, "-m", "flask", "--app", "app", "bounces", "poll"]
    victim = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(bounced_events()) < 20:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert len(bounced_events()) >= 20 and dovecot.counts(imap_user)["INBOX"] > 0  # part-way
    finish = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert finish.returncode == 0, finish.stderr
    assert sorted(bounced_events()) == sorted(c.id for c in credentials)  # each exactly once
    counts = dovecot.counts(imap_user)
    assert counts["INBOX"] == 0 and counts["Processed"] == 200


def test_a_relay_accepts_and_the_report_comes_back_to_the_verp_address(
        tmp_path, dovecot, imap_user, sink):
    """The whole way: aiosmtpd as the relay answers 250 to all three, one address is dead,
    its report comes back to that email's own envelope sender and is read over IMAP."""
    from mailer.queue import send_due

    app = make_app(tmp_path, MAIL_PORT=sink.port, BOUNCE_ADDRESS="bounces@bounce.acme.example",
                   **dovecot.settings(imap_user))
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        credentials = [issue(user, name=f"P{i}", email=f"p{i}@example.com", action="publish")
                       for i in range(3)]
        assert send_due() == {"claimed": 3, "sent": 3}
        envelope = sink.envelope_senders[1]  # what the relay saw for p1's email
        assert envelope.startswith("bounces+") and envelope.endswith("@bounce.acme.example")
        # The relay's report names only that address (and a recipient we never wrote to).
        report = samples.exim("<x@y>", recipient="p1@relay-rewrote.example", to=envelope)
        dovecot.append(imap_user, report.replace(b"Message-ID: <x@y>", b""))
        assert mailbox.poll() == {"applied": 1}
        db.session.rollback()
        assert [c.email_status for c in credentials] == ["not_opened", "bounced", "not_opened"]
        assert credentials[1].latest_message.bounce_reason == "The mailbox is full."
        db.engine.dispose()
