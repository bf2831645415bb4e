"""Credentials corrected, revoked and expiring, on SQLite and PostgreSQL: through the API and
the issuer's panel, and what the recipient, the public page, the PDF and the queue do."""

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import api_for, issue, mark_latest, recount_statuses
from pypdf import PdfReader

from lifecycle.expiry import send_expiry_notices
from lifecycle.reminders import send_reminders
from mailer.compose import compose
from models import (
    Credential,
    EmailMessage,
    FunnelCount,
    StatusCount,
    WebhookEndpoint,
    WebhookMessage,
    db,
)
from models.types import utcnow

both = pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)


def pdf_text(client, credential):
    response = client.get(f"/c/{credential.token}.pdf")
    assert response.status_code == 200
    return PdfReader(io.BytesIO(response.data)).pages[0].extract_text()


def counts(org_id):
    """The stored status counts, and what counting again from the rows gives."""
    stored = StatusCount.for_org(org_id)
    recount_statuses(org_id)
    again = StatusCount.for_org(org_id)
    db.session.rollback()
    return stored, again


@both
def test_a_revocation_shows_everywhere_and_stops_the_mail(app, client, issuer, rival, api):
    db.session.add(WebhookEndpoint(org_id=issuer.org_id, url="https://hooks.example/x",
                                   events=["credential.revoked"]))
    db.session.commit()
    sent = mark_latest(issue(issuer, name="Ada Lovelace", action="publish"), "sent")
    queued = issue(issuer, name="Alan Turing", email="alan@example.com", action="publish")
    assert api_for(client, rival).post(f"/api/v1/credentials/{sent.id}/revoke",
                                       json={"reason": "x"}).status_code == 404
    refused = api.post(f"/api/v1/credentials/{sent.id}/revoke", json={"reason": "x" * 1001})
    assert refused.status_code == 422 and "1,000" in refused.json["error"]["fields"]["reason"]
    assert api.post(f"/api/v1/credentials/{sent.id}/revoke", json={}).status_code == 422

    for credential in (sent, queued):
        answer = api.post(f"/api/v1/credentials/{credential.id}/revoke",
                          json={"reason": "Issued by mistake <b>"})
        assert answer.status_code == 200
        assert answer.json["revoked_at"] and answer.json["revocation_reason"] == (
            "Issued by mistake <b>")
    assert api.post(f"/api/v1/credentials/{sent.id}/revoke",
                    json={"reason": "again"}).status_code == 409
    db.session.rollback()
    # The email already sent keeps its status; the one still queued will never go.
    assert sent.email_status == "not_opened"
    assert queued.messages[-1].state == "cancelled" and queued.email_status == "not_sent"
    stored, again = counts(issuer.org_id)
    assert stored == again
    assert api.post(f"/api/v1/credentials/{sent.id}/resend").status_code == 409
    assert [e["type"] for e in api.get(f"/api/v1/credentials/{sent.id}/events").json][-1] == (
        "revoked")
    assert db.session.scalars(sa.select(WebhookMessage.type)).all() == ["credential.revoked"] * 2

    page = client.get(f"/c/{sent.token}").text
    assert "Revoked on" in page and "Issued by mistake &lt;b&gt;" in page
    assert "Download PDF" not in page and "Add to LinkedIn" not in page
    assert "Download as Open Badge" not in page and "share-url" not in page
    public = client.get(f"/v/{sent.public_id}").text
    assert "Revoked on" in public and "Verified" not in public
    assert client.get(f"/c/{sent.token}.pdf").status_code == 410
    assert client.get(f"/c/{sent.token}/linkedin").status_code == 410

    assert api.post(f"/api/v1/credentials/{sent.id}/reinstate").status_code == 200
    assert api.post(f"/api/v1/credentials/{sent.id}/reinstate").status_code == 409
    assert "✓ Verified" in client.get(f"/v/{sent.public_id}").text
    assert client.get(f"/c/{sent.token}.pdf").status_code == 200


@both
def test_expiry_from_the_group_or_given_and_what_pages_say(app, client, issuer, api, logged_in):
    group = issue(issuer, name="Seed").group
    group.validity_months = 24
    db.session.commit()
    credential = issue(issuer, name="Ada", action="publish")
    assert credential.expires_at.year == credential.published_at.year + 2
    draft = issue(issuer, name="Later")
    assert draft.expires_at is None
    api.post(f"/api/v1/credentials/{draft.id}/publish")
    db.session.rollback()
    assert draft.expires_at is not None  # published now: the group's months from now
    page = client.get(f"/v/{credential.public_id}").text
    assert "✓ Verified" in page and "Expires on" in page

    past = (utcnow() - timedelta(days=1)).isoformat()
    answer = api.patch(f"/api/v1/credentials/{credential.id}", json={"expires_at": past})
    assert answer.status_code == 200 and answer.json["expires_at"]
    page = client.get(f"/v/{credential.public_id}").text
    assert "Expired on" in page and "Verified" not in page
    assert "Expired on" in client.get(f"/c/{credential.token}").text
    assert "Expired on" in pdf_text(client, credential)
    assert api.patch(f"/api/v1/credentials/{credential.id}",
                     json={"expires_at": "tomorrow"}).status_code == 422
    api.patch(f"/api/v1/credentials/{credential.id}", json={"expires_at": None})
    assert "Expire" not in pdf_text(client, credential)

    # The panel sets a date too.
    response = logged_in.post(f"/credentials/{credential.id}/expiry",
                              data={"expires_on": "2031-05-04"})
    assert response.status_code == 200
    db.session.rollback()
    assert credential.expires_at.isoformat() == "2031-05-04T00:00:00+00:00"
    assert logged_in.post(f"/credentials/{credential.id}/expiry",
                          data={"expires_on": "someday"}).status_code == 422

    # The issue form: a date of its own, or the group's months when empty.
    form = {"recipient_name": "Grace", "group_id": str(group.id), "action": "publish",
            "utc_offset": "0", "send_email": "y"}
    assert logged_in.post("/credentials/new", data=form).status_code == 302
    assert logged_in.post("/credentials/new", data={**form, "recipient_name": "Alan",
                                                    "expires_on": "2030-01-31"}).status_code == 302
    assert logged_in.post("/credentials/new", data={**form, "expires_on": "soon"}
                          ).status_code == 422
    db.session.rollback()
    given = dict(db.session.execute(sa.select(Credential.recipient_name, Credential.expires_at)
                                    .where(Credential.recipient_name.in_(["Grace", "Alan"]))).all())
    assert given["Grace"].year == credential.published_at.year + 2
    assert given["Alan"].date().isoformat() == "2030-01-31"


@both
def test_corrections_of_names_groups_and_drafts(app, client, issuer, rival, api, logged_in):
    credential = issue(issuer, name="Ada Lovlace", action="publish")
    answer = api.patch(f"/api/v1/credentials/{credential.id}",
                       json={"recipient_name": "Ada Lovelace"})
    assert answer.status_code == 200 and answer.json["recipient_name"] == "Ada Lovelace"
    assert "Ada Lovelace" in client.get(f"/v/{credential.public_id}").text
    assert "Ada Lovelace" in pdf_text(client, credential)
    badge = client.get(f"/v/{credential.public_id}/credential.json").json
    assert badge["credentialSubject"]["name"] == "Ada Lovelace"
    (changed,) = [e for e in api.get(f"/api/v1/credentials/{credential.id}/events").json
                  if e["type"] == "name_changed"]
    assert changed["detail"] == "Ada Lovlace → Ada Lovelace"
    assert api.patch(f"/api/v1/credentials/{credential.id}",
                     json={"recipient_name": "=cmd"}).status_code == 422
    assert api.patch(f"/api/v1/credentials/{credential.id}",
                     json={"group": "Course B"}).status_code == 409
    assert api.delete(f"/api/v1/credentials/{credential.id}").status_code == 409

    draft = issue(issuer, name="Grace", group="Course A")
    answer = api.patch(f"/api/v1/credentials/{draft.id}", json={"group": "Course B"})
    assert answer.status_code == 200 and answer.json["group"] == "Course B"
    funnel = dict(db.session.execute(sa.select(FunnelCount.group_id, FunnelCount.n).where(
        FunnelCount.stage == "credentials")).all())
    assert sorted(funnel.values()) == [1, 1]  # one left in Course A, one in Course B
    db.session.rollback()  # SQLite: end the read before this session writes again
    assert api_for(client, rival).delete(f"/api/v1/credentials/{draft.id}").status_code == 404
    draft_id = draft.id
    assert api.delete(f"/api/v1/credentials/{draft_id}").status_code == 204
    assert api.get(f"/api/v1/credentials/{draft_id}").status_code == 404
    stored, again = counts(issuer.org_id)
    assert stored == again and sum(stored.values()) == 1

    # The panel: a new name, then a draft deleted.
    response = logged_in.post(f"/credentials/{credential.id}/name",
                              data={"recipient_name": "Augusta Ada King"})
    assert response.status_code == 200 and "Name saved" in response.text
    assert "sent the email again" not in response.text
    emails = lambda: db.session.scalar(sa.select(sa.func.count()).select_from(  # noqa: E731
        EmailMessage).where(EmailMessage.credential_id == credential.id))
    before = emails()
    response = logged_in.post(f"/credentials/{credential.id}/name",
                              data={"recipient_name": "Ada King", "notify": "y"})
    assert "sent the email again" in response.text and emails() == before + 1
    db.session.rollback()  # SQLite: end the read before this session writes again
    assert logged_in.post(f"/credentials/{credential.id}/name",
                          data={"recipient_name": ""}).status_code == 422
    other = issue(issuer, name="Draft to go")
    assert logged_in.post(f"/credentials/{other.id}/delete").status_code == 302
    assert logged_in.post(f"/credentials/{credential.id}/delete").status_code == 409


def test_the_panel_and_the_list_revoke_and_filter(app, issuer, logged_in):
    ada = mark_latest(issue(issuer, name="Ada", action="publish"), "sent")
    alan = mark_latest(issue(issuer, name="Alan", email="alan@example.com", action="publish"),
                       "sent")
    draft = issue(issuer, name="Grace", email="grace@example.com")
    assert logged_in.post(f"/credentials/{ada.id}/revoke",
                          data={"reason": ""}).status_code == 422
    response = logged_in.post(f"/credentials/{ada.id}/revoke", data={"reason": "Duplicate"})
    assert response.status_code == 200 and "Reinstate" in response.text
    preview = logged_in.post("/credentials/bulk/revoke-preview", headers={"HX-Request": "true"},
                             data={"mode": "selected", "ids": [ada.id, alan.id, draft.id]})
    assert "Revoke <strong>1</strong>" in preview.text
    assert "already revoked" in preview.text and "not published" in preview.text
    refused = logged_in.post("/credentials/bulk/revoke", headers={"HX-Request": "true"},
                             data={"mode": "selected", "ids": [alan.id], "reason": "\n"})
    assert refused.status_code == 422 and "Say why" in refused.text
    done = logged_in.post("/credentials/bulk/revoke", headers={"HX-Request": "true"},
                          data={"mode": "selected", "ids": [alan.id], "reason": "Course cancelled"})
    assert "Revoked 1 credential" in done.text
    assert done.headers["HX-Trigger"] == "credentials-changed"
    page = logged_in.get("/credentials?revoked=1").text
    assert page.count('class="revoked-mark"') == 2 and "Grace" not in page
    assert 'Revoked only <span class="count">2</span>' in page


def test_revoked_and_expired_credentials_get_no_reminder_but_a_notice_before_expiry(
        app, issuer):
    app.config["EXPIRY_NOTICE_DAYS"] = 30
    issuer.org.reminder_after_days, issuer.org.reminder_max = 1, 3
    soon, later, revoked, expired = [
        mark_latest(issue(issuer, name=name, email=f"{name}@example.com", action="publish"),
                    "sent") for name in ("soon", "later", "revoked", "expired")]
    for credential, days in ((soon, 10), (later, 60), (revoked, 10), (expired, -1)):
        credential.expires_at = utcnow() + timedelta(days=days)
        credential.latest_message.sent_at = utcnow() - timedelta(days=2)
    revoked.revoked_at, revoked.revocation_reason = utcnow(), "Wrong person"
    db.session.commit()
    assert send_expiry_notices() == 1
    assert send_expiry_notices() == 0  # one notice each
    db.session.rollback()
    notice = soon.latest_message
    assert notice.purpose == "expiry_notice"
    mail = compose(notice)
    assert mail.subject.startswith("Your credential expires on ")
    assert "Your credential expires on" in mail.body
    # Reminders go to neither the revoked nor the expired.
    assert send_reminders() == 1
    db.session.rollback()
    assert later.latest_message.purpose == "reminder"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailMessage)) == 6
