"""Provider events, the mail providers' webhooks for late bounces, complaints and deliveries
(DESIGN.md): each off (404) until its secret is set, verified before anything is read,
applied once."""

from flask import Blueprint, abort, current_app, jsonify, request

from bounces import provider_events
from bounces.apply import apply_all
from views.errors import json_error

bp = Blueprint("provider_events", __name__, url_prefix="/webhooks")


@bp.post("/<provider>")
def receive(provider):
    """Verify a provider's request and apply its events; events about messages we do not
    know are answered 200 and ignored, as providers expect."""
    if provider not in provider_events.PROVIDERS or not provider_events.enabled(provider):
        abort(404)
    try:
        verified = provider_events.PROVIDERS[provider](request.headers, request.get_data())
    except provider_events.Refused as refused:
        return json_error(refused.status, str(refused))
    except OSError as error:  # SNS's certificate or confirmation URL did not answer
        current_app.logger.warning("provider event %s: %s", provider, error)
        return json_error(502, "Could not reach SNS; try again.")
    if not (verified.findings or verified.once):
        return jsonify({"events": 0, "outcome": "nothing"})
    (outcome,) = apply_all(provider, [verified.findings], once=verified.once)
    if outcome == "replayed":
        return json_error(403, "This signature was used before: refused.")
    return jsonify({"events": len(verified.findings), "outcome": outcome})
