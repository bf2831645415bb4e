"""The organization's outbound webhooks on the Settings page: register (the secret shown
once), delete, switch on again, send a test event, and each endpoint's recent tries."""

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import audit
import jobs
from models import WebhookAttempt, db
from outbound import endpoints
from timeline.rules import WEBHOOK_EVENTS
from timeline.webhooks import announce_test

bp = Blueprint("webhook_settings", __name__, url_prefix="/settings/webhooks")
NO_STORE = {"Cache-Control": "no-store"}  # a new secret must not stay in a cache
RECENT = 10  # tries shown per endpoint


def _page(status=200, **extra):
    """The page with every endpoint of the organization and its recent tries."""
    hooks = endpoints.of_org(current_user.org_id)
    tries = {hook.id: db.session.scalars(
        sa.select(WebhookAttempt).where(WebhookAttempt.endpoint_id == hook.id)
        .order_by(WebhookAttempt.id.desc()).limit(RECENT)
        .options(sa.orm.joinedload(WebhookAttempt.message))).all() for hook in hooks}
    view = {"endpoints": hooks, "tries": tries, "waiting": endpoints.waiting(hooks),
            "event_types": WEBHOOK_EVENTS, "new": None, "errors": {}, "url": "", "chosen": ["*"],
            **extra}
    return render_template("settings/webhooks.html", **view), status, NO_STORE


def _endpoint_or_404(endpoint_id):
    endpoint = endpoints.find(current_user.org_id, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/")
@login_required
def create():
    """Register an endpoint; its secret is shown on this answer only."""
    url, chosen = request.form.get("url", ""), request.form.getlist("events")
    if "*" in chosen:  # "All events" ticked beside some: all it is
        chosen = ["*"]
    try:
        endpoint = endpoints.create(current_user.org_id, url, chosen, current_app.config)
    except endpoints.EndpointError as error:
        return _page(422, errors=error.fields, url=url, chosen=chosen)
    audit.record("webhook.create", changes={"url": endpoint.url, "events": endpoint.events})
    db.session.commit()
    return _page(201, new=endpoint)


@bp.post("/<int:endpoint_id>/delete")
@login_required
def delete(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    audit.record("webhook.delete", changes={"url": endpoint.url})
    db.session.delete(endpoint)
    db.session.commit()
    flash(f"Webhook endpoint {endpoint.url} deleted: it gets no more events.")
    return redirect(url_for("webhook_settings.index"))


@bp.post("/<int:endpoint_id>/test")
@login_required
def test(endpoint_id):
    """Queue a test event for the workers (never sent inside this request)."""
    endpoint = _endpoint_or_404(endpoint_id)
    announce_test(db.session.connection(), endpoint.id)
    endpoint.paused_until = None  # a failing endpoint is tried at once: perhaps it is mended
    jobs.commit()
    flash("Test event queued: its delivery shows below in a few seconds"
          + (" once the endpoint is switched on again." if endpoint.disabled_at else "."))
    return redirect(url_for("webhook_settings.index", _anchor=f"endpoint-{endpoint.id}"))


@bp.post("/<int:endpoint_id>/enable")
@login_required
def enable(endpoint_id):
    """Switch an endpoint on again after it was switched off for failing."""
    endpoint = _endpoint_or_404(endpoint_id)
    endpoint.switch_on()
    audit.record("webhook.enable", changes={"url": endpoint.url})
    jobs.commit()
    flash(f"Webhook endpoint {endpoint.url} is on again: its waiting events go out now.")
    return redirect(url_for("webhook_settings.index", _anchor=f"endpoint-{endpoint.id}"))
