"""APScheduler wiring: it only triggers the jobs; the jobs are plain functions."""

import atexit
import threading
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from apscheduler.schedulers.background import BackgroundScheduler
from flask import current_app, has_app_context

from mailer.queue import publish_due, send_due
from mailer.reminders import send_reminders
from models import db

JOB_ID = "mail"
IMPORT_JOB_ID = "imports"
_started = threading.Lock()


def run_jobs(app):
    """Publish what is due, queue due reminders, then drain the queue batch by batch;
    return the counts."""
    with app.app_context():
        try:
            published = publish_due()
            total = {"published": published, "reminders": send_reminders(), "claimed": 0}
            while True:
                counts = send_due()
                total["claimed"] += counts["claimed"]
                if counts["claimed"] < app.config["BATCH_SIZE"]:
                    return total
        finally:
            db.session.remove()


def add_jobs(scheduler, app):
    """The mail job and the import job, every QUEUE_INTERVAL_SECONDS, each never two at once,
    missed runs merged: a long import does not hold up the mail."""
    from importer.run import run_imports

    for job_id, job in ((JOB_ID, run_jobs), (IMPORT_JOB_ID, run_imports)):
        scheduler.add_job(job, "interval", args=[app], id=job_id,
                          seconds=app.config["QUEUE_INTERVAL_SECONDS"], max_instances=1,
                          coalesce=True, next_run_time=datetime.now(UTC))


def start(app):
    """Run the jobs in this process's background, once per process."""
    if not _started.acquire(blocking=False):
        return app.extensions.get("scheduler")
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    add_jobs(scheduler, app)
    scheduler.start()
    atexit.register(lambda: scheduler.shutdown(wait=False))
    app.extensions["scheduler"] = scheduler
    return scheduler


@sa.event.listens_for(so.Session, "after_commit")
def wake(session):
    """Mail was queued, or an import given work, and committed: run this process's job now,
    not at the next tick."""
    due = [job_id for flag, job_id in (("mail_queued", JOB_ID), ("import_pending", IMPORT_JOB_ID))
           if session.info.pop(flag, False)]
    if not due or not has_app_context():
        return
    scheduler = current_app.extensions.get("scheduler")
    if scheduler is not None and scheduler.running:
        for job_id in due:
            job = scheduler.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))
