"""Forgot your password: a link by email, valid 1 hour, that works once. The answer is the
same, and as quick, whether or not the address has an account (team.links)."""

from flask import Blueprint, current_app, render_template
from flask_limiter.util import get_remote_address

import jobs
from extensions import limiter
from forms import ForgotForm
from models.states import TokenPurpose
from team import links
from views.auth import typed_address
from views.people import set_password_page

bp = Blueprint("passwords", __name__, url_prefix="/password")


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], key_func=typed_address,
               methods=["POST"], scope="reset-address")
@limiter.limit(lambda: current_app.config["LOGIN_IP_RATE_LIMIT"],
               key_func=get_remote_address, methods=["POST"], scope="reset-ip")
def forgot():
    """Ask for a reset link by address."""
    form = ForgotForm()
    if form.validate_on_submit():
        links.ask_for_reset(typed_address())
        jobs.commit()  # the mail job looks the address up, and sends a link if it is ours
        return render_template("auth/forgot.html", form=form, sent_to=typed_address())
    return render_template("auth/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<text>", methods=["GET", "POST"])
def reset(text):
    """A reset link: set a new password; every other session ends."""
    return set_password_page(text, TokenPurpose.PASSWORD_RESET, "Set a new password")
