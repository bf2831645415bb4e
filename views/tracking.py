"""What recipients touch: the tracking image, the link in the email, the credential page."""

import base64

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from mailer import opens
from mailer.queue import write_lock
from models import Credential, db

bp = Blueprint("tracking", __name__)

# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@bp.get("/t/<token>.gif")
def pixel(token):
    """Always the same image, never cached; a valid token records an open."""
    try:
        write_lock()
        message = opens.find(token)
        if message is not None:
            opens.record_open(message, request.user_agent.string)
            db.session.commit()
    except Exception:  # the image must load whatever happens; the log says what
        db.session.rollback()
        current_app.logger.exception("could not record an open")
    return PIXEL, 200, {"Content-Type": "image/gif", "Cache-Control": "no-store, max-age=0",
                        "Pragma": "no-cache"}


@bp.get("/r/<token>")
def follow(token):
    """The link in the email: counts as an open, then shows the credential."""
    write_lock()
    message = opens.find(token)
    if message is None or message.credential.issue_state != "published":
        abort(404)
    opens.record_open(message, request.user_agent.string, via="link")
    db.session.commit()
    return redirect(url_for("tracking.credential", token=message.credential.token))


@bp.get("/c/<token>")
def credential(token):
    """The recipient's public credential page."""
    found = None
    if token and len(token) <= 64:
        found = db.session.scalar(sa.select(Credential).where(
            Credential.token == token, Credential.issue_state == "published"))
    if found is None:
        abort(404)
    return render_template("tracking/credential.html", credential=found)
