"""JSON API v1 as DESIGN.md describes it, bad input included."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import api_for, issue, mark_latest

from models import EmailMessage, db

FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()


def new(api, **fields):
    body = {"recipient_name": "Jane Doe", "recipient_email": "jane@example.com",
            "group": "Course A", "action": "draft", **fields}
    return api.post("/api/v1/credentials", json=body)


def error_fields(response):
    assert set(response.json) == {"error"}
    assert response.json["error"]["message"]
    return response.json["error"]["fields"]


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_create_each_action(api):
    draft = new(api)
    assert draft.status_code == 201
    body = draft.json
    assert {k: body[k] for k in ("recipient_name", "recipient_email", "group", "issue_state",
                                  "send_email", "email_status", "email_status_label")} == {
        "recipient_name": "Jane Doe", "recipient_email": "jane@example.com",
        "group": "Course A", "issue_state": "draft", "send_email": True,
        "email_status": "not_sent", "email_status_label": "Email is not sent"}
    assert body["bounce_reason"] is None and body["email_suggestion"] is None

    published = new(api, action="publish").json
    assert (published["issue_state"], published["email_status"]) == ("published", "sending")
    quiet = new(api, action="publish", send_email=False).json
    assert quiet["email_status"] == "not_sent"
    nobody = new(api, action="publish", recipient_email=None).json
    assert nobody["email_status"] == "not_provided"
    scheduled = new(api, action="schedule", scheduled_at=FUTURE).json
    assert scheduled["issue_state"] == "scheduled"
    assert datetime.fromisoformat(scheduled["scheduled_at"]) == datetime.fromisoformat(FUTURE)


def test_publish_queues_one_message_with_a_message_id(api):
    created = new(api, action="publish").json
    messages = db.session.scalars(db.select(EmailMessage)).all()
    assert len(messages) == 1
    assert messages[0].credential_id == created["id"]
    assert messages[0].message_id.startswith("<") and "@issuer.test>" in messages[0].message_id
    assert messages[0].state == "queued"
    events = api.get(f"/api/v1/credentials/{created['id']}/events").json
    assert [e["type"] for e in events] == ["queued"]


def test_suggestion_in_json(api):
    assert new(api, recipient_email="jane@gmial.com").json["email_suggestion"] == (
        "jane@gmail.com")


@pytest.mark.parametrize("fields, bad", [
    ({"recipient_name": ""}, "recipient_name"),
    ({"recipient_name": None}, "recipient_name"),
    ({"recipient_name": 7}, "recipient_name"),
    ({"recipient_name": "x" * 201}, "recipient_name"),
    ({"recipient_name": "Jane\r\nBcc: x@example.com"}, "recipient_name"),
    ({"recipient_email": "jane@gmial"}, "recipient_email"),
    ({"recipient_email": "jane@example.com\r\nBcc: x@example.com"}, "recipient_email"),
    ({"recipient_email": "a" * 250 + "@example.com"}, "recipient_email"),
    ({"recipient_email": 12}, "recipient_email"),
    ({"group": ""}, "group"),
    ({"group": ["A"]}, "group"),
    ({"action": "send"}, "action"),
    ({"action": "schedule"}, "scheduled_at"),
    ({"action": "schedule", "scheduled_at": "2020-01-01T00:00:00+00:00"}, "scheduled_at"),
    ({"action": "schedule", "scheduled_at": "2099-01-01T00:00:00"}, "scheduled_at"),
    ({"action": "schedule", "scheduled_at": "next week"}, "scheduled_at"),
    ({"send_email": "yes"}, "send_email"),
])
def test_create_refuses_bad_fields(api, fields, bad):
    response = new(api, **fields)
    assert response.status_code == 422
    assert bad in error_fields(response)
    assert api.get("/api/v1/credentials").json["total"] == 0


@pytest.mark.parametrize("data, content_type", [
    ("not json", "application/json"), ("[1, 2]", "application/json"),
    ("", "application/json"), ("recipient_name=x", "application/x-www-form-urlencoded"),
])
def test_body_must_be_a_json_object(api, data, content_type):
    response = api.post("/api/v1/credentials", data=data, content_type=content_type)
    assert response.status_code == 400
    error_fields(response)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer cmt_wrong"},
    {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer " + "x" * 5000},
])
def test_missing_or_wrong_key_is_401(client, issuer, headers):
    response = client.get("/api/v1/credentials", headers=headers)
    assert response.status_code == 401
    error_fields(response)


def test_other_organization_is_404_everywhere(client, issuer, rival, api):
    theirs = issue(rival, name="Their Recipient", action="publish")
    mine = api
    for method, path in [("get", ""), ("patch", ""), ("post", "/publish"), ("post", "/resend"),
                         ("get", "/events")]:
        response = getattr(mine, method)(f"/api/v1/credentials/{theirs.id}{path}",
                                         json={"recipient_email": "x@example.com"})
        assert response.status_code == 404, (method, path)
        error_fields(response)
    listing = mine.get("/api/v1/credentials").json
    assert listing["total"] == 0 and listing["items"] == []
    assert sum(mine.get("/api/v1/email-statuses").json.values()) == 0
    assert api_for(client, rival).get("/api/v1/email-statuses").json["sending"] == 1


def test_unknown_route_and_method_are_json(api):
    assert api.get("/api/v1/nothing").status_code == 404
    response = api.put("/api/v1/credentials/1")
    assert response.status_code == 405
    error_fields(response)


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_list_filters_search_and_pages(api, issuer):
    for i in range(5):
        issue(issuer, name=f"Draft {i}", email=f"d{i}@example.com")
    issue(issuer, name="Ann 100% Sure", email=None, action="publish")
    issue(issuer, name="Bob_Smith", email="bob@example.com", action="publish")
    everything = api.get("/api/v1/credentials").json
    assert everything["total"] == 7 and everything["page"] == 1
    assert everything["items"][0]["recipient_name"] == "Bob_Smith"  # newest first
    assert api.get("/api/v1/credentials?email_status=not_sent").json["total"] == 5
    assert api.get("/api/v1/credentials?email_status=sending").json["total"] == 1
    assert api.get("/api/v1/credentials?q=100%25").json["total"] == 1
    assert api.get("/api/v1/credentials?q=b_s").json["total"] == 1
    assert api.get("/api/v1/credentials?q=_").json["total"] == 1  # _ is literal, not a wildcard
    assert api.get("/api/v1/credentials?q=D3%40EXAMPLE").json["total"] == 1
    page = api.get("/api/v1/credentials?per_page=3&page=3").json
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (7, 3, 3, 1)
    counts = api.get("/api/v1/email-statuses").json
    assert counts == {"not_sent": 5, "not_provided": 1, "sending": 1, "not_opened": 0,
                      "bounced": 0, "opened": 0}


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_list_pages_by_cursor(api, issuer, rival):
    """Following next_cursor walks the same pages as page numbers, with the filter, and
    ends with null; another organization's credentials never come."""
    for i in range(7):
        issue(issuer, name=f"Person {i}", email=f"p{i}@example.com", action="publish")
        issue(rival, name=f"Theirs {i}")
    issue(issuer, name="Draft", email="draft@example.com")
    by_number = [[item["id"] for item in api.get(
        f"/api/v1/credentials?email_status=sending&per_page=3&page={n}").json["items"]]
        for n in (1, 2, 3)]
    first = api.get("/api/v1/credentials?email_status=sending&per_page=3").json
    pages, cursor = [[item["id"] for item in first["items"]]], first["next_cursor"]
    while cursor is not None:
        page = api.get(f"/api/v1/credentials?email_status=sending&per_page=3&cursor={cursor}"
                       ).json
        assert (page["total"], page["page"]) == (7, None)
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
    assert pages == by_number and [len(ids) for ids in pages] == [3, 3, 1]


@pytest.mark.parametrize("query", ["email_status=lost", "page=0", "page=x", "per_page=0",
                                   "per_page=100000", "q=" + "x" * 201, "cursor=0",
                                   "cursor=x", "cursor=99999999999999999999",
                                   "cursor=5&page=1"])
def test_list_refuses_bad_parameters(api, query):
    response = api.get(f"/api/v1/credentials?{query}")
    assert response.status_code == 422
    error_fields(response)


def test_patch_changes_address_and_sends_nothing(api, issuer):
    credential = issue(issuer, action="publish")
    mark_latest(credential, "bounced")
    response = api.patch(f"/api/v1/credentials/{credential.id}",
                         json={"recipient_email": "jane@example.org"})
    assert response.status_code == 200
    assert response.json["recipient_email"] == "jane@example.org"
    assert response.json["email_status"] == "bounced"  # still the latest message's outcome
    assert len(credential.messages) == 1
    events = api.get(f"/api/v1/credentials/{credential.id}/events").json
    assert events[-1]["type"] == "address_changed"
    assert events[-1]["detail"] == "jane@example.com → jane@example.org"
    cleared = api.patch(f"/api/v1/credentials/{credential.id}", json={"recipient_email": None})
    assert cleared.json["email_status"] == "not_provided"


@pytest.mark.parametrize("body, status", [
    ({"recipient_email": "broken@"}, 422), ({}, 422), ({"recipient_email": "a\n@b.c"}, 422),
])
def test_patch_refuses_bad_input(api, issuer, body, status):
    credential = issue(issuer)
    response = api.patch(f"/api/v1/credentials/{credential.id}", json=body)
    assert response.status_code == status
    assert credential.recipient_email == "jane@example.com"


def test_publish_route(api, issuer):
    credential = issue(issuer)
    response = api.post(f"/api/v1/credentials/{credential.id}/publish", json={"send_email": True})
    assert response.status_code == 200 and response.json["email_status"] == "sending"
    again = api.post(f"/api/v1/credentials/{credential.id}/publish")
    assert again.status_code == 409
    error_fields(again)
    quiet = issue(issuer, name="Quiet")
    response = api.post(f"/api/v1/credentials/{quiet.id}/publish", json={"send_email": False})
    assert response.json["email_status"] == "not_sent" and response.json["send_email"] is False
    bad = api.post(f"/api/v1/credentials/{issue(issuer).id}/publish", json={"send_email": 1})
    assert bad.status_code == 422


def test_resend_rules(api, issuer):
    draft = issue(issuer)
    assert api.post(f"/api/v1/credentials/{draft.id}/resend").status_code == 409

    never_sent = issue(issuer, action="publish", send_email=False)
    response = api.post(f"/api/v1/credentials/{never_sent.id}/resend")
    assert response.status_code == 202 and response.json["email_status"] == "sending"

    bounced = mark_latest(issue(issuer, action="publish"), "bounced")
    refused = api.post(f"/api/v1/credentials/{bounced.id}/resend")
    assert refused.status_code == 409
    assert "bounced" in refused.json["error"]["message"]
    forced = api.post(f"/api/v1/credentials/{bounced.id}/resend", json={"force": True})
    assert forced.status_code == 202
    assert len(bounced.messages) == 2

    soft = mark_latest(issue(issuer, action="publish"), "bounced", bounce_kind="soft")
    assert api.post(f"/api/v1/credentials/{soft.id}/resend").status_code == 202

    fixed = mark_latest(issue(issuer, action="publish"), "bounced")
    api.patch(f"/api/v1/credentials/{fixed.id}", json={"recipient_email": "new@example.com"})
    assert api.post(f"/api/v1/credentials/{fixed.id}/resend").status_code == 202
    assert fixed.latest_message.to_address == "new@example.com"
    events = [e["type"] for e in api.get(f"/api/v1/credentials/{fixed.id}/events").json]
    assert events == ["queued", "address_changed", "resent", "queued"]

    nobody = issue(issuer, action="publish", email=None)
    assert api.post(f"/api/v1/credentials/{nobody.id}/resend").status_code == 409
    assert api.post(f"/api/v1/credentials/{soft.id}/resend", json={"force": "y"}).status_code == 422


def test_bulk_reports_each_item(api):
    items = [
        {"recipient_name": "Good One", "recipient_email": "one@example.com", "group": "G",
         "action": "publish"},
        {"recipient_name": "", "recipient_email": "two@example.com", "group": "G"},
        "not an object",
        {"recipient_name": "Good Two", "recipient_email": None, "group": "G"},
    ]
    response = api.post("/api/v1/credentials/bulk", json={"credentials": items})
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert "id" in results[0] and "id" in results[3]
    assert "recipient_name" in results[1]["error"]["fields"]
    assert "error" in results[2]
    assert api.get("/api/v1/credentials").json["total"] == 2


def test_bulk_limits(api):
    one = {"recipient_name": "A", "recipient_email": None, "group": "G"}
    too_many = api.post("/api/v1/credentials/bulk", json={"credentials": [one] * 1001})
    assert too_many.status_code == 413
    error_fields(too_many)
    assert api.post("/api/v1/credentials/bulk", json={"credentials": "x"}).status_code == 400
    full = api.post("/api/v1/credentials/bulk", json={"credentials": [one] * 1000})
    assert full.status_code == 200 and len(full.json["results"]) == 1000


@pytest.mark.slow
def test_oversized_bodies_are_413(api, app):
    # Ten items, far under the item limit: only the body's size can refuse it.
    item = '{"recipient_name": "' + "x" * (app.config["MAX_CONTENT_LENGTH"] // 10) + '"}'
    body = '{"credentials": [' + ",".join([item] * 10) + "]}"
    response = api.post("/api/v1/credentials/bulk", data=body, content_type="application/json")
    assert response.status_code == 413
    error_fields(response)
    assert "too large" in response.json["error"]["message"]
    # The same ten items, each small enough: a 200 with an error per item.
    small = api.post("/api/v1/credentials/bulk", json={"credentials": [
        {"recipient_name": "x" * 201}] * 10})
    assert small.status_code == 200 and len(small.json["results"]) == 10
