"""Single sign-on with OpenID Connect (Authlib): the provider's discovery document, the
authorization code flow with state, nonce and PKCE (S256), and only addresses the provider
says are verified. People who sign in join OIDC_ORG with OIDC_DEFAULT_ROLE."""

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, abort, current_app, redirect, render_template, session, url_for
from flask_login import login_user

import audit
from forms import LoginForm
from models import db, write_lock
from team import people
from validation import InvalidInput

bp = Blueprint("sso", __name__, url_prefix="/sso")
oauth = OAuth()
TIMEOUT_SECONDS = 10  # a provider that does not answer must not hold a web worker long


def init_app(app):
    """Register the provider when OIDC_ISSUER is set."""
    oauth.init_app(app)
    config = app.config
    if config["OIDC_ISSUER"]:
        oauth.register(
            "provider", client_id=config["OIDC_CLIENT_ID"],
            client_secret=config["OIDC_CLIENT_SECRET"],
            server_metadata_url=config["OIDC_ISSUER"] + "/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email", "code_challenge_method": "S256",
                           "timeout": TIMEOUT_SECONDS})


def _provider():
    client = oauth.create_client("provider") if current_app.config["OIDC_ISSUER"] else None
    return client or abort(404)


def _refused(reason, status=403):
    """The login page, saying why the sign-in did not let the person in."""
    return render_template("auth/login.html", form=LoginForm(formdata=None),
                           sso_error=reason, sso_name=current_app.config["OIDC_NAME"]), status


@bp.get("/start")
def start():
    """Off to the provider, with a new state, nonce and PKCE verifier kept in the session."""
    callback = current_app.config["PUBLIC_BASE_URL"] + url_for("sso.callback")
    try:
        return _provider().authorize_redirect(callback)
    except (AuthlibBaseError, requests.RequestException, ValueError):
        current_app.logger.exception("single sign-on: the provider's discovery failed")
        return _refused(f"{current_app.config['OIDC_NAME']} does not answer just now. Try "
                        "again in a moment, or log in with your password.", 502)


@bp.get("/callback")
def callback():
    """Back from the provider: the code exchanged, the ID token checked (signature, issuer,
    audience, nonce), then the person signed in if their address is verified."""
    config = current_app.config
    try:
        token = _provider().authorize_access_token()
    except (AuthlibBaseError, requests.RequestException, ValueError) as error:
        current_app.logger.warning("single sign-on refused: %s", error)
        return _refused("The sign-in did not complete (it may have been started in another "
                        "tab, or taken too long). Start it again.")
    claims = token.get("userinfo") or {}
    if claims.get("email_verified") is not True:
        return _refused(f"{config['OIDC_NAME']} has not verified your email address, so it "
                        "cannot sign you in here. Verify it there, or ask an owner to "
                        "invite you.")
    write_lock()  # SQLite: it reads, then writes; no other writer may come between
    try:
        person = people.join_by_sso(claims.get("email"), config["OIDC_ORG"],
                                    config["OIDC_DEFAULT_ROLE"])
    except (InvalidInput, people.Conflict) as error:
        db.session.rollback()
        return _refused(str(error))
    audit.record("login", changes={"via": "sso"}, person=person)
    db.session.commit()
    session.clear()  # nothing from before the login carries over into it
    login_user(person)
    return redirect(url_for("credentials.index"))
