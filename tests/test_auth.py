"""Login, CSRF and organization isolation on the issuer pages."""

import re

import pytest
from conftest import issue, make_app

from accounts import create_user

ISSUER_PAGES = ["/credentials", "/credentials/new", "/credentials/1/schedule", "/credentials/1",
                "/credentials/suggestion?recipient_email=a@gmial.com"]


@pytest.mark.parametrize("path", ISSUER_PAGES)
def test_issuer_pages_need_login(client, issuer, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


@pytest.mark.parametrize("path", ["/credentials/1/publish", "/logout"])
def test_actions_need_login(client, issuer, path):
    assert client.post(path).status_code == 302
    assert "/login" in client.post(path).location


def test_login_form_and_wrong_password(client, issuer):
    page = client.get("/login").text
    assert 'type="email"' in page and 'type="password"' in page
    wrong = client.post("/login", data={"email": "issuer@acme.test", "password": "nope"})
    assert wrong.status_code == 422 and "Wrong email or password." in wrong.text
    assert 'value="issuer@acme.test"' in wrong.text
    unknown = client.post("/login", data={"email": "who@acme.test", "password": "nope"})
    assert "Wrong email or password." in unknown.text
    assert client.get("/credentials").status_code == 302


@pytest.mark.parametrize("target, expected", [
    ("/credentials?status=bounced", "/credentials?status=bounced"),
    ("https://evil.example/", "/credentials"),
    ("//evil.example/", "/credentials"),
    ("javascript:alert(1)", "/credentials"),
])
def test_login_redirects_only_within_the_site(client, issuer, target, expected):
    from urllib.parse import quote

    response = client.post(f"/login?next={quote(target)}",
                           data={"email": "issuer@acme.test", "password": "correct horse battery"})
    assert response.location == expected


def test_logout(logged_in):
    assert logged_in.get("/logout").status_code == 405  # a link cannot log you out
    assert logged_in.post("/logout").status_code == 302
    assert logged_in.get("/credentials").status_code == 302


def test_other_organizations_credentials_are_404_and_invisible(logged_in, issuer, rival):
    theirs = issue(rival, name="Rival Recipient")
    mine = issue(issuer, name="My Recipient")
    assert logged_in.post(f"/credentials/{theirs.id}/publish").status_code == 404
    assert logged_in.get(f"/credentials/{theirs.id}/schedule").status_code == 404
    assert logged_in.post(f"/credentials/{theirs.id}/schedule",
                          data={"scheduled_at": "2099-01-01T10:00"}).status_code == 404
    assert theirs.issue_state == "draft"
    page = logged_in.get("/credentials").text
    assert "My Recipient" in page and "Rival Recipient" not in page
    assert re.search(r'All <span class="count">1</span>', page)
    assert logged_in.post(f"/credentials/{mine.id}/publish").status_code == 302


@pytest.fixture
def csrf_client(tmp_path):
    """A client of an app with CSRF protection on, as in production."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", "correct horse battery")
        draft = issue(user)
        yield app.test_client(), draft


def _token(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_every_state_change_needs_the_csrf_token(csrf_client):
    client, draft = csrf_client
    login = {"email": "issuer@acme.test", "password": "correct horse battery"}
    assert client.post("/login", data=login).status_code == 400
    client.post("/login", data={**login, "csrf_token": _token(client.get("/login").text)})
    assert client.get("/credentials").status_code == 200
    for path in ("/credentials/new", f"/credentials/{draft.id}/publish",
                 f"/credentials/{draft.id}/schedule", f"/credentials/{draft.id}/email",
                 f"/credentials/{draft.id}/resend", "/credentials/bulk/preview",
                 "/credentials/bulk/resend", "/settings/", "/imports", "/imports/1/mapping",
                 "/imports/1/remap", "/imports/1/fixes", "/imports/1/issue",
                 "/imports/1/discard", "/logout"):
        assert client.post(path, headers={"HX-Request": "true"}).status_code == 400, path
    assert draft.issue_state == "draft"
    # htmx sends the token in a header, set once on <body>.
    page = client.get("/credentials").text
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    response = client.post(f"/credentials/{draft.id}/publish",
                           headers={"HX-Request": "true", "X-CSRFToken": header_token})
    assert response.status_code == 200 and draft.issue_state == "published"
