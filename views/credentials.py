"""The Credentials page: every recipient with the status of their email."""

from math import ceil

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import issuing
import jobs
from extensions import htmx
from forms import (
    EmailForm,
    ExpiryForm,
    MoveForm,
    NameForm,
    ResendForm,
    RevokeForm,
    ScheduleForm,
)
from mailer import health
from models import Credential, CredentialGroup, db
from models.states import IssueState
from models.status import EmailStatus
from models.types import utcnow
from models.words import ALREADY_PUBLISHED, RESEND_REFUSALS
from outbound import endpoints
from typos import suggest_address
from views.queries import (
    ENGAGEMENT,
    blocked_domains,
    credential_or_404,
    filter_args,
    page_of,
    revoked_count,
    scoped,
    status_counts,
)

bp = Blueprint("credentials", __name__)
MAX_LIVE_ROWS = 500


@bp.before_request
@login_required
def require_login():
    """Every page of this blueprint is for logged-in issuers."""


def _page_number(value):
    try:
        return max(1, min(int(value), 10**6))
    except (TypeError, ValueError):
        return 1


@bp.get("/")
def home():
    return redirect(url_for("credentials.index"))


@bp.get("/credentials")
def index():
    """The page; an htmx request for a filter, search or page gets only the list."""
    status, text, engaged, revoked = filter_args(request.args)
    page = _page_number(request.args.get("page"))
    per_page = current_app.config["PER_PAGE"]
    counts = status_counts(current_user.org_id, text)
    items, total = page_of(current_user.org_id, status, text, page, per_page, counts, engaged,
                           revoked)
    view = {
        "credentials": items, "counts": counts, "total": total, "status": status, "q": text,
        "engaged": engaged, "engagement": ENGAGEMENT, "revoked": revoked,
        "revoked_count": revoked_count(current_user.org_id, text),
        "page": page, "pages": max(1, ceil(total / per_page)), "statuses": list(EmailStatus),
        "org_empty": not text and not any(counts.values()),
        # The organization's bounced count, read already when there is no search.
        "blocked": blocked_domains(current_user.org_id,
                                   current_app.config["BLOCKED_DOMAIN_THRESHOLD"],
                                   None if text else counts[EmailStatus.BOUNCED.value]),
        "sender": current_user.org.sender(current_app.config["DEFAULT_SENDER"]),
    }
    if htmx and not htmx.boosted:
        return render_template("credentials/_list.html", **view)
    return render_template("credentials/index.html", stall=health.stalled(current_user.org_id),
                           webhooks_off=endpoints.switched_off(current_user.org_id), **view)


@bp.get("/credentials/live")
def live():
    """For the rows still sending: those whose status changed, and the new counts."""
    ids = [int(i) for i in request.args.getlist("id") if i.isdigit()][:MAX_LIVE_ROWS]
    status, text, engaged, revoked = filter_args(request.args)
    # Only rows that left "Sending" come back: most polls load nothing more than one
    # indexed look-up (the stored status makes this a WHERE).
    transient = [s.value for s in EmailStatus if s.transient]
    changed = db.session.scalars(
        scoped(current_user.org_id)
        .where(Credential.id.in_(ids), Credential.email_status.not_in(transient))
        .options(sa.orm.selectinload(Credential.group),
                 sa.orm.selectinload(Credential.messages),
                 sa.orm.undefer(Credential.unsubscribed_at))).all()
    # While the mail server takes nothing, each answer carries its banner; once rows change,
    # the banner (or its absence) comes with them.
    stall = health.stalled(current_user.org_id)
    if not changed:  # most polls: nothing to swap, so no counts to read either
        return render_template("credentials/_stalled.html", stall=stall, oob=True) if stall else ""
    return render_template(
        "credentials/_live.html", changed=changed,
        counts=status_counts(current_user.org_id, text), status=status, q=text,
        engaged=engaged, engagement=ENGAGEMENT, statuses=list(EmailStatus), stall=stall,
        revoked=revoked, revoked_count=revoked_count(current_user.org_id, text))


@bp.post("/credentials/<int:credential_id>/publish")
def publish(credential_id):
    """Publish a draft or scheduled credential now, with its email choice."""
    credential = credential_or_404(current_user.org_id, credential_id)
    published = issuing.publish(db.session.connection(), [credential.id], current_user.id)
    jobs.commit()
    if published:
        message = (f"Published the credential of {credential.recipient_name}.", "message")
    else:
        message = (ALREADY_PUBLISHED, "error")
    if htmx:  # the row itself shows what happened
        return _row(credential)
    flash(*message)
    return redirect(url_for("credentials.index"))


@bp.route("/credentials/<int:credential_id>/schedule", methods=["GET", "POST"])
def schedule(credential_id):
    """Pick the time a draft or scheduled credential gets published."""
    credential = credential_or_404(current_user.org_id, credential_id)
    if credential.issue_state == IssueState.PUBLISHED:
        flash("That credential is already published.", "error")
        return redirect(url_for("credentials.index"))
    form = ScheduleForm(send_email=credential.send_email)
    if form.validate_on_submit():
        issuing.schedule(db.session.connection(), [credential.id], form.scheduled_at.data,
                         form.send_email.data)
        db.session.commit()
        flash(f"Scheduled the credential of {credential.recipient_name}.")
        return redirect(url_for("credentials.index"))
    status = 422 if form.errors else 200
    return render_template("credentials/schedule.html", form=form, credential=credential), status


def panel(credential, status=200, **forms):
    """The recipient's panel (the whole page without htmx), with their row out of band."""
    forms.setdefault("email_form", EmailForm(formdata=None,
                                             recipient_email=credential.recipient_email))
    forms.setdefault("resend_form", ResendForm(formdata=None))
    forms.setdefault("name_form", NameForm(formdata=None,
                                           recipient_name=credential.recipient_name))
    forms.setdefault("revoke_form", RevokeForm(formdata=None))
    forms.setdefault("expiry_form", ExpiryForm(
        formdata=None, expires_on=credential.expires_at and credential.expires_at.date()))
    if credential.issue_state == IssueState.DRAFT:
        forms.setdefault("move_form", MoveForm(CredentialGroup.for_org(credential.org_id),
                                               formdata=None,
                                               group_id=str(credential.group_id)))
    view = {"credential": credential, "events": credential.events(), "now": utcnow(),
            "suggestion": suggest_address(credential.recipient_email), **forms}
    template = "credentials/_detail.html" if htmx else "credentials/detail.html"
    return render_template(template, **view), status


@bp.get("/credentials/<int:credential_id>")
def detail(credential_id):
    """Everything about one recipient: address, status and why, actions, timeline."""
    return panel(credential_or_404(current_user.org_id, credential_id))


@bp.get("/credentials/<int:credential_id>/row")
def row(credential_id):
    """One row, or its address being edited in place (?edit=1)."""
    credential = credential_or_404(current_user.org_id, credential_id)
    return _row(credential, editing=bool(request.args.get("edit")))


def _row(credential, status=200, editing=False, email_form=None):
    form = email_form or EmailForm(formdata=None, recipient_email=credential.recipient_email)
    return render_template("credentials/_row.html", credential=credential, editing=editing,
                           email_form=form), status


@bp.post("/credentials/<int:credential_id>/email")
def change_email(credential_id):
    """Fix the recipient's address (sends nothing; resend is its own action), from the
    panel or in place on the row (?row=1)."""
    credential = credential_or_404(current_user.org_id, credential_id)
    form = EmailForm()
    in_row = bool(request.args.get("row"))
    if not form.validate_on_submit():
        if in_row:
            return _row(credential, 422, editing=True, email_form=form)
        return panel(credential, 422, email_form=form)
    issuing.change_address(db.session.connection(), credential.id, form.recipient_email.data,
                           current_user.id)
    db.session.commit()
    if in_row:
        return _row(credential)
    return panel(credential, message="Address saved. Resend to deliver it there.")


@bp.post("/credentials/<int:credential_id>/resend")
def resend(credential_id):
    """Queue a new delivery email for this recipient."""
    credential = credential_or_404(current_user.org_id, credential_id)
    form = ResendForm()
    if not form.validate_on_submit():
        return panel(credential, 400, resend_form=form)
    refusal = credential.resend_refusal(form.force.data)
    if refusal:
        return panel(credential, 409, error=RESEND_REFUSALS[refusal][0])
    issuing.resend(db.session.connection(), [credential], current_user.id,
                   cause="forced" if form.force.data else None, force=form.force.data)
    jobs.commit()
    return panel(credential, message="Queued a new email.")
