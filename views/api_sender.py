"""JSON API v1: the organization's sender domain as receivers see it (ownership, DKIM, SPF,
DMARC) and whether the reputation guard has paused its sending."""

from flask import Blueprint, current_app, g, jsonify

import audit
import reputation
from mailer import authentication
from models import Organization, db
from views import api_auth

DKIM_FIELDS = ("selector", "record_name", "record_value", "found")
bp = Blueprint("api_sender", __name__, url_prefix="/api/v1")
api_auth.limit(bp)
bp.before_request(api_auth.authenticate)


@bp.get("/organization/sender")
def sender():
    """{domain, verified, dkim, spf, dmarc, paused} (DESIGN.md, "Deliverability")."""
    org = db.session.get(Organization, g.org_id)
    records = authentication.report(org, current_app.config)
    return jsonify({
        "domain": org.sender_domain, "verified": org.sender_verified,
        "dkim": {name: records["dkim"][name] for name in DKIM_FIELDS},
        "spf": records["spf"], "dmarc": records["dmarc"],
        "paused": reputation.paused_state(org),
    })


@bp.post("/organization/resume-sending")
def resume_sending():
    """Let the organization send again after its reputation guard paused it (owner keys)."""
    org = db.session.get(Organization, g.org_id)
    if (reason := reputation.resume(org)) is not None:
        audit.record("settings.resume_sending", changes={"paused_reason": [reason, None]})
        db.session.commit()
    return jsonify({"paused": reputation.paused_state(org)})
