"""Organization settings: the sender of the delivery emails."""

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from forms import SenderForm
from models import db

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    """Sender name, sender address and reply-to, used by every delivery email."""
    org = current_user.org
    form = SenderForm(obj=org)
    if form.validate_on_submit():
        form.populate_obj(org)
        db.session.commit()
        flash("Sender saved. New emails use it.")
        return redirect(url_for("settings.index"))
    status = 422 if form.errors else 200
    return render_template("settings/index.html", form=form, org=org,
                           default_sender=current_app.config["MAIL_DEFAULT_SENDER"]), status
