"""Who calls the JSON API: the bearer key, found once per request, and the limits on it
(DESIGN.md, "Security rules": a limit per key found, however the header is spelled, and
one per IP address for calls without a working key)."""

from flask import current_app, g, request
from flask_limiter.util import get_remote_address

from extensions import limiter
from models import ApiKey, db, write_lock
from views.errors import ApiError


def presented_key():
    """The ApiKey the Authorization header names ("Bearer <key>", in any case, with any
    spaces around), or None; looked up once per request, and only read (a stranger's
    wrong key takes no write lock)."""
    if "api_key" not in g:
        scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
        g.api_key = ApiKey.find(key.strip()) if scheme.lower() == "bearer" else None
    return g.api_key


def limit(bp):
    """Limit an API blueprint: API_RATE_LIMIT per key found, API_BAD_KEY_RATE_LIMIT per
    IP address for calls without a working key."""
    limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="api",
                         key_func=lambda: f"key:{presented_key().id}",
                         exempt_when=lambda: presented_key() is None)(bp)
    limiter.shared_limit(lambda: current_app.config["API_BAD_KEY_RATE_LIMIT"],
                         scope="api-bad-key", key_func=get_remote_address,
                         exempt_when=lambda: presented_key() is not None)(bp)


def authenticate():
    """Refuse a call without a working key (401); else note the key's use and its user."""
    api_key = presented_key()
    if api_key is None:
        raise ApiError(401, "Missing or wrong API key: send 'Authorization: Bearer <key>'.")
    api_key.note_use()
    g.api_user = api_key.user
    g.org_id = api_key.user.org_id
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # SQLite: a change reads, then writes; once the key is known, the read that found
        # it ends and the change begins with the write lock.
        db.session.rollback()
        write_lock()
