"""How mail is going: /healthz and /metrics for monitors, the queue page for issuers, and
resuming the sending the reputation guard paused."""

import hmac

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

import audit
import reputation
from extensions import htmx
from mailer import health, quota
from models import db
from models.types import utcnow
from team import roles

bp = Blueprint("health", __name__)
QUEUE_POLL_SECONDS = 5
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz():
    """200 while the database answers, 503 when it does not; the mail server either way."""
    mail_server = health.mail_server_status()
    try:
        due = health.due_now()
    except sa.exc.DBAPIError as error:
        current_app.logger.warning("healthz: the database does not answer: %s", error)
        body = {"database": "unreachable", "mail_server": mail_server, "queue": None}
        return jsonify(body), 503, NO_STORE
    body = {"database": "ok", "mail_server": mail_server,
            "queue": {"due": due.count, "oldest_due_seconds": due.oldest_seconds}}
    return jsonify(body), 200, NO_STORE


class MailCollector:
    """The queue and the event counts, read from the database at each scrape."""
    # Nothing is counted in this process, so every web process reports the whole deployment.

    def collect(self):
        due, sending = health.due_now(), health.sending_now()
        totals = health.event_totals()
        yield GaugeMetricFamily("mail_queue_due", "Messages due to be sent now.", due.count)
        yield GaugeMetricFamily("mail_queue_oldest_due_seconds",
                                "How long the oldest due message has waited (0: none).",
                                due.oldest_seconds or 0)
        yield GaugeMetricFamily("mail_queue_sending",
                                "Messages a worker is handing to the mail server.", sending)
        for kind, text in (("sent", "Emails the mail server accepted."),
                           ("bounced", "Emails that bounced, at once or reported later."),
                           ("deferred", "Temporary failures; the email is tried again.")):
            yield CounterMetricFamily(f"mail_{kind}", text, totals[kind])
        yield GaugeMetricFamily("mail_server_up", "1 when the mail server greets us.",
                                int(health.mail_server_status() == "ok"))
        # Only the paused ones, by id (names are free text): a series per organization
        # would grow with every tenant to say nothing.
        paused = GaugeMetricFamily("mail_org_paused", "1 for an organization whose sending "
                                   "the reputation guard paused.", labels=["org"])
        for org_id in reputation.paused_orgs():
            paused.add_metric([str(org_id)], 1)
        yield paused


registry = CollectorRegistry()
registry.register(MailCollector())


def _may_scrape():
    """No METRICS_TOKEN, or the request carries it as its bearer token."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                               token.encode())


@bp.get("/metrics")
def metrics():
    """The Prometheus text format, read from the database at each scrape."""
    if not _may_scrape():
        return Response("A bearer token is required.\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": "Bearer", **NO_STORE})
    try:
        text = generate_latest(registry)
    except sa.exc.DBAPIError as error:
        current_app.logger.warning("metrics: the database does not answer: %s", error)
        return Response("The database does not answer.\n", 503, mimetype="text/plain",
                        headers=NO_STORE)
    return Response(text, headers={"Content-Type": CONTENT_TYPE_LATEST, **NO_STORE})


@bp.get("/queue")
@login_required
def queue():
    """The organization's mail queue; its htmx poll gets only the panel."""
    view = {"summary": health.queue_summary(current_user.org_id),
            "quota": quota.usage(current_user.org_id),
            "mail_server": health.mail_server_status(), "poll_seconds": QUEUE_POLL_SECONDS}
    template = "health/_queue.html" if htmx and not htmx.boosted else "health/queue.html"
    return render_template(template, **view)


@bp.post("/queue/resume-sending")
@login_required
def resume_sending():
    """An owner lets the organization send again, once its list is clean."""
    if (reason := reputation.resume(current_user.org)) is not None:
        audit.record("settings.resume_sending", changes={"paused_reason": [reason, None]})
        db.session.commit()
        flash("Sending resumed: your waiting emails go out now. Only emails sent from now on "
              "count towards the guard.")
    return redirect(url_for("health.queue"))


@bp.app_template_global()
def paused_org():
    """The organization of the person logged in when its sending is paused and the page is
    an issuer's (a route that needs a role: not a recipient's page); else None."""
    if not current_user.is_authenticated or roles.needed(
            request.endpoint, request.method) in (roles.PUBLIC, None):
        return None
    return current_user.org if current_user.org.paused_at else None


# A share as a percentage in pages (the help's thresholds), as the guard writes it.
bp.app_template_filter("percent")(reputation.percent)


@bp.app_template_filter("duration")
def duration(seconds):
    """Seconds in words: "45 seconds", "3 minutes", "2 hours 5 minutes", "3 days 4 hours"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return _count(seconds, "second")
    if seconds < 3600:
        return _count(seconds // 60, "minute")
    big, small = (86400, "day"), (3600, "hour")
    if seconds < 86400:
        big, small = (3600, "hour"), (60, "minute")
    whole, rest = divmod(seconds, big[0])
    words = _count(whole, big[1])
    return f"{words} {_count(rest // small[0], small[1])}" if rest >= small[0] else words


def _count(n, unit):
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


@bp.app_template_filter("utc_clock")
def utc_clock(when):
    """A UTC time as "14:05 UTC" today, "1 Dec 14:05 UTC" another day."""
    if when.date() == utcnow().date():
        return f"{when:%H:%M} UTC"
    return f"{when.day} {when:%b %H:%M} UTC"
