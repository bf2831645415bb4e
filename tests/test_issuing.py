"""Issuing one credential from the browser form."""

import re
from datetime import timedelta

import pytest
from conftest import issue

from models import Credential, CredentialGroup, db
from models.types import utcnow


def form(**fields):
    return {"recipient_name": "Jane Doe", "recipient_email": "jane@example.com",
            "group_id": "new", "new_group": "Course A", "action": "draft",
            "send_email": "y", "utc_offset": "0", "scheduled_at": "", **fields}


def credentials():
    return db.session.scalars(db.select(Credential)).all()


def test_first_credential_creates_its_group(logged_in):
    page = logged_in.get("/credentials/new")
    assert page.status_code == 200 and "Name a new group" in page.text
    response = logged_in.post("/credentials/new", data=form(group_id=""))
    assert response.status_code == 302 and response.location == "/credentials"
    (credential,) = credentials()
    assert credential.group.name == "Course A" and credential.email_status == "not_sent"
    assert "Saved a draft for Jane Doe." in logged_in.get("/credentials").text


def test_pick_existing_group_and_publish(logged_in, issuer):
    issue(issuer, group="Course B")
    group = db.session.scalar(db.select(CredentialGroup))
    response = logged_in.post("/credentials/new", data=form(
        group_id=str(group.id), new_group="", action="publish"))
    assert response.status_code == 302
    newest = credentials()[-1]
    assert newest.group_id == group.id and newest.email_status == "sending"
    assert newest.latest_message.state == "queued"


def test_publish_without_email_switch_and_without_address(logged_in):
    logged_in.post("/credentials/new", data=form(action="publish", send_email=""))
    logged_in.post("/credentials/new", data=form(action="publish", recipient_email=""))
    assert [c.email_status for c in credentials()] == ["not_sent", "not_provided"]
    assert all(not c.messages for c in credentials())


def test_schedule_in_the_issuers_time_zone(logged_in):
    local = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
    logged_in.post("/credentials/new", data=form(
        action="schedule", scheduled_at=local.strftime("%Y-%m-%dT%H:%M"), utc_offset="-300"))
    (credential,) = credentials()
    assert credential.issue_state == "scheduled"
    assert credential.scheduled_at == local + timedelta(hours=5)


@pytest.mark.parametrize("fields, message", [
    ({"recipient_name": ""}, "Name is required."),
    ({"recipient_name": "x" * 201}, "at most 200 characters"),
    ({"recipient_name": "Jane\r\nBcc: x@example.com"}, "line breaks"),
    ({"recipient_email": "jane@gmial"}, "is not a valid address"),
    ({"recipient_email": "jane@example.com\r\nBcc: x@example.com"}, "line breaks"),
    ({"group_id": "new", "new_group": ""}, "Group name is required."),
    ({"action": "send"}, "Not a valid choice"),
    ({"action": "schedule", "scheduled_at": ""}, "Pick a date and time"),
    ({"action": "schedule", "scheduled_at": "2001-01-01T10:00"}, "must be in the future"),
])
def test_bad_input_comes_back_with_messages_and_what_was_typed(logged_in, fields, message):
    response = logged_in.post("/credentials/new", data=form(**fields))
    assert response.status_code == 422
    assert message in response.text
    assert credentials() == []
    if "recipient_email" in fields and "\r" not in fields["recipient_email"]:
        assert f'value="{fields["recipient_email"]}"' in response.text
    if not fields.get("recipient_name", "x").startswith("Jane\r"):
        typed = fields.get("recipient_name", "Jane Doe")
        assert re.search(rf'id="recipient_name"[^>]*value="{typed}"', response.text)


def test_typo_suggestion_while_typing_and_after_errors(logged_in):
    hint = logged_in.get("/credentials/suggestion?recipient_email=jane@gmial.com").text
    assert "Did you mean <strong>jane@gmail.com</strong>?" in hint
    fine = logged_in.get("/credentials/suggestion?recipient_email=jane@gmail.com").text
    assert fine.strip() == ""
    response = logged_in.post("/credentials/new", data=form(recipient_name="",
                                                            recipient_email="jane@gmial.com"))
    assert "jane@gmail.com" in response.text


def test_groups_of_other_organizations_are_not_offered(logged_in, issuer, rival):
    issue(rival, group="Secret Rival Course")
    issue(issuer, group="Our Course")
    page = logged_in.get("/credentials/new").text
    assert "Secret Rival Course" not in page and "Our Course" in page
    rival_group = db.session.scalar(db.select(CredentialGroup).filter_by(org_id=rival.org_id))
    for group_id in (str(rival_group.id), "9999", ""):
        response = logged_in.post("/credentials/new", data=form(group_id=group_id))
        assert response.status_code == 422 and "Pick a group" in response.text
    assert len(credentials()) == 2


def test_a_typed_group_name_is_never_dropped_unseen(logged_in, issuer):
    existing = issue(issuer, group="Course A").group_id
    response = logged_in.post("/credentials/new", data=form(
        group_id=str(existing), new_group="Course B", recipient_name="Typed"))
    assert response.status_code == 422 and "Pick “New group…” above" in response.text
    assert 'value="Course B"' in response.text
    assert [c.recipient_name for c in credentials()] == ["Jane Doe"]
