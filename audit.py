"""The audit log: each change by a person or an API key, with who, when, from which IP and
what changed, added to the change's own transaction (the caller commits both or neither).
Nothing in the app edits or deletes an entry."""

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from flask_login import current_user

from models import AuditEntry, db
from models.types import iso, utcnow
from tracking import batches

ENTRIES = AuditEntry.__table__


def _actor():
    """(org_id, user_id, api_key_id, actor) of who makes the request's changes, or None."""
    key = g.get("api_key") if has_request_context() else None
    if key is not None:
        return key.user.org_id, key.user_id, key.id, key.label
    if has_request_context() and current_user.is_authenticated:
        return current_user.org_id, current_user.id, None, current_user.email
    return None


def _rows(action, credential_ids, changes, actor):
    org_id, user_id, api_key_id, name = actor
    now, ip = utcnow(), request.remote_addr if has_request_context() else None
    return [{"org_id": org_id, "at": now, "action": action, "user_id": user_id,
             "api_key_id": api_key_id, "actor": name, "ip": ip, "credential_id": credential_id,
             "changes": changes} for credential_id in credential_ids]


def record(action, credential_ids=(None,), changes=None, person=None, connection=None):
    """Add entries of the action (one per credential it touched, or one) by who makes the
    request, or by the person named (a login); nothing outside a person's or key's
    request (the background jobs change only what people asked them to)."""
    actor = (person.org_id, person.id, None, person.email) if person else _actor()
    rows = _rows(action, credential_ids, changes, actor) if actor else []
    if rows:
        (connection or db.session.connection()).execute(sa.insert(ENTRIES), rows)


def note_failed_login(person):
    """A failed login on a person's address: a stranger's request, which changes nothing,
    so its entry is noted and written within a moment, never waiting for the write lock
    (tracking.batches)."""
    failed = batches.batch(current_app._get_current_object(), "failed logins",
                           lambda connection, rows: connection.execute(sa.insert(ENTRIES), rows))
    failed.note(_rows("login.failed", (None,), None,
                      (person.org_id, person.id, None, person.email))[0])


def changed(row, values):
    """{field: [before, after]} of the values that differ from the row's (settings)."""
    return {name: [getattr(row, name), value] for name, value in values.items()
            if getattr(row, name) != value}


def page_of(org_id, actor=None, action=None, credential_id=None, page=1, per_page=50):
    """(entries newest first, total) of the organization's log, filtered by who (email or
    key prefix), action (a dotted code, or its start: "credential") and credential."""
    query = sa.select(AuditEntry).where(AuditEntry.org_id == org_id)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(sa.or_(AuditEntry.action == action,
                                   AuditEntry.action.startswith(action + ".", autoescape=True)))
    if credential_id is not None:
        query = query.where(AuditEntry.credential_id == credential_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    entries = db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(per_page)
                                 .offset((page - 1) * per_page)).all()
    return entries, total


def actors(org_id):
    """Who appears in the organization's log (for the filter)."""
    return db.session.scalars(sa.select(AuditEntry.actor).where(AuditEntry.org_id == org_id)
                              .distinct().order_by(AuditEntry.actor)).all()


def as_json(entry):
    """An entry as GET /api/v1/audit lists it."""
    return {"id": entry.id, "action": entry.action, "actor": entry.actor,
            "at": iso(entry.at), "ip": entry.ip, "credential_id": entry.credential_id,
            "changes": entry.changes}
