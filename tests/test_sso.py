"""Single sign-on end to end against a real local OpenID Connect provider
(oidc-provider-mock, in a Python 3.12 venv of its own: `make oidc-mock`), on SQLite and
PostgreSQL: discovery, state, nonce and PKCE, only verified addresses."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, make_app
from smtp_server import free_port

from accounts import create_user
from models import AuditEntry, Organization, User, db

ROOT = Path(__file__).resolve().parent.parent
MOCK = Path(os.environ.get("OIDC_PROVIDER_MOCK") or ROOT / ".venv/oidc-mock/bin/oidc-provider-mock")
PEOPLE = [{"sub": "grace", "email": "grace@acme.test", "email_verified": True},
          {"sub": "mallory", "email": "mallory@acme.test", "email_verified": False},
          {"sub": "rita", "email": "rita@rival.test", "email_verified": True}]


@pytest.fixture(scope="module")
def provider():
    """The provider on a free port, requiring a nonce, with three people."""
    if not MOCK.exists():
        pytest.skip("SSO tests need oidc-provider-mock: `make oidc-mock` (Python 3.12 from "
                    "pyenv) or OIDC_PROVIDER_MOCK=path/to/oidc-provider-mock")
    port = free_port()
    args = [str(MOCK), "--port", str(port), "--require-nonce", "true"]
    for person in PEOPLE:
        args += ["--user-claims", json.dumps(person)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/.well-known/openid-configuration", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("oidc-provider-mock did not start") from None
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(params=["sqlite", "postgres"])
def sso_app(request, tmp_path, provider):
    app = make_app(tmp_path, request.param, OIDC_ISSUER=provider, OIDC_CLIENT_ID="tracker",
                   OIDC_CLIENT_SECRET="s3cret", OIDC_ORG="Acme Academy",
                   OIDC_NAME="Acme Login")
    with app.app_context():
        create_user("owner@acme.test", "Acme Academy", PASSWORD)
        create_user("rita@rival.test", "Rival Institute", PASSWORD)
        yield app
        db.session.remove()
        db.engine.dispose()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def authorize(location, sub):
    """The person sub says yes at the provider: its redirect back to us."""
    opener = urllib.request.build_opener(NoRedirects)
    body = urllib.parse.urlencode({"sub": sub}).encode()
    try:
        opener.open(urllib.request.Request(location, data=body, method="POST"), timeout=10)
    except urllib.error.HTTPError as answer:
        assert answer.code == 302
        return answer.headers["Location"]
    raise AssertionError("the provider did not redirect")


def sign_in(app, sub, client=None):
    """(client, our answer to the callback) of a whole sign-in as sub."""
    client = client or app.test_client()
    start = client.get("/sso/start")
    assert start.status_code == 302
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(start.location).query)
    assert {"state", "nonce", "code_challenge"} <= set(query)
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["openid email"]
    back = authorize(start.location, sub)
    assert back.startswith("http://127.0.0.1:5000/sso/callback?")
    return client, client.get(back.removeprefix("http://127.0.0.1:5000"))


def test_a_verified_person_signs_in_and_joins_the_organization_as_viewer(sso_app):
    page = sso_app.test_client().get("/login").text
    assert "Sign in with Acme Login" in page
    client, answer = sign_in(sso_app, "grace")
    assert answer.status_code == 302 and answer.location == "/credentials"
    assert client.get("/credentials").status_code == 200
    assert client.get("/credentials/new").status_code == 403  # a viewer
    db.session.rollback()
    grace = db.session.scalar(sa.select(User).filter_by(email="grace@acme.test"))
    org = db.session.scalar(sa.select(Organization).filter_by(name="Acme Academy"))
    assert (grace.org_id, grace.role, grace.password_hash) == (org.id, "viewer", None)
    assert [(e.action, e.changes.get("via")) for e in db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.user_id == grace.id).order_by(AuditEntry.id))] \
        == [("person.join", "sso"), ("login", "sso")]
    # Again: the same person, no second account.
    _, again = sign_in(sso_app, "grace")
    assert again.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 3


def test_an_unverified_address_or_another_organizations_is_refused(sso_app):
    client, answer = sign_in(sso_app, "mallory")
    assert answer.status_code == 403 and "has not verified your email address" in answer.text
    assert client.get("/credentials").status_code == 302  # not logged in
    _, rival = sign_in(sso_app, "rita")
    assert rival.status_code == 403 and "belongs to another organization" in rival.text
    db.session.rollback()
    assert db.session.scalar(sa.select(User).filter_by(email="mallory@acme.test")) is None


def test_state_is_checked_and_a_code_works_once(sso_app):
    client = sso_app.test_client()
    start = client.get("/sso/start")
    back = authorize(start.location, "grace").removeprefix("http://127.0.0.1:5000")
    # Another browser bringing this answer back: no state of its own in its session.
    stranger = sso_app.test_client().get(back)
    assert stranger.status_code == 403 and "did not complete" in stranger.text
    forged = client.get(back.replace("state=", "state=x"))
    assert forged.status_code == 403
    assert client.get("/credentials").status_code == 302
    _, fresh = sign_in(sso_app, "grace")
    assert fresh.status_code == 302


def test_without_oidc_settings_there_is_no_single_sign_on(app, client):
    assert "Sign in with" not in client.get("/login").text
    assert client.get("/sso/start").status_code == 404
