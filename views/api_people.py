"""JSON API v1 for the organization's people (invite, change a role, remove) and its audit
log; owner keys only (team.roles)."""

from flask import Blueprint, g, jsonify, request

import audit
import jobs
from models import db
from models.types import iso
from team import people
from validation import InvalidInput
from views import api_auth
from views.api import int_arg
from views.errors import ApiError, json_object

bp = Blueprint("api_people", __name__, url_prefix="/api/v1")
api_auth.limit(bp)
bp.before_request(api_auth.authenticate)


def as_json(person):
    return {"id": person.id, "email": person.email, "role": person.role,
            "invited_at": iso(person.invited_at), "joined_at": iso(person.joined_at),
            "created_at": iso(person.created_at)}


def _person(user_id):
    person = people.find(g.org_id, user_id)
    if person is None:
        raise ApiError(404, "No such person.")
    return person


def _field(body, name, clean):
    try:
        return clean(body.get(name))
    except InvalidInput as error:
        raise ApiError(422, "Some fields are not valid.", {name: str(error)}) from None


@bp.get("/people")
def index():
    return jsonify({"items": [as_json(person) for person in people.of_org(g.org_id)]})


@bp.post("/people")
def invite():
    """Add a person with a role; the invitation goes out through the queue."""
    body = json_object()
    role = _field(body, "role", people.clean_role)
    try:
        person = people.invite(g.org_id, body.get("email"), role, g.api_user)
    except InvalidInput as error:
        raise ApiError(422, "Some fields are not valid.", {"email": str(error)}) from None
    except people.Conflict as error:
        raise ApiError(409, str(error)) from None
    jobs.commit()
    return jsonify(as_json(person)), 201


@bp.patch("/people/<int:user_id>")
def change(user_id):
    """Give a person another role (the last owner stays one)."""
    person = _person(user_id)
    role = _field(json_object(), "role", people.clean_role)
    try:
        people.change_role(person, role)
    except people.Conflict as error:
        raise ApiError(409, str(error)) from None
    db.session.commit()
    return jsonify(as_json(person))


@bp.delete("/people/<int:user_id>")
def remove(user_id):
    """Remove a person: their sessions and keys end at once (the last owner stays)."""
    try:
        people.remove(_person(user_id))
    except people.Conflict as error:
        raise ApiError(409, str(error)) from None
    db.session.commit()
    return "", 204


@bp.get("/audit")
def audit_log():
    """The audit log, newest first: ?actor=&action=&credential_id=&page=&per_page=."""
    credential_id = int_arg("credential_id", None, 1, 2**62)
    page, per_page = int_arg("page", 1, 1, 10**6), int_arg("per_page", 50, 1, 500)
    entries, total = audit.page_of(g.org_id, request.args.get("actor", "")[:254],
                                   request.args.get("action", "")[:40], credential_id,
                                   page, per_page)
    return jsonify({"items": [audit.as_json(entry) for entry in entries], "total": total,
                    "page": page, "per_page": per_page})
