"""Security headers on the pages, no-store where tokens and exports are, and cookie flags and
HSTS that follow an https PUBLIC_BASE_URL."""

import json
import re

import pytest
from conftest import PASSWORD, issue, make_app
from flask_login import login_user

from accounts import create_user
from models import User, db
from team import roles


def policy_of(response):
    """The Content-Security-Policy as {directive: [sources]}."""
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_safe_headers(response):
    """DESIGN.md's security rules for an HTML response."""
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    scripts = policy.get("script-src", policy["default-src"])
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.fixture
def published(issuer):
    return issue(issuer, name="Jane Doe", action="publish")


@pytest.mark.parametrize(("path", "status", "logged_in"), [
    ("/login", 200, False),
    ("/credentials", 302, False),  # to the login form
    ("/help/", 200, False),
    ("/c/{token}", 200, False),  # the recipient's page
    ("/r/{link}", 302, False),  # the link in the email
    ("/c/not-a-token", 404, False),
    ("/no/such/page", 404, False),
    ("/credentials", 200, True),
    ("/credentials/{id}", 200, True),
    ("/credentials/new", 200, True),
    ("/imports", 200, True),
    ("/settings/", 200, True),
    ("/queue", 200, True),
    ("/help/", 200, True),
    ("/no/such/page", 404, True),
])
def test_pages_carry_the_security_headers(auth, client, published, path, status, logged_in):
    if logged_in:
        auth.login()
    path = path.format(id=published.id, token=published.token,
                       link=published.latest_message.token)
    response = client.get(path)
    assert response.status_code == status
    assert_safe_headers(response)
    assert "Strict-Transport-Security" not in response.headers  # plain http


def test_htmx_fragments_and_the_api_carry_them_too(logged_in, published):
    fragment = logged_in.get(f"/credentials/live?id={published.id}",
                             headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert_safe_headers(fragment)
    refused = logged_in.get("/api/v1/credentials", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and refused.is_json
    assert refused.headers["X-Content-Type-Options"] == "nosniff"


def test_htmx_is_told_to_need_no_eval_and_no_inline_style(client):
    html = client.get("/login").text
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)[1])
    assert config["includeIndicatorStyles"] is False and config["allowEval"] is False
    assert config["allowScriptTags"] is False

    def swapped(status):
        """Whether htmx swaps an answer of this status (its first matching rule decides)."""
        return next(rule["swap"] for rule in config["responseHandling"]
                    if re.search(rule["code"], str(status)))
    # A form's errors (422) and a conflict's reason (409) are fragments to show; not others.
    assert [swapped(status) for status in (200, 204, 409, 422, 400, 404, 429, 500)] == [
        True, False, True, True, False, False, False, False]
    css = client.get("/static/app.css").text
    assert ".htmx-request .htmx-indicator" in css


def test_recipient_pages_and_exports_are_not_stored(logged_in, published):
    link = logged_in.get(f"/r/{published.latest_message.token}")
    assert link.status_code == 302 and link.headers["Cache-Control"] == "no-store"
    page = logged_in.get(f"/c/{published.token}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    export = logged_in.get("/credentials/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert export.headers["Cache-Control"] == "no-store"
    assert "Jane Doe" in export.text
    assert "no-store" not in logged_in.get("/help/").headers.get("Cache-Control", "")


def cookie(response, name):
    """The Set-Cookie header of that cookie, its attributes lower-cased."""
    found = [value for value in response.headers.getlist("Set-Cookie")
             if value.startswith(name + "=")]
    assert len(found) == 1, response.headers.getlist("Set-Cookie")
    return [part.strip().lower() for part in found[0].split(";")]


@pytest.mark.parametrize(("base", "secure"), [
    ("http://127.0.0.1:5000", False),
    ("https://tracker.acme.example", True),
    ("HTTPS://tracker.acme.example/", True),
])
def test_cookies_and_hsts_follow_the_public_base_url(tmp_path, monkeypatch, base, secure):
    app = make_app(tmp_path, PUBLIC_BASE_URL=base)
    monkeypatch.setitem(roles.RULES, "remember", roles.PUBLIC)  # this test's own route

    @app.get("/test-remember")
    def remember():  # Flask-Login's remember cookie, as a "remember me" login would set
        login_user(db.session.scalar(db.select(User)), remember=True)
        return ""

    with app.app_context():
        create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        db.session.commit()
        client = app.test_client()
        login = client.post("/login", data={"email": "issuer@acme.test",
                                            "password": PASSWORD})
        assert login.status_code == 302
        assert ("secure" in cookie(login, "session")) is secure
        assert "httponly" in cookie(login, "session")
        assert ("secure" in cookie(client.get("/test-remember"), "remember_token")) is secure
        page = client.get("/credentials")
        assert page.status_code == 200
        assert_safe_headers(page)
        hsts = page.headers.get("Strict-Transport-Security")
        assert (hsts == "max-age=31536000; includeSubDomains") if secure else hsts is None
        assert (client.get("/login").headers.get("Strict-Transport-Security") is not None) is secure
        db.session.remove()
        db.engine.dispose()
