"""Security headers on every response, and cookie flags that follow PUBLIC_BASE_URL.

A small after_request rather than Flask-Talisman: by default Talisman redirects every http
request to https and marks the session cookie Secure, which breaks `make run` on plain
http, and it sends HSTS per request, only when the request looks secure (TLS to the app,
or an X-Forwarded-Proto header the proxy may or may not set). Once those are turned off, what
is left is a handful of constant headers; the one switch that matters here, https or not,
is PUBLIC_BASE_URL, known at start.
"""

import functools

from flask import make_response

# Everything from the app's own origin. Scripts and styles from our files only: no inline
# code, no eval, and no inline styles either (no template needs a style attribute, and htmx
# is configured in base.html to need none of them). Nothing may frame a page
# (clickjacking); forms post only back to the app.
POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HSTS = "max-age=31536000; includeSubDomains"


def no_store(view):
    """Mark a view's responses Cache-Control: no-store, for what must not stay on a disk
    or in a shared cache, such as a page whose URL carries a recipient's token."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


def init_app(app):
    """Mark cookies Secure behind an https PUBLIC_BASE_URL and add the headers to responses."""
    https = app.config["PUBLIC_BASE_URL"].lower().startswith("https://")
    if https:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    @app.after_request
    def add_security_headers(response):
        # setdefault: a view that needs its own policy (the outbox's mail frame) sets it.
        headers = response.headers
        headers.setdefault("Content-Security-Policy", POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # Recipient pages carry their token in the URL: never hand it to another site.
        headers.setdefault("Referrer-Policy", "no-referrer")
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
