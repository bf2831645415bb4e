"""JSON API v1: the organization's sender domain as receivers see it (ownership, DKIM, SPF,
DMARC) and whether the reputation guard has paused its sending."""

from flask import Blueprint, current_app, g, jsonify

import audit
import reputation
from mailer import authentication
from models import Organization, db
from views import api_auth

bp = Blueprint("api_sender", __name__, url_prefix="/api/v1")
api_auth.limit(bp)
bp.before_request(api_auth.authenticate)


@bp.get("/organization/sender")
def sender():
    """{domain, verified, dkim, spf, dmarc, paused} (DESIGN.md, "Deliverability")."""
    org = db.session.get(Organization, g.org_id)
    records = authentication.report(org, current_app.config) if org.sender_domain else None
    dkim = {name: (records["dkim"][name] if records else None)
            for name in ("selector", "record_name", "record_value")}
    dkim["found"] = bool(org.dkim_found_at)
    unread = {"record": None, "ok": False, "advice": "No sender domain: set a sender address."}
    return jsonify({
        "domain": org.sender_domain, "verified": org.sender_verified, "dkim": dkim,
        "spf": records["spf"] if records else unread,
        "dmarc": records["dmarc"] if records else unread,
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
