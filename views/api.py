"""JSON API v1: bearer-key auth, scoped to the key's organization (DESIGN.md)."""

from datetime import UTC, datetime

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

import validation
from mailer.typos import suggest_address
from models import ApiKey, Credential, CredentialGroup, db
from models.credential import StateError
from models.status import EmailStatus
from validation import InvalidInput
from views.queries import credential_or_404, page_of, status_counts

bp = Blueprint("api", __name__, url_prefix="/api/v1")
BULK_MAX = 1000


class ApiError(Exception):
    """An error answered as DESIGN.md's JSON error body."""

    def __init__(self, status, message, fields=None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


@bp.errorhandler(ApiError)
def _api_error(error):
    return jsonify({"error": {"message": error.message, "fields": error.fields}}), error.status


@bp.app_errorhandler(HTTPException)
def _http_error(error):
    """JSON errors under /api/, the usual pages elsewhere."""
    if not request.path.startswith("/api/"):
        return error
    return _api_error(ApiError(error.code, error.description))


@bp.before_request
def authenticate():
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    api_key = ApiKey.find(key.strip()) if scheme.lower() == "bearer" else None
    if api_key is None:
        raise ApiError(401, "Missing or wrong API key: send 'Authorization: Bearer <key>'.")
    g.api_user = api_key.user
    g.org_id = api_key.user.org_id


def _body():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return data


def _check(fields, name, clean, *args):
    """Apply a rule to one field, collecting its message instead of raising."""
    try:
        return clean(*args)
    except InvalidInput as error:
        fields[name] = str(error)
        return None


def validate_issue(item):
    """Clean one credential to create; (values, field errors)."""
    if not isinstance(item, dict):
        return None, {"_": "Each credential must be a JSON object."}
    fields = {}
    values = {
        "recipient_name": _check(fields, "recipient_name", validation.clean_text,
                                 item.get("recipient_name")),
        "recipient_email": _check(fields, "recipient_email", validation.clean_email,
                                  item.get("recipient_email")),
        "group": _check(fields, "group", validation.clean_text, item.get("group"), "Group"),
        "action": _check(fields, "action", validation.clean_action, item.get("action", "draft")),
        "send_email": item.get("send_email", True),
        "scheduled_at": None,
    }
    if not isinstance(values["send_email"], bool):
        fields["send_email"] = "send_email must be true or false."
    if values["action"] == "schedule":
        values["scheduled_at"] = _check(fields, "scheduled_at", validation.clean_future_time,
                                        item.get("scheduled_at"), datetime.now(UTC))
    return values, fields


def _create(values, groups):
    group = groups.get(values["group"])
    if group is None:
        group = groups[values["group"]] = CredentialGroup.get_or_create(g.org_id, values["group"])
    return Credential.issue(g.org_id, values["recipient_name"], values["recipient_email"],
                            group, values["action"], values["scheduled_at"],
                            values["send_email"], g.api_user)


def as_json(credential):
    """DESIGN.md's credential object."""
    status = credential.status
    return {
        "id": credential.id,
        "recipient_name": credential.recipient_name,
        "recipient_email": credential.recipient_email,
        "group": credential.group.name,
        "issue_state": credential.issue_state,
        "scheduled_at": _iso(credential.scheduled_at),
        "published_at": _iso(credential.published_at),
        "created_at": _iso(credential.created_at),
        "send_email": credential.send_email,
        "email_status": status.value,
        "email_status_label": status.label,
        "bounce_reason": credential.bounce_reason,
        "email_suggestion": suggest_address(credential.recipient_email),
    }


def _iso(moment):
    return moment.isoformat() if moment else None


@bp.post("/credentials")
def create():
    values, fields = validate_issue(_body())
    if fields:
        raise ApiError(422, "Some fields are not valid.", fields)
    credential = _create(values, {})
    db.session.commit()
    return jsonify(as_json(credential)), 201


@bp.post("/credentials/bulk")
def create_bulk():
    items = _body().get("credentials")
    if not isinstance(items, list):
        raise ApiError(400, "'credentials' must be a list.")
    if len(items) > BULK_MAX:
        raise ApiError(413, f"At most {BULK_MAX} credentials per call; got {len(items)}.")
    results, groups = [], {}
    for index, item in enumerate(items):
        values, fields = validate_issue(item)
        if fields:
            message = "; ".join(f"{k}: {v}" for k, v in fields.items())
            results.append({"index": index, "error": {"message": message, "fields": fields}})
        else:
            results.append({"index": index, "credential": _create(values, groups)})
    db.session.commit()
    for result in results:
        if "credential" in result:
            result["id"] = result.pop("credential").id
    return jsonify({"results": results})


def _int_arg(name, default, low, high):
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ApiError(422, f"{name} must be a whole number from {low} to {high}.",
                       {name: f"must be a whole number from {low} to {high}"})
    return value


@bp.get("/credentials")
def index():
    status = request.args.get("email_status", "")
    if status and status not in {s.value for s in EmailStatus}:
        raise ApiError(422, "Unknown email_status.", {"email_status": "must be one of "
                       + ", ".join(s.value for s in EmailStatus)})
    text = request.args.get("q", "").strip()
    if len(text) > 200:
        raise ApiError(422, "q is too long.", {"q": "at most 200 characters"})
    page = _int_arg("page", 1, 1, 10**6)
    per_page = _int_arg("per_page", 50, 1, 500)
    items, total = page_of(g.org_id, status, text, page, per_page)
    return jsonify({"items": [as_json(c) for c in items], "total": total, "page": page,
                    "per_page": per_page})


@bp.get("/credentials/<int:credential_id>")
def show(credential_id):
    return jsonify(as_json(credential_or_404(g.org_id, credential_id)))


@bp.patch("/credentials/<int:credential_id>")
def update(credential_id):
    credential = credential_or_404(g.org_id, credential_id)
    body = _body()
    if "recipient_email" not in body:
        raise ApiError(422, "Nothing to change.", {"recipient_email": "is required"})
    fields = {}
    address = _check(fields, "recipient_email", validation.clean_email, body["recipient_email"])
    if fields:
        raise ApiError(422, "Some fields are not valid.", fields)
    credential.change_email(address, g.api_user)
    db.session.commit()
    return jsonify(as_json(credential))


@bp.post("/credentials/<int:credential_id>/publish")
def publish(credential_id):
    credential = credential_or_404(g.org_id, credential_id)
    body = _body() if request.get_data() else {}
    send_email = body.get("send_email", credential.send_email)
    if not isinstance(send_email, bool):
        raise ApiError(422, "Some fields are not valid.",
                       {"send_email": "send_email must be true or false."})
    try:
        credential.publish(send_email, g.api_user)
    except StateError as error:
        raise ApiError(409, str(error)) from None
    db.session.commit()
    return jsonify(as_json(credential))


@bp.post("/credentials/<int:credential_id>/resend")
def resend(credential_id):
    credential = credential_or_404(g.org_id, credential_id)
    body = _body() if request.get_data() else {}
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ApiError(422, "Some fields are not valid.", {"force": "must be true or false"})
    try:
        credential.resend(g.api_user, force=force)
    except StateError as error:
        raise ApiError(409, str(error)) from None
    db.session.commit()
    return jsonify(as_json(credential)), 202


@bp.get("/credentials/<int:credential_id>/events")
def events(credential_id):
    credential = credential_or_404(g.org_id, credential_id)
    return jsonify([event.as_json() for event in credential.events()])


@bp.get("/email-statuses")
def email_statuses():
    return jsonify(status_counts(g.org_id))

