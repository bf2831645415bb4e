"""Who runs the queue: the web process under `flask run`, never tests or other commands."""

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import issue, make_app
from smtp_server import free_port

from accounts import create_user
from app import _runs_background_services
from jobs import run_mail
from models import db
from models.types import utcnow

ROOT = Path(__file__).resolve().parent.parent


def test_the_mail_job_publishes_due_credentials_and_drains_the_queue(tmp_path, sink):
    from datetime import timedelta

    app = make_app(tmp_path, MAIL_PORT=sink.port, BATCH_SIZE=5)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme", "correct horse battery")
        for i in range(11):
            issue(user, name=f"P{i}", email=f"p{i}@example.com", action="publish")
        due = issue(user, action="schedule", scheduled_at=utcnow() - timedelta(seconds=1))
        assert run_mail(app) == {"published": 1, "reminders": 0, "expiry_notices": 0,
                                 "password_resets": 0, "claimed": 12, "sent": 12}
        assert len(sink.received) == 12
        db.session.rollback()  # end our snapshot to see what the job committed
        assert due.email_status == "not_opened"
        db.engine.dispose()


@pytest.mark.parametrize("enabled, testing, command, params, reloader_child, expected", [
    (True, False, None, {}, False, True),  # a WSGI server imported the app
    (True, False, "run", {"reload": False}, False, True),
    (True, False, "run", {"reload": True}, False, False),  # the reloader's watcher
    (True, False, "run", {"reload": True}, True, True),  # the reloader's child serves
    (True, False, "upgrade", {}, False, False),
    (True, False, "worker", {}, False, False),  # runs its own, in the foreground
    (False, False, "run", {}, False, False),
    (True, True, "run", {}, False, False),
])
def test_who_starts_the_scheduler(app, monkeypatch, enabled, testing, command, params,
                                  reloader_child, expected):
    app.config["SCHEDULER_ENABLED"], app.testing = enabled, testing
    if reloader_child:
        monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    else:
        monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    if command is None:
        assert _runs_background_services(app) is expected
        return
    with click.Context(click.Command(command), info_name=command) as context:
        context.params = params
        assert _runs_background_services(app) is expected


@pytest.mark.slow
def test_flask_run_sends_queued_mail_and_other_commands_do_not(tmp_path, sink):
    app = make_app(tmp_path, MAIL_PORT=sink.port)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme", "correct horse battery")
        issue(user, action="publish")
        db.engine.dispose()
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port), "SECRET_KEY": "t",
           "SCHEDULER_ENABLED": "1", "QUEUE_INTERVAL_SECONDS": "0.2"}
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    other = subprocess.run(flask + ["users", "create", "b@acme.test", "--org", "Acme",
                                    "--password", "long enough"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr
    assert sink.received == []  # a CLI command never starts the queue (it has ended)
    server = subprocess.Popen(flask + ["run", "--port", str(free_port())], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sink.wait_for(1, timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=20)
