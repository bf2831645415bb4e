"""Corrections from a recipient's panel: the name, a draft's group, a deleted draft, the
expiry, revocation and reinstatement. Each answers with the panel again (htmx) or the page."""

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

import issuing
import jobs
from extensions import htmx
from forms import ExpiryForm, MoveForm, NameForm, RevokeForm
from models import CredentialGroup, db
from models.words import revocation_refusal
from views.credentials import panel
from views.queries import credential_or_404

bp = Blueprint("corrections", __name__, url_prefix="/credentials/<int:credential_id>")
# After a revocation or reinstatement the list reloads: the Revoked count changed, and so
# did the status of a credential whose queued email was cancelled.
LIST_CHANGED = {"HX-Trigger": "credentials-changed"}


@bp.before_request
@login_required
def require_login():
    """Issuers only."""


@bp.post("/name")
def rename(credential_id):
    """Correct the recipient's name: pages, PDF and Open Badge show it at once."""
    credential = credential_or_404(current_user.org_id, credential_id)
    form = NameForm()
    if not form.validate_on_submit():
        return panel(credential, 422, name_form=form)
    issuing.rename(db.session.connection(), credential.id, form.recipient_name.data,
                   current_user.id)
    # Notifying sends the delivery email again, when one may be sent (not a bounced
    # address unchanged: the panel's resend offers to force that).
    notified = form.notify.data and credential.resend_refusal() is None
    if notified:
        issuing.resend(db.session.connection(), [credential], current_user.id,
                       cause="name_changed")
    jobs.commit()
    return panel(credential, message="Name saved: the credential shows it now."
                 + (" The recipient is sent the email again." if notified else ""))


@bp.post("/group")
def move(credential_id):
    """Put a draft in another group."""
    credential = credential_or_404(current_user.org_id, credential_id)
    form = MoveForm(CredentialGroup.for_org(current_user.org_id))
    if not form.validate_on_submit():
        return panel(credential, 422, move_form=form)
    if not issuing.move_drafts(db.session.connection(), [credential.id],
                               int(form.group_id.data)):
        db.session.rollback()
        if credential.issue_state != "draft":
            return panel(credential, 409, error="Only a draft's group can change.")
        return panel(credential, message="It is in that group already.")
    db.session.commit()
    return panel(credential, message="Moved to the group.")


@bp.post("/delete")
def delete(credential_id):
    """Delete a draft."""
    credential = credential_or_404(current_user.org_id, credential_id)
    name = credential.recipient_name
    if not issuing.delete_drafts(db.session.connection(), [credential.id]):
        return panel(credential, 409, error="Only a draft can be deleted: revoke a "
                                              "published credential instead.")
    db.session.commit()
    flash(f"Deleted the draft for {name}.")
    if htmx:  # the panel is gone with it: the page reloads its list
        return "", 200, {"HX-Redirect": url_for("credentials.index")}
    return redirect(url_for("credentials.index"))


@bp.post("/expiry")
def expiry(credential_id):
    """Set the last day the credential is valid, or none."""
    credential = credential_or_404(current_user.org_id, credential_id)
    form = ExpiryForm()
    if not form.validate_on_submit():
        return panel(credential, 422, expiry_form=form)
    issuing.set_expiry(db.session.connection(), credential.id, form.expires_at)
    db.session.commit()
    return panel(credential, message="Validity saved.")


@bp.post("/revoke")
def revoke(credential_id):
    """Revoke with a reason anyone who checks the credential sees."""
    credential = credential_or_404(current_user.org_id, credential_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        return panel(credential, 422, revoke_form=form)
    if not issuing.revoke(db.session.connection(), [credential.id], form.reason.data,
                          current_user.id):
        return panel(credential, 409, error=revocation_refusal(credential))
    jobs.commit()
    return *panel(credential, message="Revoked. Its pages and Open Badge say so now; emails "
                                        "not sent yet were cancelled."), LIST_CHANGED


@bp.post("/reinstate")
def reinstate(credential_id):
    """Make a revoked credential valid again."""
    credential = credential_or_404(current_user.org_id, credential_id)
    if not issuing.reinstate(db.session.connection(), [credential.id], current_user.id):
        return panel(credential, 409, error="The credential is not revoked.")
    jobs.commit()
    return *panel(credential, message="Reinstated: the credential is valid again."), LIST_CHANGED
