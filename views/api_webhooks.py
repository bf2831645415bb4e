"""JSON API v1 for outbound webhook endpoints, scoped to the key's organization."""

from flask import Blueprint, current_app, g, jsonify, request

import audit
from models import db
from outbound import endpoints
from views import api_auth
from views.errors import ApiError

bp = Blueprint("api_webhooks", __name__, url_prefix="/api/v1/webhooks")
api_auth.limit(bp)
bp.before_request(api_auth.authenticate)


@bp.post("")
def create():
    """Register an endpoint; the answer is the only one that shows its secret."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object with url and events.")
    try:
        endpoint = endpoints.create(g.org_id, body.get("url"), body.get("events"),
                                    current_app.config)
    except endpoints.EndpointError as error:
        raise ApiError(400, "The webhook endpoint is not valid.", error.fields) from None
    audit.record("webhook.create", changes={"url": endpoint.url, "events": endpoint.events})
    db.session.commit()
    return jsonify(endpoint.as_json(secret=True)), 201, {"Cache-Control": "no-store"}


@bp.get("")
def index():
    return jsonify({"items": [e.as_json() for e in endpoints.of_org(g.org_id)]})


@bp.delete("/<int:endpoint_id>")
def delete(endpoint_id):
    """Remove an endpoint, its pending messages and its log."""
    endpoint = endpoints.find(g.org_id, endpoint_id)
    if endpoint is None:
        raise ApiError(404, "No such webhook endpoint.")
    audit.record("webhook.delete", changes={"url": endpoint.url})
    db.session.delete(endpoint)
    db.session.commit()
    return "", 204
