"""Bulk resend, nudges and revocation: a preview with counts, then the action, which checks
again."""

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import issuing
import jobs
import validation
from extensions import htmx
from models import Credential, db
from models.states import MessagePurpose
from models.status import EmailStatus
from models.types import utcnow
from models.words import RESEND_REFUSALS
from views.queries import filter_args, filtered, like_escape, scoped

bp = Blueprint("bulk", __name__, url_prefix="/credentials/bulk")
MAX_BULK = 10_000


@bp.before_request
@login_required
def require_login():
    """Issuers only."""


class BulkError(ValueError):
    """The request names nothing to act on; the message says why."""


def _days():
    try:
        days = int(request.form.get("days", "7"))
    except ValueError:
        raise BulkError("Days must be a whole number.") from None
    if not 1 <= days <= 365:
        raise BulkError("Days must be from 1 to 365.")
    return days


def named_credentials():
    """The organization's credentials the form names, and words for what was asked."""
    mode = request.form.get("mode", "")
    query = scoped(current_user.org_id).order_by(Credential.id)
    if mode == "selected":
        ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()]
        if not ids:
            raise BulkError("Select at least one recipient first.")
        return query.where(Credential.id.in_(ids[:MAX_BULK])), "the selected recipients"
    if mode == "filter":
        query = filtered(current_user.org_id, *filter_args(request.form))
        return query.order_by(Credential.id), "every recipient matching the filter"
    if mode == "unopened":
        days = _days()
        return (query.where(Credential.email_status == EmailStatus.NOT_OPENED.value),
                f"everyone who has not opened for {days} day{'s' if days != 1 else ''}")
    if mode == "domain":
        domain = request.form.get("domain", "").strip().lower()
        if not domain or "@" in domain or len(domain) > 253 or not domain.isprintable():
            raise BulkError("Name a domain, like example.com.")
        return (query.where(
            Credential.email_status == EmailStatus.BOUNCED.value,
            Credential.recipient_email.ilike("%@" + like_escape(domain), escape="\\")),
                f"the bounced recipients at {domain}")
    raise BulkError("Unknown bulk action.")


def split_resendable(credentials, force, unopened_days=None, only_blocked=False):
    """(credentials to resend, Counter of why the others are skipped)."""
    cutoff = utcnow() - timedelta(days=unopened_days) if unopened_days else None
    eligible, skipped = [], Counter()
    for credential in credentials:
        if only_blocked and credential.latest_message.bounce_code != "blocked":
            skipped["other_bounce"] += 1
            continue
        sent_at = credential.latest_message and credential.latest_message.sent_at
        if cutoff and sent_at and sent_at > cutoff:
            skipped["too_recent"] += 1
            continue
        if unopened_days and credential.unsubscribed_at:  # a nudge is a reminder
            skipped["unsubscribed"] += 1
            continue
        refusal = credential.resend_refusal(force)
        if refusal:
            skipped[refusal] += 1
        else:
            eligible.append(credential)
    return eligible, skipped


def _plan():
    query, what = named_credentials()
    credentials = db.session.scalars(
        query.limit(MAX_BULK + 1).options(sa.orm.selectinload(Credential.messages),
                                          sa.orm.undefer(Credential.unsubscribed_at))).all()
    if len(credentials) > MAX_BULK:
        raise BulkError(f"That is more than {MAX_BULK:,} recipients; narrow the filter.")
    mode = request.form.get("mode")
    unopened = _days() if mode == "unopened" else None
    eligible, skipped = split_resendable(credentials, request.form.get("force") == "y",
                                         unopened, only_blocked=mode == "domain")
    if mode == "selected":  # rows gone since the page was loaded
        requested = {i for i in request.form.getlist("ids") if i.isdigit()}
        if len(requested) > len(credentials):
            skipped["gone"] = len(requested) - len(credentials)
    return what, eligible, skipped


SKIP_WORDS = {**{key: words for key, (_, words) in RESEND_REFUSALS.items()},
              "too_recent": "sent more recently", "gone": "no longer there",
              "other_bounce": "bounced for another reason",
              "unsubscribed": "unsubscribed from reminders"}


def _render(status=200, **view):
    """The preview fragment for htmx, inside the page otherwise."""
    template = "bulk/_preview.html" if htmx else "bulk/preview.html"
    return render_template(template, **view), status


def _summary(skipped):
    return "; ".join(f"{n} skipped: {SKIP_WORDS[key]}" for key, n in sorted(skipped.items()))


@bp.post("/preview")
def preview():
    """Say what a bulk resend would do, and offer to do it."""
    try:
        what, eligible, skipped = _plan()
    except BulkError as error:
        return _render(422, error=str(error))
    return _render(what=what, count=len(eligible), skipped=_summary(skipped), form=request.form,
                   forceable=skipped.get("bounced_unchanged", 0))


@bp.post("/resend")
def resend():
    """Resend to the recipients the preview named, checking each again now."""
    try:
        what, eligible, skipped = _plan()
    except BulkError as error:
        return _render(422, error=str(error))
    if not eligible:
        return _render(what=what, count=0, skipped=_summary(skipped), form=request.form,
                       forceable=skipped.get("bounced_unchanged", 0))
    nudge = request.form.get("mode") == "unopened"
    issuing.resend(db.session.connection(), eligible, current_user.id,
                   cause="nudge" if nudge else "bulk",
                   purpose=MessagePurpose.REMINDER if nudge else MessagePurpose.DELIVERY,
                   force=request.form.get("force") == "y")
    jobs.commit()
    message = f"Queued {len(eligible)} email{'s' if len(eligible) != 1 else ''}."
    if skipped:
        message += " " + _summary(skipped) + "."
    if htmx:  # the list reloads itself on this event, so the rows show "Sending"
        body, status = _render(done=message)
        return body, status, {"HX-Trigger": "credentials-changed"}
    flash(message)
    return redirect(url_for("credentials.index"))


def _revocable():
    """The selected credentials that can be revoked, and words for the others."""
    if request.form.get("mode") != "selected":
        raise BulkError("Select the credentials to revoke first.")
    query, what = named_credentials()
    credentials = db.session.scalars(query.limit(MAX_BULK)).all()
    revocable = [c for c in credentials if c.issue_state == "published" and not c.revoked_at]
    skipped = Counter("already revoked" if c.revoked_at else "not published"
                      for c in credentials if c not in revocable)
    return what, revocable, "; ".join(f"{n} skipped: {why}" for why, n in sorted(skipped.items()))


def _render_revoke(status=200, **view):
    template = "bulk/_revoke.html" if htmx else "bulk/revoke.html"
    return render_template(template, form=request.form, **view), status


@bp.post("/revoke-preview")
def revoke_preview():
    """Say how many of the selected credentials would be revoked, and ask why."""
    try:
        what, revocable, skipped = _revocable()
    except BulkError as error:
        return _render_revoke(422, error=str(error))
    return _render_revoke(what=what, count=len(revocable), skipped=skipped)


@bp.post("/revoke")
def revoke():
    """Revoke the selected credentials with the reason given."""
    try:
        what, revocable, skipped = _revocable()
        reason = validation.clean_reason(request.form.get("reason"))
    except BulkError as error:
        return _render_revoke(422, error=str(error))
    except validation.InvalidInput as error:
        return _render_revoke(422, what=what, count=len(revocable), skipped=skipped,
                              reason_error=str(error))
    revoked = issuing.revoke(db.session.connection(), [c.id for c in revocable], reason,
                             current_user.id)
    jobs.commit()
    message = f"Revoked {len(revoked)} credential{'s' if len(revoked) != 1 else ''}."
    if skipped:
        message += f" {skipped}."
    if htmx:
        body, status = _render_revoke(done=message)
        return body, status, {"HX-Trigger": "credentials-changed"}
    flash(message)
    return redirect(url_for("credentials.index"))
