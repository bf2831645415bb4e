"""Issuing one credential from the browser."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import issuing
import jobs
from forms import IssueForm
from models import CredentialGroup, db
from typos import suggest_address

bp = Blueprint("issuing", __name__)
DONE = {"draft": "Saved a draft for", "publish": "Published the credential of",
        "schedule": "Scheduled the credential of"}


@bp.route("/credentials/new", methods=["GET", "POST"])
@login_required
def new():
    """The issuing form; on errors it comes back with messages and what was typed."""
    form = IssueForm(CredentialGroup.for_org(current_user.org_id))
    if form.validate_on_submit():
        credential = issuing.NewCredential(
            form.recipient_name.data, form.recipient_email.data, form.group_name,
            form.action.data, form.scheduled_at.data, form.send_email.data, form.expires_at)
        issuing.issue_new(db.session.connection(), current_user.org_id, current_user.id,
                          [credential])
        jobs.commit()
        flash(f"{DONE[credential.action]} {credential.name}.")
        return redirect(url_for("credentials.index"))
    suggestion = suggest_address(form.recipient_email.data) if form.recipient_email.data else None
    status = 422 if request.method == "POST" else 200
    return render_template("issuing/new.html", form=form, suggestion=suggestion), status


@bp.get("/credentials/suggestion")
@login_required
def suggestion():
    """The typo hint under the email field, as the issuer types."""
    address = request.args.get("recipient_email", "")[:254]
    return render_template("issuing/_suggestion.html", suggestion=suggest_address(address))
