"""What recipients touch: the tracking image, the link in the email, the credential page."""

import base64

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from extensions import limiter
from headers import no_store
from models import Credential, db
from tracking import opens

bp = Blueprint("tracking", __name__)
# Generous: a privacy proxy fetches many recipients' images from a few addresses.
limiter.shared_limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"], scope="public")(bp)

# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@bp.get("/t/<token>.gif")
def pixel(token):
    """Always the same image, never cached; a valid token's open is recorded within a
    fraction of a second (tracking.opens.OpenRecorder)."""
    try:
        opens.recorder(current_app._get_current_object()).note(
            token, request.headers.get("User-Agent", ""))
    except Exception:  # the image must load whatever happens; the log says what
        current_app.logger.exception("could not note an open")
    return PIXEL, 200, {"Content-Type": "image/gif", "Cache-Control": "no-store, max-age=0",
                        "Pragma": "no-cache"}


@bp.get("/r/<token>")
@no_store
def follow(token):
    """The link in the email: counts as an open, then shows the credential."""
    credential_token = opens.follow_link(token, request.user_agent.string)
    if credential_token is None:
        abort(404)
    return redirect(url_for("tracking.credential", token=credential_token))


@bp.get("/c/<token>")
@no_store
def credential(token):
    """The recipient's public credential page."""
    found = None
    if token and len(token) <= 64:
        found = db.session.scalar(sa.select(Credential).where(
            Credential.token == token, Credential.issue_state == "published"))
    if found is None:
        abort(404)
    return render_template("tracking/credential.html", credential=found)
