"""The role check before every request: the caller's role against team.roles' table; a
stranger on a page that needs a role is sent to log in (every issuer page, whatever its
blueprint says)."""

from flask import abort, g, request
from flask_login import current_user

from extensions import login_manager
from models.states import Role
from team.roles import PUBLIC, needed
from views.api_auth import presented_key


def current_role():
    """The role of who calls: the API key's (at most its person's), else the person's
    logged in; None for a stranger (their route's own login or key check answers them)."""
    if request.path.startswith("/api/"):
        key = presented_key()
        return key.allowed if key is not None else None
    return Role(current_user.role) if current_user.is_authenticated else None


def check():
    """Refuse the request (403) when who calls may not use its route."""
    if request.endpoint is None:  # no route: 404 or 405 follows
        return
    role = needed(request.endpoint, request.method)
    if role == PUBLIC:
        return
    caller = current_role()
    if caller is None and request.path.startswith("/api/"):
        return  # no working key: the API's own check answers 401, as JSON
    if caller is None:
        return login_manager.unauthorized()  # to the login form, and back after it
    if role is None or not caller.allows(role):
        g.refused_role = role
        abort(403)
