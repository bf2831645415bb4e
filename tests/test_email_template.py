"""The issuer's own email: Markdown and placeholders in both parts, what a template may not
carry into an email, refused templates, a group's template for that group only, and the
API and Settings pages that edit and preview them."""

import email
import email.policy

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, api_for, issue

from accounts import create_user
from mailer import wording
from mailer.compose import compose
from mailer.queue import send_due
from models import EmailEvent, EmailMessage, FunnelCount, StatusCount, WebhookMessage, db

TEMPLATE = ("Dear {recipient_name},\n\n**{organization_name}** awards you *{credential_name}* "
            "on {issue_date}.\n\n- Read [our guide](https://example.org/guide)\n"
            "- Ask [us](mailto:help@example.org)")
ATTACKS = ("<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n<!-- hidden -->\n\n"
           "[click](javascript:alert(3)) <a href=\"javascript:alert(4)\">here</a> "
           "[plain](http://example.org/) <b onclick=\"alert(5)\">bold</b>")


def parts(mail):
    """(text part, html part) of a composed email, as a mail client would read them."""
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    text, html = (part.get_content() for part in parsed.walk() if not part.is_multipart())
    return text, html


def test_markdown_and_placeholders_in_both_parts(issuer, api):
    assert api.put("/api/v1/organization/template", json={
        "subject": "{organization_name}: {credential_name} for {recipient_name}",
        "message": TEMPLATE}).status_code == 200
    credential = issue(issuer, name="Ada <b>**Lovelace**</b> https://evil.example",
                       action="publish")
    mail = compose(credential.latest_message)
    name = "Ada <b>**Lovelace**</b> https://evil.example"
    assert mail.subject == f"Acme Academy: Course A for {name}"
    text, html = parts(mail)
    # Markdown is markup in the HTML part; the name is text in both parts, as written.
    assert "<strong>Acme Academy</strong> awards you <em>Course A</em> on " in html
    assert '<a href="https://example.org/guide" rel="noopener noreferrer">our guide</a>' in html
    assert "<li>Ask <a href=\"mailto:help@example.org\"" in html
    assert "Dear Ada &lt;b&gt;**Lovelace**&lt;/b&gt; https://evil.example," in html
    assert 'href="https://evil.example' not in html
    assert f"Dear {name}," in text and "**Acme Academy** awards you *Course A*" in text
    # Ours stays: the button and the tracking image.
    assert "View your credential" in html and "/t/" in html

    # A reminder says so in its subject.
    words = wording.render("{credential_name}", "Hi", wording.values_for(credential),
                           reminder=True)
    assert words.subject == "Reminder: Course A"


def test_attacks_in_a_template_never_reach_the_email_as_markup(issuer, api):
    assert api.put("/api/v1/organization/template", json={
        "subject": "Yours", "message": ATTACKS}).status_code == 200
    _, html = parts(compose(issue(issuer, action="publish").latest_message))
    message = html.split("<div", 1)[1].split("</div>", 1)[0]  # the issuer's words
    for markup in ("<script", "alert(1)", "<img", "onerror", "<!--", "hidden",
                   'href="javascript', "onclick", 'href="http://example.org'):
        assert markup not in message, markup
    # A link Markdown refuses stays text; an HTML one loses its address.
    assert "[click](javascript:alert(3))" in message and "alert(4)" not in message
    assert "<b>bold</b>" in message  # what may stay stays, without its handler


def test_refused_templates_name_their_field(issuer, api, logged_in):
    for body, field in [({"subject": "Hi {first_name}", "message": "x"}, "subject"),
                        ({"subject": "", "message": "x"}, "subject"),
                        ({"subject": "Hi", "message": "{recipient_name!r}"}, "message"),
                        ({"subject": "Hi", "message": "a lone { brace"}, "message"),
                        ({"subject": "Hi", "message": "x" * 5001}, "message"),
                        ({"subject": "Hi", "message": "bad \ud800"}, "message"),
                        ({"subject": 5, "message": "x"}, "subject")]:
        answer = api.put("/api/v1/organization/template", json=body)
        assert answer.status_code == 422 and list(answer.json["error"]["fields"]) == [field]
    response = logged_in.post("/settings/email/", data={"subject": "Hi {nickname}",
                                                        "message": "Hello"})
    assert response.status_code == 422 and "unknown placeholder {nickname}" in response.text
    db.session.rollback()
    assert issuer.org.email_subject is None  # nothing saved
    group = api.post("/api/v1/groups", json={"name": "Course B"}).json
    answer = api.patch(f"/api/v1/groups/{group['id']}", json={"email_message": "{oops}"})
    assert answer.status_code == 422 and "email_message" in answer.json["error"]["fields"]


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_a_groups_template_wins_for_that_group_only(app, client, issuer, rival, api):
    groups = api.get("/api/v1/groups").json["items"]
    assert groups == []
    first_aid = api.post("/api/v1/groups", json={
        "name": "First aid", "description": "Saves lives", "validity_months": 24}).json
    assert first_aid["validity_months"] == 24 and first_aid["email_subject"] is None
    assert api.post("/api/v1/groups", json={"name": "First aid"}).status_code == 409
    assert api.post("/api/v1/groups", json={"name": "X", "validity_months": 0}
                    ).status_code == 422
    answer = api.patch(f"/api/v1/groups/{first_aid['id']}", json={
        "email_subject": "Well done, {recipient_name}",
        "email_message": "Your *{credential_name}*"})
    assert answer.status_code == 200 and answer.json["email_subject"].startswith("Well done")
    assert api_for(client, rival).patch(f"/api/v1/groups/{first_aid['id']}",
                                        json={"name": "Mine"}).status_code == 404

    aided = issue(issuer, name="Ada", group="First aid", action="publish")
    other = issue(issuer, name="Alan", group="Course A", action="publish")
    assert compose(aided.latest_message).subject == "Well done, Ada"
    assert "<em>First aid</em>" in parts(compose(aided.latest_message))[1]
    assert compose(other.latest_message).subject == "Your credential: Course A"
    # A null field is the organization's again.
    api.patch(f"/api/v1/groups/{first_aid['id']}", json={"email_subject": None})
    db.session.expire_all()
    assert compose(aided.latest_message).subject == "Your credential: First aid"

    preview = api.post("/api/v1/templates/preview", json={"group_id": first_aid["id"]}).json
    assert preview["subject"] == "Your credential: First aid"
    assert preview["html"] == "<p>Your <em>First aid</em></p>\n" and preview["text"]
    assert api.post("/api/v1/templates/preview", json={"message": "{x}"}).status_code == 422


def test_settings_page_saves_and_previews(issuer, logged_in):
    page = logged_in.get("/settings/email/")
    assert page.status_code == 200 and wording.DEFAULT_SUBJECT in page.text
    preview = logged_in.post("/settings/email/preview", data={
        "subject": "For {recipient_name}", "message": "**{credential_name}** <script>x</script>"})
    assert "For Ada Lovelace" in preview.text and "<strong>Python Fundamentals 2026</strong>" \
        in preview.text and "<script>" not in preview.text
    bad = logged_in.post("/settings/email/preview", data={"subject": "x", "message": "{x}"})
    assert "unknown placeholder {x}" in bad.text
    saved = logged_in.post("/settings/email/", data={"subject": "For {recipient_name}",
                                                     "message": "Hello"})
    assert saved.status_code == 302
    db.session.rollback()
    assert (issuer.org.email_subject, issuer.org.email_message) == ("For {recipient_name}",
                                                                     "Hello")
    logged_in.post("/settings/email/", data={"subject": wording.DEFAULT_SUBJECT,
                                             "message": wording.DEFAULT_MESSAGE})
    db.session.rollback()
    assert issuer.org.email_subject is None  # ours again, and follows ours


@pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)
def test_a_test_email_goes_through_the_queue_to_the_issuer_and_counts_nowhere(mail_app,
                                                                           sink):
    user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    user.org.email_subject = "Hello {recipient_name}"
    db.session.commit()
    client = mail_app.test_client()
    client.post("/login", data={"email": "issuer@acme.test", "password": PASSWORD})
    answer = client.post("/settings/email/test")
    assert answer.status_code == 302
    assert send_due()["claimed"] == 1
    ((recipient, _, raw),) = sink.received
    assert recipient == "issuer@acme.test"
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == "[Test] Hello Ada Lovelace" and mail["To"] == "issuer@acme.test"
    assert "/settings/email/" in mail.get_body(("plain",)).get_content()
    db.session.rollback()
    (test,) = db.session.scalars(sa.select(EmailMessage)).all()
    assert (test.state, test.credential_id, test.purpose) == ("sent", None, "test")
    # Opened: its message knows; no credential, count or webhook does.
    token = test.token
    assert client.get(f"/t/{token}.gif").status_code == 200
    assert client.get(f"/r/{token}").status_code == 404
    for model in (EmailEvent, FunnelCount, WebhookMessage, StatusCount):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0, model
