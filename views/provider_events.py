"""Provider events, the mail providers' webhooks for late bounces, complaints and deliveries
(DESIGN.md): each off (404) until its secret is set, verified before anything is read,
applied once."""

from flask import Blueprint, abort, current_app, jsonify, request

from bounces import provider_events
from bounces.apply import apply_all

bp = Blueprint("provider_events", __name__, url_prefix="/webhooks")


@bp.post("/<provider>")
def receive(provider):
    """Verify a provider's request and apply its events; events about messages we do not
    know are answered 200 and ignored, as providers expect."""
    if provider not in provider_events.PROVIDERS or not provider_events.enabled(provider):
        abort(404)
    try:
        keyed = provider_events.PROVIDERS[provider](request.headers, request.get_data())
    except provider_events.Refused as refused:
        return jsonify({"error": {"message": str(refused), "fields": {}}}), refused.status
    except OSError as error:  # SNS's certificate or confirmation URL did not answer
        current_app.logger.warning("provider event %s: %s", provider, error)
        return jsonify({"error": {"message": "Could not reach SNS; try again.",
                                  "fields": {}}}), 502
    (outcome,) = apply_all(provider, [keyed]) if keyed else ["nothing"]
    return jsonify({"events": len(keyed), "outcome": outcome})
