"""Who may use each route: every route of the app is listed here with the lowest role
allowed, and each role is tried on each (DESIGN.md, "A team per organization"). A route
added without a rule in team.roles is refused to everyone, and fails here."""

import re

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Api, Auth, issue

from accounts import create_user
from models import ApiKey, User, db

PUBLIC, VIEWER, ISSUER, OWNER = "public", "viewer", "issuer", "owner"
ORDER = [VIEWER, ISSUER, OWNER]

# The lowest role of each route, written out apart from team.roles (the spec it must meet);
# (read, change) where a route does both.
LOWEST = {
    **dict.fromkeys([
        "static", "auth.login", "auth.logout", "health.healthz", "health.metrics",
        "provider_events.receive", "tracking.credential", "tracking.download",
        "tracking.follow", "tracking.linkedin", "tracking.pixel", "tracking.public",
        "brand.badge_image", "brand.logo", "brand.stylesheet", "openbadges.achievement",
        "openbadges.credential_json", "openbadges.credential_jwt", "openbadges.issuer",
        "openbadges.status_list", "help.index", "people.accept", "passwords.forgot",
        "passwords.reset", "sso.start", "sso.callback", "unsubscribe.page",
        "unsubscribe.unsubscribe"], PUBLIC),
    **dict.fromkeys([
        "credentials.home", "credentials.index", "credentials.live", "credentials.detail",
        "credentials.row", "export.export", "analytics.index", "health.queue",
        "groups.index", "outbox.index", "outbox.show", "outbox.body", "api.index",
        "api.show", "api.events", "api.email_statuses", "api.group_stats",
        "api_groups.groups"], VIEWER),
    **dict.fromkeys([
        "issuing.new", "issuing.suggestion", "credentials.publish", "credentials.resend",
        "credentials.schedule", "credentials.change_email", "bulk.preview", "bulk.resend",
        "bulk.revoke", "bulk.revoke_preview", "corrections.delete", "corrections.expiry",
        "corrections.move", "corrections.reinstate", "corrections.rename",
        "corrections.revoke", "imports.index", "imports.upload", "imports.show",
        "imports.progress", "imports.save_mapping", "imports.remap", "imports.fix",
        "imports.issue", "imports.discard", "imports.problems_csv", "groups.create",
        "groups.edit", "email_template.index", "email_template.live_preview",
        "email_template.send_test", "settings.brand", "api.create", "api.create_bulk",
        "api.update", "api.publish", "api.resend", "api.revoke", "api.reinstate",
        "api.delete", "api_groups.create_group", "api_groups.change_group",
        "api_groups.organization_template", "api_groups.preview_template",
        "api_groups.organization_logo", "api_sender.sender"], ISSUER),
    **dict.fromkeys([
        "settings.check_sender_domain", "apikeys.index", "apikeys.create", "apikeys.revoke",
        "webhook_settings.index", "webhook_settings.create", "webhook_settings.delete",
        "webhook_settings.enable", "webhook_settings.test", "api_webhooks.index",
        "api_webhooks.create", "api_webhooks.delete", "people.index", "people.invite",
        "people.change_role", "people.remove", "api_people.index", "api_people.invite",
        "api_people.change", "api_people.remove", "audit.index", "api_people.audit_log",
        "health.resume_sending", "api_sender.resume_sending"], OWNER),
    "settings.index": (ISSUER, OWNER),
}
ARGUMENTS = {"int": "999999", "path": "app.css", "default": "x"}


def calls(app):
    """(endpoint, method, path) of every route of the app, its arguments filled in."""
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", lambda m: (
            "sendgrid" if m.group(2) == "provider" else ARGUMENTS.get(m.group(1) or "default",
                                                                      "x")), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


def lowest(endpoint, method):
    rule = LOWEST[endpoint]
    return (rule[0] if method == "GET" else rule[1]) if isinstance(rule, tuple) else rule


def test_every_route_has_a_rule(app):
    assert {endpoint for endpoint, _, _ in calls(app)} == set(LOWEST)


@pytest.fixture
def team(app, issuer):
    """Browser sessions and API keys of an owner, an issuer and a viewer of one
    organization."""
    people = {OWNER: issuer}
    for role in (ISSUER, VIEWER):
        person = create_user(f"{role}-person@acme.test", "Acme Academy", PASSWORD)
        person.role = role
        people[role] = person
    db.session.commit()
    browsers, keys = {}, {}
    for role, person in people.items():
        browsers[role] = app.test_client()
        assert Auth(browsers[role]).login(person.email).status_code == 302
        _, key = ApiKey.issue(person)
        keys[role] = Api(app.test_client(), key)
    db.session.commit()
    return browsers, keys


def test_each_role_is_refused_below_its_routes_lowest_role_only(app, team):
    browsers, keys = team
    tried = 0
    for endpoint, method, path in sorted(calls(app), key=lambda c: c[0] == "auth.logout"):
        needed = lowest(endpoint, method)
        for role in ORDER:
            caller = keys[role] if path.startswith("/api/") else browsers[role]
            answer = getattr(caller, method.lower())(path)
            refused = needed != PUBLIC and ORDER.index(role) < ORDER.index(needed)
            assert (answer.status_code == 403) == refused, (endpoint, method, role,
                                                             answer.status_code)
            assert answer.status_code < 500, (endpoint, method, role)
            tried += 1
    assert tried > 300


def test_a_refusal_says_what_is_needed_and_pages_offer_only_what_the_role_may(app, team,
                                                                            issuer):
    browsers, keys = team
    page = browsers[VIEWER].get("/credentials/new")
    assert page.status_code == 403 and "This needs the <strong>issuer</strong> role" in page.text
    draft = issue(issuer, name="Ada")
    offers = ("Issue</a>", "Resend selected", 'name="ids"', "Publish now")
    viewed = browsers[VIEWER].get("/credentials").text
    assert "Ada" in viewed and not any(offer in viewed for offer in offers)
    issuers = browsers[ISSUER].get("/credentials").text
    assert all(offer in issuers for offer in offers)
    panel = browsers[VIEWER].get(f"/credentials/{draft.id}").text
    assert "Address: jane@example.com" in panel and "Save address" not in panel
    assert "Save address" in browsers[ISSUER].get(f"/credentials/{draft.id}").text
    answer = keys[VIEWER].post("/api/v1/credentials", json={})
    assert answer.status_code == 403
    assert answer.json["error"]["message"] == "Your role may not do this: it needs issuer."


def test_a_key_does_no_more_than_its_role_nor_its_person(app, team, issuer):
    browsers, keys = team
    _, viewer_key = ApiKey.issue(issuer, VIEWER)
    db.session.commit()
    reader = Api(app.test_client(), viewer_key)
    assert reader.get("/api/v1/credentials").status_code == 200
    assert reader.post("/api/v1/credentials", json={}).status_code == 403
    with pytest.raises(ValueError):  # a viewer cannot make an owner's key
        ApiKey.issue(db.session.scalar(sa.select(User).filter_by(role=VIEWER)), OWNER)
    # A person demoted takes their keys down with them.
    assert keys[OWNER].get("/api/v1/people").status_code == 200
    assert keys[OWNER].patch(f"/api/v1/people/{issuer.id}",
                             json={"role": VIEWER}).status_code == 409  # the last owner
    second = create_user("second@acme.test", "Acme Academy", PASSWORD)
    assert keys[OWNER].patch(f"/api/v1/people/{issuer.id}",
                             json={"role": VIEWER}).status_code == 200
    assert second.role == OWNER
    assert keys[OWNER].get("/api/v1/people").status_code == 403  # its person is a viewer now
    assert keys[OWNER].get("/api/v1/credentials").status_code == 200


def test_strangers_are_sent_to_log_in_on_every_page_and_get_401_from_the_api(app, client):
    for endpoint, method, path in calls(app):
        if lowest(endpoint, method) == PUBLIC:
            continue
        answer = getattr(client, method.lower())(path)
        if path.startswith("/api/"):
            assert answer.status_code == 401, (method, path)
        else:
            assert answer.status_code == 302, (method, path)
            assert answer.location.startswith("/login?next="), (method, path)
