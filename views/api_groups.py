"""JSON API v1 for groups (what their credentials award, their validity and their own
email) and the organization's email template and logo, scoped to the key's organization."""

import sqlalchemy as sa
from flask import Blueprint, g, jsonify, request, url_for

import audit
import branding
import languages
import validation
from mailer import wording
from models import CredentialGroup, Organization, db
from models.types import iso, utcnow
from views import api_auth
from views.email_template import preview
from views.errors import ApiError, json_object

bp = Blueprint("api_groups", __name__, url_prefix="/api/v1")
api_auth.limit(bp)
bp.before_request(api_auth.authenticate)


def _validity(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 1 <= value <= validation.VALIDITY_MAX:
        raise validation.InvalidInput(
            f"validity_months must be a whole number from 1 to {validation.VALIDITY_MAX}, "
            "or null (for good).")
    return value


def _or_none(clean):
    """A rule that also takes null (the organization's template, for a group's email)."""
    return lambda value: None if value is None else clean(value)


# Each field a group takes, with its rule.
FIELDS = {"name": lambda value: validation.clean_text(value, "Group"),
          "description": validation.clean_description,
          "criteria": _or_none(lambda value: validation.clean_description(value, "Criteria")),
          "validity_months": _validity,
          "language": languages.clean_language,
          "email_subject": _or_none(wording.clean_subject),
          "email_message": _or_none(wording.clean_message)}


def as_json(group):
    return {"id": group.id, "name": group.name, "description": group.description,
            "criteria": group.criteria, "validity_months": group.validity_months,
            "language": group.language,
            "email_subject": group.email_subject, "email_message": group.email_message,
            "created_at": iso(group.created_at)}


def _cleaned(body, rules):
    """The body's known fields, cleaned; 422 naming every field that is not valid."""
    values, fields = {}, {}
    for name, clean in rules.items():
        if name in body:
            try:
                values[name] = clean(body[name])
            except validation.InvalidInput as error:
                fields[name] = str(error)
    if fields:
        raise ApiError(422, "Some fields are not valid.", fields)
    return values


def _group_or_404(group_id):
    group = db.session.scalar(sa.select(CredentialGroup).where(
        CredentialGroup.org_id == g.org_id, CredentialGroup.id == group_id))
    if group is None:
        raise ApiError(404, "No such group.")
    return group


@bp.get("/groups")
def groups():
    return jsonify({"items": [as_json(group) for group in CredentialGroup.for_org(g.org_id)]})


@bp.post("/groups")
def create_group():
    """Make a group (its name is required and unique in the organization)."""
    body = json_object()
    if "name" not in body:
        raise ApiError(422, "Some fields are not valid.", {"name": "A group needs a name."})
    values = _cleaned(body, FIELDS)
    if CredentialGroup.name_taken(g.org_id, values["name"]):
        raise ApiError(409, "The organization has a group of that name.")
    group = CredentialGroup(org_id=g.org_id, created_at=utcnow(), **values)
    db.session.add(group)
    audit.record("group.create", changes=values)
    db.session.commit()
    return jsonify(as_json(group)), 201


@bp.patch("/groups/<int:group_id>")
def change_group(group_id):
    """Change the fields given (a null email field: the organization's template)."""
    group = _group_or_404(group_id)
    values = _cleaned(json_object(), FIELDS)
    if "name" in values and CredentialGroup.name_taken(g.org_id, values["name"], group.id):
        raise ApiError(409, "The organization has a group of that name.")
    audit.record("group.change", changes={"group": group.name,
                                          **audit.changed(group, values)})
    for name, value in values.items():
        setattr(group, name, value)
    db.session.commit()
    return jsonify(as_json(group))


@bp.put("/organization/template")
def organization_template():
    """The organization's email; null for a part: ours."""
    values = _cleaned(json_object(), {"subject": _or_none(wording.clean_subject),
                                "message": _or_none(wording.clean_message)})
    org = db.session.get(Organization, g.org_id)
    audit.record("template.change", changes=audit.changed(org, {
        "email_subject": values.get("subject"), "email_message": values.get("message")}))
    org.email_subject, org.email_message = values.get("subject"), values.get("message")
    db.session.commit()
    subject, message = wording.templates_for(org, None)
    return jsonify({"subject": subject, "message": message})


@bp.post("/templates/preview")
def preview_template():
    """{subject, html, text} of a template for a sample recipient (of a group, if given)."""
    body = json_object()
    group = None
    if body.get("group_id") is not None:
        if isinstance(body["group_id"], bool) or not isinstance(body["group_id"], int):
            raise ApiError(422, "Some fields are not valid.",
                           {"group_id": "group_id must be a group's id."})
        group = _group_or_404(body["group_id"])
    org = db.session.get(Organization, g.org_id)
    subject, message = wording.templates_for(org, group)
    words, error = preview(body.get("subject", subject), body.get("message", message), org,
                           group)
    if error:
        field = "subject" if error.startswith("Subject") else "message"
        raise ApiError(422, "Some fields are not valid.", {field: error})
    return jsonify(words._asdict())


@bp.post("/organization/logo")
def organization_logo():
    """The organization's logo from the multipart field file (checked, drawn again)."""
    upload = request.files.get("file")
    org = db.session.get(Organization, g.org_id)
    try:
        branding.set_logo(org, upload.read(branding.LOGO_MAX_BYTES + 1) if upload else b"")
    except validation.InvalidInput as error:
        raise ApiError(422, "The logo is not valid.", {"file": str(error)}) from None
    audit.record("brand.change", changes={"logo": "new"})
    db.session.commit()
    return jsonify({"url": url_for("brand.logo", public_id=org.public_id,
                                   v=org.brand_version, _external=True),
                    "width": org.logo_width, "height": org.logo_height})
