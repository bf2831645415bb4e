"""The organization's email: its subject and Markdown message with placeholders
(mailer.wording), with a live preview for a sample recipient."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import audit
import issuing
import jobs
from forms import TemplateForm
from mailer import wording
from models import CredentialGroup, db
from models.states import MessagePurpose
from models.types import utcnow
from validation import InvalidInput

bp = Blueprint("email_template", __name__, url_prefix="/settings/email")


@bp.before_request
@login_required
def require_login():
    """Issuers only."""


def preview(subject, message, org, group=None):
    """The email's words for the sample recipient, or the templates' error."""
    try:
        subject, message = wording.clean_subject(subject), wording.clean_message(message)
    except InvalidInput as error:
        return None, str(error)
    return wording.render(subject, message,
                          wording.values_for(wording.sample_credential(org, group))), None


@bp.route("/", methods=["GET", "POST"])
def index():
    """The template, saved; ours until the organization writes its own."""
    org = current_user.org
    form = TemplateForm(data={"subject": org.email_subject or wording.DEFAULT_SUBJECT,
                              "message": org.email_message or wording.DEFAULT_MESSAGE})
    if form.validate_on_submit():
        # Saved as ours again (None) when it says what ours says, so it follows ours.
        values = {"email_subject": None if form.subject.data == wording.DEFAULT_SUBJECT
                  else form.subject.data,
                  "email_message": None if form.message.data == wording.DEFAULT_MESSAGE
                  else form.message.data}
        audit.record("template.change", changes=audit.changed(org, values))
        org.email_subject, org.email_message = values["email_subject"], values["email_message"]
        db.session.commit()
        flash("Email saved: emails queued from now on use it.")
        return redirect(url_for("email_template.index"))
    words, error = preview(form.subject.data, form.message.data, org)
    return render_template("settings/email.html", form=form, words=words, error=error,
                           placeholders=wording.PLACEHOLDERS), 422 if form.errors else 200


@bp.post("/test")
def send_test():
    """Send the saved email, for a sample recipient, to the issuer (through the queue)."""
    issuing.queue_system_email(db.session.connection(), current_user.org_id,
                               current_user.id, current_user.email, MessagePurpose.TEST,
                               utcnow())
    jobs.commit()
    flash(f"A test of your saved email is on its way to {current_user.email}.")
    return redirect(url_for("email_template.index"))


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
