"""What recipients touch: the tracking image, the link in the email, the credential page."""

import base64
import functools
import io

import limits
import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_limiter.util import get_remote_address
from werkzeug.utils import secure_filename

import certificate
import languages
from extensions import limiter
from headers import no_store
from models import Credential, db
from models.states import EventType, IssueState
from models.types import utcnow
from openbadges import verify
from tracking import engagement, opens

bp = Blueprint("tracking", __name__)
PUBLIC_SCOPE = "public"  # one count per address for every public route
# Generous: a privacy proxy fetches many recipients' images from a few addresses.
limiter.shared_limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"], scope=PUBLIC_SCOPE)(bp)
_parsed_limits = functools.lru_cache(maxsize=4)(limits.parse_many)


@limiter.request_filter
def _image_within_public_limit():
    """True when the tracking image is within the public limit, having counted against it."""
    # Flask-Limiter resolves a blueprint's limits anew on every request, which cost the image
    # as much as the rest of its request: the image counts here instead, through the
    # limiter's own strategy and storage, under the key Flask-Limiter gives the blueprint's
    # shared limit. Past it the request is not let off: Flask-Limiter's check refuses it
    # as any other (counting it again against lower limits of a list, as a refusal).
    if request.endpoint != "tracking.pixel":
        return False
    address = get_remote_address()
    return all(limiter.limiter.hit(item, address, PUBLIC_SCOPE)  # in its order, as it does
               for item in sorted(_parsed_limits(current_app.config["PUBLIC_RATE_LIMIT"])))


OWN_PAGE_COOKIE, OWN_PAGE_SECONDS = "recipient", 365 * 24 * 3600
# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@bp.get("/t/<token>.gif")
def pixel(token):
    """Always the same image, never cached; a valid token's open is recorded within a
    second (tracking.batches)."""
    try:
        opens.note_open(current_app._get_current_object(), token,
                        request.headers.get("User-Agent", ""),
                        request.headers.get("Accept-Language", ""))
    except Exception:  # the image must load whatever happens; the log says what
        current_app.logger.exception("could not note an open")
    return PIXEL, 200, {"Content-Type": "image/gif", "Cache-Control": "no-store, max-age=0",
                        "Pragma": "no-cache"}


@bp.get("/r/<token>")
@no_store
def follow(token):
    """The link in the email: counts as an open, then shows the credential."""
    credential_token = opens.follow_link(token, request.user_agent.string,
                                         engagement.person_checker(request))
    if credential_token is None:
        abort(404)
    return redirect(url_for("tracking.credential", token=credential_token))


def _published(column, value):
    """The published credential whose token or public id is value, or 404 (read only: a
    stranger's guess writes nothing)."""
    found = None
    if value and len(value) <= 64:
        found = db.session.scalar(sa.select(Credential).where(
            column == value, Credential.issue_state == IssueState.PUBLISHED))
    if found is None:
        abort(404)
    return found


def _not_revoked(credential):
    """410 for what a revoked credential no longer offers (its PDF, LinkedIn)."""
    if credential.revoked_at is not None:
        abort(410, "This credential was revoked by its issuer.")
    return credential


def _engaged(credential, kind):
    """Record what the recipient did, unless a program did it."""
    if engagement.person(request, engagement.latest_sent_at(credential.id)):
        engagement.record(credential.id, kind, engagement.agent_family(request.user_agent.string))


@bp.get("/c/<token>")
@no_store
def credential(token):
    """The recipient's credential page: download, add to LinkedIn, share."""
    found = _published(Credential.token, token)
    languages.use(found.group.language)
    response = make_response(render_template("tracking/credential.html", credential=found,
                                             public_url=certificate.public_url(found),
                                             now=utcnow()))
    # The recipient checking their own public page is not someone they shared it with:
    # their browser is remembered for that one page (a flag, nothing else).
    response.set_cookie(OWN_PAGE_COOKIE, "1", max_age=OWN_PAGE_SECONDS,
                        path=url_for("tracking.public", public_id=found.public_id),
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True,
                        samesite="Lax")
    return response


@bp.get("/c/<token>.pdf")
@no_store
def download(token):
    """The certificate as a PDF (made once for what it prints: certificate.pdf), counted as
    a download."""
    found = _not_revoked(_published(Credential.token, token))
    body = certificate.pdf(found)
    _engaged(found, EventType.DOWNLOADED)
    return send_file(io.BytesIO(body), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{secure_filename(found.group.name) or 'credential'}.pdf")


@bp.get("/c/<token>/linkedin")
@no_store
def linkedin(token):
    """Our own step on the way to LinkedIn's add-to-profile form, to count the click."""
    found = _not_revoked(_published(Credential.token, token))
    _engaged(found, EventType.LINKEDIN_CLICKED)
    return redirect(certificate.linkedin_url(found))


@bp.get("/v/<public_id>")
def public(public_id):
    """The public verification page: the credential checked as any verifier would check
    its Open Badge, nothing of its tracking."""
    found = _published(Credential.public_id, public_id)
    # The visitor's language when it is one of ours, else the credential's.
    languages.use(languages.visitors() or found.group.language)
    if OWN_PAGE_COOKIE not in request.cookies and engagement.person(request):
        engagement.note_share_view(current_app._get_current_object(), found.id,
                                   engagement.agent_family(request.user_agent.string))
    return render_template("tracking/public.html", credential=found,
                           public_url=certificate.public_url(found), verdict=verify.check(found),
                           now=utcnow())
