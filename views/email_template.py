"""The organization's email: its subject and Markdown message with placeholders
(mailer.wording), with a live preview for a sample recipient."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms import TemplateForm
from mailer import wording
from models import CredentialGroup, db
from models.types import add_months, utcnow
from validation import InvalidInput

bp = Blueprint("email_template", __name__, url_prefix="/settings/email")
SAMPLE_RECIPIENT = "Ada Lovelace"


@bp.before_request
@login_required
def require_login():
    """Issuers only."""


def sample_values(org, group=None):
    """The placeholders' values for a made-up recipient of the group (or a sample one)."""
    today = utcnow()
    months = (group and group.validity_months) or 24
    return {"recipient_name": SAMPLE_RECIPIENT,
            "credential_name": group.name if group else "Python Fundamentals 2026",
            "organization_name": org.name, "issue_date": f"{today:%d %B %Y}",
            "expiry_date": f"{add_months(today, months):%d %B %Y}"}


def preview(subject, message, org, group=None):
    """The email's words for the sample recipient, or the templates' error."""
    try:
        subject, message = wording.clean_subject(subject), wording.clean_message(message)
    except InvalidInput as error:
        return None, str(error)
    return wording.render(subject, message, sample_values(org, group)), None


@bp.route("/", methods=["GET", "POST"])
def index():
    """The template, saved; ours until the organization writes its own."""
    org = current_user.org
    form = TemplateForm(data={"subject": org.email_subject or wording.DEFAULT_SUBJECT,
                              "message": org.email_message or wording.DEFAULT_MESSAGE})
    if form.validate_on_submit():
        # Saved as ours again (None) when it says what ours says, so it follows ours.
        org.email_subject = None if form.subject.data == wording.DEFAULT_SUBJECT \
            else form.subject.data
        org.email_message = None if form.message.data == wording.DEFAULT_MESSAGE \
            else form.message.data
        db.session.commit()
        flash("Email saved: emails queued from now on use it.")
        return redirect(url_for("email_template.index"))
    words, error = preview(form.subject.data, form.message.data, org)
    return render_template("settings/email.html", form=form, words=words, error=error,
                           placeholders=wording.PLACEHOLDERS), 422 if form.errors else 200


@bp.post("/preview")
def live_preview():
    """The preview as the issuer types (htmx): the form's fields, for one of the groups."""
    group = None
    if request.form.get("group_id", "").isdigit():
        group = db.session.scalar(sa.select(CredentialGroup).where(
            CredentialGroup.org_id == current_user.org_id,
            CredentialGroup.id == int(request.form["group_id"])))
    words, error = preview(request.form.get("subject", ""), request.form.get("message", ""),
                           current_user.org, group)
    return render_template("settings/_email_preview.html", words=words, error=error)
