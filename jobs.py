"""APScheduler wiring: it only triggers the jobs; the jobs are plain functions.

The mail job publishes what is due, queues due reminders and expiry notices and drains the
mail queue; the
import job checks and issues spreadsheet imports, apart, so a long import never holds up
the mail; the hourly upkeep job keeps SQLite's query planner informed and forgets used
one-time tokens. The web process runs them with SCHEDULER_ENABLED=1, `flask worker` in
the foreground.
"""

import atexit
import logging
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from flask import current_app

import work
from bounces import mailbox, provider_events
from importer.run import run_imports
from lifecycle.expiry import send_expiry_notices
from lifecycle.publishing import publish_due
from lifecycle.reminders import send_reminders
from mailer.queue import send_due
from models import IntakeReceipt, SignedMessage, db, refresh_statistics, write_transaction
from models.types import utcnow
from outbound.deliver import deliver_due
from team.links import send_requested_resets

MAIL_JOB, IMPORT_JOB, WEBHOOK_JOB = work.MAIL, work.IMPORTS, work.WEBHOOKS
BOUNCE_JOB = "bounces"
UPKEEP_JOB = "upkeep"
UPKEEP_SECONDS = 3600  # ANALYZE of 100,000 credentials takes about 30 ms
_started = threading.Lock()


def run_mail(app):
    """Publish what is due, queue due reminders, expiry notices and the password reset
    links asked for, then send all that is due; return the counts."""
    with app.app_context():
        try:
            published, reminders, notices = publish_due(), send_reminders(), send_expiry_notices()
            resets = send_requested_resets()
            return {"published": published, "reminders": reminders, "expiry_notices": notices,
                    "password_resets": resets, **send_due()}
        finally:
            db.session.remove()


def run_import_job(app):
    """Check or issue every import that has work to do; an issued import's mail goes out
    at once."""
    with app.app_context():
        try:
            run_imports()
            wake_given()
        finally:
            db.session.remove()


def run_bounce_job(app):
    """Read the bounce mailbox once; return the outcomes."""
    with app.app_context():
        try:
            return mailbox.poll()
        except mailbox.MailboxError as error:  # noted for the Settings page; tried again
            app.logger.warning("bounce mailbox: %s", error)
            return None
        finally:
            db.session.remove()


def run_webhook_job(app):
    """Deliver the due webhook messages; return the counts."""
    with app.app_context():
        try:
            return deliver_due()
        finally:
            db.session.remove()


def run_upkeep_job(app):
    """Refresh the query planner's statistics (SQLite: the data grows from nothing), forget
    the tokens requests were verified with once, long since too old to replay, and the
    signed bytes of messages that no longer wait for a retry."""
    with app.app_context():
        try:
            refresh_statistics()
            with write_transaction() as connection:
                IntakeReceipt.forget_once(connection, utcnow() - provider_events.ONCE_KEPT)
                SignedMessage.forget_done(connection)
        finally:
            db.session.remove()


def add_jobs(scheduler, app):
    """The mail, import and webhook jobs every QUEUE_INTERVAL_SECONDS, the upkeep hourly,
    and the bounce mailbox every BOUNCE_POLL_SECONDS when one is set;
    each never two at once, missed runs merged."""
    jobs = [(MAIL_JOB, run_mail, app.config["QUEUE_INTERVAL_SECONDS"]),
            (IMPORT_JOB, run_import_job, app.config["QUEUE_INTERVAL_SECONDS"]),
            (WEBHOOK_JOB, run_webhook_job, app.config["QUEUE_INTERVAL_SECONDS"]),
            (UPKEEP_JOB, run_upkeep_job, UPKEEP_SECONDS)]
    if app.config.get("BOUNCE_IMAP_HOST"):
        jobs.append((BOUNCE_JOB, run_bounce_job, app.config["BOUNCE_POLL_SECONDS"]))
    for job_id, job, seconds in jobs:
        scheduler.add_job(job, "interval", args=[app], id=job_id, seconds=seconds,
                          max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))


def log_outcomes():
    """One log line per message outcome on standard error (the mailer logger), without
    the scheduler's own line per run."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mailer").setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def start(app):
    """Run the jobs in this process's background, once per process."""
    if not _started.acquire(blocking=False):
        return app.extensions.get("scheduler")
    log_outcomes()
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    add_jobs(scheduler, app)
    scheduler.start()
    atexit.register(lambda: scheduler.shutdown(wait=False))
    app.extensions["scheduler"] = scheduler
    return scheduler


def wake(job_id):
    """Run this process's job now rather than at its next tick (after a commit that gave
    it work); nothing when this process runs no scheduler."""
    scheduler = current_app.extensions.get("scheduler")
    if scheduler is not None and scheduler.running:
        job = scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))


def commit():
    """Commit the session, then run at once the jobs its changes gave work to."""
    db.session.commit()
    wake_given()


def wake_given():
    """Run at once the jobs that committed changes gave work to (queued mail, webhook
    messages, an import to read, check or issue: noted by work.note as they were written)
    rather than at their next tick."""
    for job_id in work.taken():
        wake(job_id)
