"""JSON API v1: bearer-key auth, scoped to the key's organization (DESIGN.md)."""

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, g, jsonify, request

import analytics
import issuing
import jobs
import validation
from models import Credential, CredentialGroup, db
from models.states import IssueState
from models.status import EmailStatus
from models.words import ALREADY_PUBLISHED, RESEND_REFUSALS, revocation_refusal
from validation import InvalidInput
from views import api_auth
from views.errors import ApiError, json_object
from views.queries import credential_or_404, page_of, status_counts

bp = Blueprint("api", __name__, url_prefix="/api/v1")
BULK_MAX = 1000


api_auth.limit(bp)
bp.before_request(api_auth.authenticate)


def _check(fields, name, clean, *args):
    """Apply a rule to one field, collecting its message instead of raising."""
    try:
        return clean(*args)
    except InvalidInput as error:
        fields[name] = str(error)
        return None


def validate_issue(item):
    """Clean one credential to create; (NewCredential or None, field errors)."""
    if not isinstance(item, dict):
        return None, {"_": "Each credential must be a JSON object."}
    fields = {}
    name = _check(fields, "recipient_name", validation.clean_text, item.get("recipient_name"))
    email = _check(fields, "recipient_email", validation.clean_email,
                   item.get("recipient_email"))
    group = _check(fields, "group", validation.clean_text, item.get("group"), "Group")
    action = _check(fields, "action", validation.clean_action, item.get("action", "draft"))
    send_email = item.get("send_email", True)
    if not isinstance(send_email, bool):
        fields["send_email"] = "send_email must be true or false."
    scheduled_at = None
    if action == "schedule":
        scheduled_at = _check(fields, "scheduled_at", validation.clean_future_time,
                              item.get("scheduled_at"), datetime.now(UTC))
    expires_at = _check(fields, "expires_at", validation.clean_expiry, item.get("expires_at"))
    if fields:
        return None, fields
    return issuing.NewCredential(name, email, group, action, scheduled_at, send_email,
                                 expires_at), fields


def _issue(new_credentials):
    """Issue the valid credentials of a call as one set; return their ids."""
    ids = issuing.issue_new(db.session.connection(), g.org_id, g.api_user.id, new_credentials)
    jobs.commit()
    return ids


def as_json(credential):
    """DESIGN.md's credential object (the model's, shared with outbound webhooks)."""
    return credential.as_json()


@bp.post("/credentials")
def create():
    new_credential, fields = validate_issue(json_object())
    if fields:
        raise ApiError(422, "Some fields are not valid.", fields)
    (credential_id,) = _issue([new_credential])
    return jsonify(as_json(db.session.get(Credential, credential_id))), 201


@bp.post("/credentials/bulk")
def create_bulk():
    items = json_object().get("credentials")
    if not isinstance(items, list):
        raise ApiError(400, "'credentials' must be a list.")
    if len(items) > BULK_MAX:
        raise ApiError(413, f"At most {BULK_MAX} credentials per call; got {len(items)}.")
    results, valid = [], []
    for index, item in enumerate(items):
        new_credential, fields = validate_issue(item)
        if fields:
            message = "; ".join(f"{k}: {v}" for k, v in fields.items())
            results.append({"index": index, "error": {"message": message, "fields": fields}})
        else:
            results.append({"index": index})
            valid.append((results[-1], new_credential))
    ids = _issue([new_credential for _, new_credential in valid])
    for (result, _), credential_id in zip(valid, ids, strict=True):
        result["id"] = credential_id
    return jsonify({"results": results})


def int_arg(name, default, low, high):
    """A whole-number query argument within bounds, or 422 naming it."""
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
    page = int_arg("page", 1, 1, 10**6)
    per_page = int_arg("per_page", 50, 1, 500)
    # The next page after a given one: by the cursor the previous answer gave (no page
    # number to count up to, however deep), or by number.
    cursor = int_arg("cursor", None, 1, 2**63 - 1)
    if cursor is not None and "page" in request.args:
        raise ApiError(422, "Give page or cursor, not both.", {"cursor": "without page"})
    items, total = page_of(g.org_id, status, text, page, per_page, before=cursor)
    return jsonify({"items": [as_json(c) for c in items], "total": total,
                    "page": None if cursor else page, "per_page": per_page,
                    "next_cursor": items[-1].id if len(items) == per_page else None})


@bp.get("/credentials/<int:credential_id>")
def show(credential_id):
    return jsonify(as_json(credential_or_404(g.org_id, credential_id)))


# What PATCH may change, each with its rule.
CHANGEABLE = {"recipient_email": validation.clean_email, "recipient_name": validation.clean_text,
              "group": lambda value: validation.clean_text(value, "Group"),
              "expires_at": validation.clean_expiry}


@bp.patch("/credentials/<int:credential_id>")
def update(credential_id):
    """Change the address (sends nothing), the name, the expiry, or a draft's group."""
    credential = credential_or_404(g.org_id, credential_id)
    body = json_object()
    asked = [name for name in CHANGEABLE if name in body]
    if not asked:
        raise ApiError(422, "Nothing to change.", {name: "may be changed"
                                                   for name in CHANGEABLE})
    fields = {}
    values = {name: _check(fields, name, CHANGEABLE[name], body[name]) for name in asked}
    if fields:
        raise ApiError(422, "Some fields are not valid.", fields)
    if "group" in values and credential.issue_state != IssueState.DRAFT:
        raise ApiError(409, "Only a draft's group can change: revoke this credential and "
                       "issue one in the other group.")
    connection = db.session.connection()
    if "recipient_email" in values:
        issuing.change_address(connection, credential.id, values["recipient_email"],
                               g.api_user.id)
    if "recipient_name" in values:
        issuing.rename(connection, credential.id, values["recipient_name"], g.api_user.id)
    if "expires_at" in values:
        issuing.set_expiry(connection, credential.id, values["expires_at"])
    if "group" in values:
        issuing.move_drafts(connection, [credential.id], issuing.group_named(
            connection, g.org_id, values["group"]))
    db.session.commit()
    return jsonify(as_json(credential))


@bp.delete("/credentials/<int:credential_id>")
def delete(credential_id):
    """Delete a draft (a published credential is revoked instead)."""
    credential = credential_or_404(g.org_id, credential_id)
    if not issuing.delete_drafts(db.session.connection(), [credential.id]):
        raise ApiError(409, "Only a draft can be deleted: revoke a published credential.")
    db.session.commit()
    return "", 204


@bp.post("/credentials/<int:credential_id>/revoke")
def revoke(credential_id):
    """Revoke with a reason: anyone who checks the credential sees it is revoked, and why."""
    credential = credential_or_404(g.org_id, credential_id)
    fields = {}
    reason = _check(fields, "reason", validation.clean_reason, json_object().get("reason"))
    if fields:
        raise ApiError(422, "Some fields are not valid.", fields)
    if not issuing.revoke(db.session.connection(), [credential.id], reason, g.api_user.id):
        raise ApiError(409, revocation_refusal(credential))
    jobs.commit()
    return jsonify(as_json(credential))


@bp.post("/credentials/<int:credential_id>/reinstate")
def reinstate(credential_id):
    """Make a revoked credential valid again."""
    credential = credential_or_404(g.org_id, credential_id)
    if not issuing.reinstate(db.session.connection(), [credential.id], g.api_user.id):
        raise ApiError(409, "The credential is not revoked.")
    jobs.commit()
    return jsonify(as_json(credential))


@bp.post("/credentials/<int:credential_id>/publish")
def publish(credential_id):
    credential = credential_or_404(g.org_id, credential_id)
    body = json_object() if request.get_data() else {}
    send_email = body.get("send_email", credential.send_email)
    if not isinstance(send_email, bool):
        raise ApiError(422, "Some fields are not valid.",
                       {"send_email": "send_email must be true or false."})
    if not issuing.publish(db.session.connection(), [credential.id], g.api_user.id, send_email):
        raise ApiError(409, ALREADY_PUBLISHED)
    jobs.commit()
    return jsonify(as_json(credential))


@bp.post("/credentials/<int:credential_id>/resend")
def resend(credential_id):
    credential = credential_or_404(g.org_id, credential_id)
    body = json_object() if request.get_data() else {}
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ApiError(422, "Some fields are not valid.", {"force": "must be true or false"})
    refusal = credential.resend_refusal(force)
    if refusal:
        raise ApiError(409, RESEND_REFUSALS[refusal][0])
    issuing.resend(db.session.connection(), [credential], g.api_user.id,
                   cause="forced" if force else None, force=force)
    jobs.commit()
    return jsonify(as_json(credential)), 202


@bp.get("/credentials/<int:credential_id>/events")
def events(credential_id):
    credential = credential_or_404(g.org_id, credential_id)
    return jsonify([event.as_json() for event in credential.events()])


@bp.get("/email-statuses")
def email_statuses():
    return jsonify(status_counts(g.org_id))



@bp.get("/groups/<int:group_id>/stats")
def group_stats(group_id):
    """One group's funnel and its opens and views per day (the Analytics page's numbers)."""
    group = db.session.scalar(sa.select(CredentialGroup).filter_by(id=group_id,
                                                                   org_id=g.org_id))
    if group is None:
        raise ApiError(404, "No such group.")
    (funnel,) = analytics.funnels(g.org_id, group.id)
    days = [{"date": day.isoformat(), **counts}
            for day, counts in analytics.daily(g.org_id, group.id)]
    return jsonify({**funnel.as_json(), "daily": days})
