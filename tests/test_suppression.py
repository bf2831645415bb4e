"""Suppression: an address that bounced for good or complained is not mailed again by its
organization, until the issuer sends anyway."""

import pytest
from conftest import PASSWORD, Api, Auth, issue

import samples
from accounts import create_user
from bounces.mailbox import receive
from mailer.queue import send_due
from models import ApiKey, Suppression, db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def acme(mail_app):
    return create_user("issuer@acme.test", "Acme Academy", PASSWORD)


def refused_once(sink, acme, address="jane@example.com"):
    sink.answer(address, "550 5.1.1 <jane@example.com>: Recipient address rejected: "
                         "User unknown")
    credential = issue(acme, email=address, action="publish")
    assert send_due() == {"claimed": 1, "bounced": 1}
    return credential


def test_a_hard_bounce_suppresses_the_address_for_its_organization_only(acme, sink):
    refused_once(sink, acme)
    assert db.session.get(Suppression, (acme.org_id, "jane@example.com")).reason == "bounced"
    again = issue(acme, name="Jane again", email="Jane@Example.com", action="publish")
    # Bounced at once, saying why, and nothing queued for the mail server.
    assert again.email_status == "bounced"
    assert again.latest_message.bounce_reason.startswith(
        "Not sent: earlier mail to this address bounced for good.")
    assert send_due() == {"claimed": 0}
    rival = create_user("issuer@rival.test", "Rival", PASSWORD)
    theirs = issue(rival, email="jane@example.com", action="publish")
    assert theirs.email_status == "sending"
    assert send_due() == {"claimed": 1, "sent": 1}
    assert [to for to, _, _ in sink.received] == ["jane@example.com"]


def test_a_complaint_suppresses_with_its_own_reason(acme, sink):
    delivered = issue(acme, action="publish")
    send_due()
    receive(samples.complaint(delivered.latest_message.message_id), "file")
    db.session.rollback()
    later = issue(acme, name="Later", action="publish")
    assert later.email_status == "bounced"
    assert later.latest_message.bounce_reason == (
        "Not sent: the recipient reported earlier mail as spam.")


def test_sending_anyway_lifts_it_and_a_new_address_needs_nothing(acme, sink, mail_app):
    bounced = refused_once(sink, acme)
    other = issue(acme, name="Other", action="publish")  # suppressed at once
    client = mail_app.test_client()
    Auth(client).login()
    panel = client.get(f"/credentials/{other.id}", headers=HTMX).text
    assert "Not sent: earlier mail to this address bounced" in panel
    assert "Send even though this address bounced" in panel
    refused = client.post(f"/credentials/{other.id}/resend", headers=HTMX)
    assert refused.status_code == 409
    forced = client.post(f"/credentials/{other.id}/resend", data={"force": "y"}, headers=HTMX)
    assert forced.status_code == 200 and "Queued a new email" in forced.text
    assert send_due() == {"claimed": 1, "sent": 1}
    assert db.session.get(Suppression, (acme.org_id, "jane@example.com")) is None
    # The first credential gets a fixed address instead: nothing to lift.
    client.post(f"/credentials/{bounced.id}/email", data={"recipient_email": "jane@example.org"})
    client.post(f"/credentials/{bounced.id}/resend")
    assert send_due() == {"claimed": 1, "sent": 1}
    assert [to for to, _, _ in sink.received] == ["jane@example.com", "jane@example.org"]


def test_the_api_resend_with_force_lifts_it(acme, sink, mail_app):
    refused_once(sink, acme)
    other = issue(acme, name="Other", action="publish")
    _, key = ApiKey.issue(acme)
    db.session.commit()
    api = Api(mail_app.test_client(), key)
    assert api.post(f"/api/v1/credentials/{other.id}/resend").status_code == 409
    response = api.post(f"/api/v1/credentials/{other.id}/resend", json={"force": True})
    assert response.status_code == 202 and response.json["email_status"] == "sending"
    assert send_due() == {"claimed": 1, "sent": 1}
