"""The organization's API keys on the Settings page: create (shown once) and revoke."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

import audit
from forms import RoleForm
from models import ApiKey, User, db
from models.states import Role
from models.types import utcnow

bp = Blueprint("apikeys", __name__, url_prefix="/settings/api-keys")
NO_STORE = {"Cache-Control": "no-store"}  # a new key must not stay in a cache


def _org_keys():
    """Every key of the organization's issuers, newest first."""
    return db.session.scalars(
        sa.select(ApiKey).join(User).where(User.org_id == current_user.org_id)
        .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc())
        .options(sa.orm.contains_eager(ApiKey.user))).all()


def _page(**context):
    return render_template("settings/api_keys.html", keys=_org_keys(), form=RoleForm(
        formdata=None, role=Role.ISSUER.value), **context)


@bp.get("/")
@login_required
def index():
    return _page(new_key=None), 200, NO_STORE


@bp.post("/")
@login_required
def create():
    """A key with a role for the owner who asks; its text is shown on this answer only."""
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    row, key = ApiKey.issue(current_user, form.role.data)
    db.session.flush()
    audit.record("apikey.create", changes={"key": row.label, "role": row.role})
    db.session.commit()
    return _page(new_key=key, new_row=row), 201, NO_STORE


@bp.post("/<int:key_id>/revoke")
@login_required
def revoke(key_id):
    key = db.session.scalar(sa.select(ApiKey).join(User).where(
        ApiKey.id == key_id, User.org_id == current_user.org_id))
    if key is None:
        abort(404)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record("apikey.revoke", changes={"key": key.label})
        db.session.commit()
    flash(f"Key {key.label} revoked: programs using it get 401 from now on.")
    return redirect(url_for("apikeys.index"))
