"""Issuing one credential from the browser."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms import IssueForm
from mailer.typos import suggest_address
from models import Credential, CredentialGroup, db

bp = Blueprint("issuing", __name__)


@bp.route("/credentials/new", methods=["GET", "POST"])
@login_required
def new():
    """The issuing form; on errors it comes back with messages and what was typed."""
    groups = CredentialGroup.for_org(current_user.org_id)
    form = IssueForm(groups)
    if form.validate_on_submit():
        if form.wants_new_group:
            group = CredentialGroup.get_or_create(current_user.org_id, form.new_group.data)
        else:
            group = form.groups[form.group_id.data]
        credential = Credential.issue(
            current_user.org_id, form.recipient_name.data, form.recipient_email.data, group,
            form.action.data, form.scheduled_at.data, form.send_email.data, current_user,
        )
        db.session.commit()
        done = {"draft": "Saved a draft for", "publish": "Published the credential of",
                "schedule": "Scheduled the credential of"}[form.action.data]
        flash(f"{done} {credential.recipient_name}.")
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
