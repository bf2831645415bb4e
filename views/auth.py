"""Logging issuers in and out, with failed attempts limited per address and per IP.

A browser that logged in before carries a signed device cookie for its address, and
counts its failures on its own (OWASP's device cookies): strangers trying an address
stop strangers, not its owner.
"""

import secrets
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeSerializer

import audit
from extensions import limiter
from forms import LoginForm
from models import User, db, write_lock
from models.user import check_unknown_password

bp = Blueprint("auth", __name__)


def _safe_next(target):
    """Only same-site paths, so the login form cannot send people elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


DEVICE_COOKIE, DEVICE_SECONDS = "device", 365 * 24 * 3600


def _device_signer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="login-device")


def typed_address():
    """The address a login or reset form was sent for, as the account would be looked up."""
    return (request.form.get("email") or "").strip().lower()[:254]


def _submitted_address():
    """Whose failures an attempt counts among: the address's strangers, or the one browser
    that has logged in to it before (its device cookie)."""
    try:
        device = _device_signer().loads(request.cookies.get(DEVICE_COOKIE, ""))
    except BadSignature:
        device = None
    if isinstance(device, dict) and device.get("address") == typed_address():
        return f"login:{typed_address()}:device:{device.get('nonce')}"
    return f"login:{typed_address()}"


def _remember_device(response, address):
    """The browser that just logged in counts its own failures for this address from now
    on."""
    cookie = _device_signer().dumps({"address": address, "nonce": secrets.token_urlsafe(12)})
    response.set_cookie(DEVICE_COOKIE, cookie, max_age=DEVICE_SECONDS, path="/login",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True,
                        samesite="Lax")
    return response


def sso_name():
    """The identity provider's name for "Sign in with …", when single sign-on is set."""
    return current_app.config["OIDC_NAME"] if current_app.config.get("OIDC_ISSUER") else None


def _failed(response):
    """Only failed attempts count: a login that works answers with a redirect."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=_submitted_address,
               methods=["POST"], deduct_when=_failed, scope="login-address")
@limiter.limit(lambda: current_app.config["LOGIN_IP_RATE_LIMIT"], key_func=get_remote_address,
               methods=["POST"], deduct_when=_failed, scope="login-ip")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("credentials.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(sa.select(User).where(User.email == form.email.data.lower()))
        password = form.password.data
        if user.check_password(password) if user else check_unknown_password(password):
            db.session.rollback()  # SQLite: end the read; the entry is written with the lock
            write_lock()
            audit.record("login", person=user)
            db.session.commit()
            session.clear()  # nothing from before the login carries over into it
            login_user(user)
            return _remember_device(redirect(_safe_next(request.args.get("next"))
                                             or url_for("credentials.index")), user.email)
        if user is not None and user.removed_at is None:  # an attempt on a person of ours
            audit.note_failed_login(user)
        form.password.errors.append("Wrong email or password.")
    return render_template("auth/login.html", form=form, sso_name=sso_name()), \
        200 if request.method == "GET" else 422


@bp.post("/logout")
@login_required
def logout():
    current_user.end_sessions()  # every copy of the cookie stops working, not just this one
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))
