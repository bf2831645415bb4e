"""An organization's brand as files anyone may fetch: its logo (emails and pages show it),
its groups' badge images (their Open Badges name them) and the stylesheet of its colour,
named by its public id and a version."""

import sqlalchemy as sa
from flask import Blueprint, abort, current_app

import branding
from extensions import limiter
from models import CredentialGroup, Organization, db

bp = Blueprint("brand", __name__, url_prefix="/brand")
limiter.shared_limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"], scope="public")(bp)
# The version in each link names a new file when the brand changes: a day's caching is safe.
CACHED = {"Cache-Control": "public, max-age=86400"}


def _org(public_id):
    if len(public_id) > 64:
        abort(404)
    return db.first_or_404(sa.select(Organization).where(Organization.public_id == public_id))


@bp.get("/<public_id>/logo.png")
def logo(public_id):
    png = branding.logo_png(_org(public_id))
    if png is None:
        abort(404)
    return png, 200, {"Content-Type": "image/png", **CACHED}


@bp.get("/<public_id>/groups/<int:group_id>.png")
def badge_image(public_id, group_id):
    """A group's badge image (its Open Badges' achievement image)."""
    png = db.session.scalar(sa.select(CredentialGroup.image_png).where(
        CredentialGroup.org_id == _org(public_id).id, CredentialGroup.id == group_id))
    if png is None:
        abort(404)
    return png, 200, {"Content-Type": "image/png", **CACHED}


@bp.get("/<public_id>/brand.css")
def stylesheet(public_id):
    colour = _org(public_id).brand_colour
    if colour is None:
        abort(404)
    return branding.stylesheet(colour), 200, {"Content-Type": "text/css; charset=utf-8",
                                              **CACHED}
