"""The audit log for owners: who changed what, when and from where, filterable by person,
action and credential."""

from flask import Blueprint, render_template, request
from flask_login import current_user

import audit

bp = Blueprint("audit", __name__)
PER_PAGE = 100
# The filter's actions: each dotted code's first part matches all of its kind.
ACTIONS = ("login", "credential", "import", "group", "template", "brand", "settings",
           "person", "password", "apikey", "webhook")


@bp.get("/audit")
def index():
    """The organization's entries, newest first."""
    actor, action = request.args.get("actor", "")[:254], request.args.get("action", "")[:40]
    credential = request.args.get("credential", "").strip()
    credential_id = int(credential) if credential.isdigit() and len(credential) < 18 else None
    page = request.args.get("page", "1")
    page = min(int(page), 10**6) if page.isdigit() and int(page) > 0 and len(page) < 8 else 1
    entries, total = audit.page_of(current_user.org_id, actor, action, credential_id, page,
                                   PER_PAGE)
    return render_template("audit.html", entries=entries, total=total, page=page,
                           pages=max(1, -(-total // PER_PAGE)), actors=audit.actors(
                               current_user.org_id), actions=ACTIONS, actor=actor,
                           action=action, credential=credential)
