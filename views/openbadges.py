"""Open Badges 3.0 for anyone to check: a credential signed and as JSON, its issuer's
profile and achievement, and the issuer's revocation status lists (DESIGN.md)."""

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify

from extensions import limiter
from models import Credential, CredentialGroup, Organization, db
from models.states import IssueState
from openbadges import documents, keys, signing, status

bp = Blueprint("openbadges", __name__)
limiter.shared_limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"], scope="public")(bp)
# Verifiers run in wallets and other sites' pages too: anyone may read these.
OPEN = {"Access-Control-Allow-Origin": "*"}


def _id_or_404(value):
    if not value or len(value) > 64:
        abort(404)
    return value


def _credential(public_id):
    found = db.session.scalar(sa.select(Credential).where(
        Credential.public_id == _id_or_404(public_id),
        Credential.issue_state == IssueState.PUBLISHED))
    if found is None:
        abort(404)
    return found


def _org(public_id):
    return db.first_or_404(sa.select(Organization).where(
        Organization.public_id == _id_or_404(public_id)))


@bp.get("/v/<public_id>/credential.jwt")
def credential_jwt(public_id):
    """The credential as a signed VC-JWT (a revoked one too: its status list says so)."""
    found = _credential(public_id)
    token = signing.sign(documents.open_badge(found), found.org)
    return token, 200, {"Content-Type": signing.MEDIA_TYPE, "Cache-Control": "no-cache",
                        **OPEN}


@bp.get("/v/<public_id>/credential.json")
def credential_json(public_id):
    """The credential as an OpenBadgeCredential, unsigned (the JWT is its proof)."""
    return jsonify(documents.open_badge(_credential(public_id))), 200, OPEN


@bp.get("/issuers/<public_id>")
def issuer(public_id):
    """The issuer profile with every public key it signed with."""
    org = _org(public_id)
    return jsonify(documents.issuer_profile(org, keys.published_keys(org.id))), 200, OPEN


@bp.get("/issuers/<public_id>/achievements/<int:group_id>")
def achievement(public_id, group_id):
    """An achievement of the issuer: one of its groups."""
    org = _org(public_id)
    group = db.first_or_404(sa.select(CredentialGroup).where(
        CredentialGroup.org_id == org.id, CredentialGroup.id == group_id))
    return jsonify(documents.achievement(group, org)), 200, OPEN


@bp.get("/status/<public_id>/<int:number>")
def status_list(public_id, number):
    """One of the issuer's revocation lists, signed; verifiers check it on every use."""
    org = _org(public_id)
    if number >= status.lists(org):
        abort(404)
    return status.token(org, number), 200, {
        "Content-Type": signing.MEDIA_TYPE, "Cache-Control": "no-cache", **OPEN}
