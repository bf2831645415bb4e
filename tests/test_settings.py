"""Organization sender settings, and the delivery email that uses them."""

import pytest
from conftest import PASSWORD, Auth, issue, make_app, mark_latest

from accounts import create_user
from mailer.compose import compose
from models import IntakeStatus, db, write_transaction


def test_custom_sender_is_used_by_delivery_emails(logged_in, issuer):
    """Its name at once; its address once its domain is verified (test_sender_domains)."""
    page = logged_in.get("/settings/")
    assert page.status_code == 200 and "credentials@issuer.test" in page.text
    response = logged_in.post("/settings/", data={
        "section": "sender", "sender-sender_name": "Acme Certificates",
        "sender-sender_address": "certs@acme.test", "sender-reply_to": "help@acme.test"})
    assert response.status_code == 302
    mail = compose(issue(issuer, action="publish").latest_message)
    assert mail.sender == ("Acme Certificates", "credentials@issuer.test")
    assert mail.reply_to == ("", "help@acme.test")


def test_empty_fields_fall_back_to_the_defaults(logged_in, issuer):
    logged_in.post("/settings/", data={"section": "sender", "sender-sender_name": "X",
                                       "sender-sender_address": "x@acme.test"})
    logged_in.post("/settings/", data={"section": "sender", "sender-sender_name": " ",
                                       "sender-sender_address": "", "sender-reply_to": ""})
    db.session.rollback()
    org = issuer.org
    assert (org.sender_name, org.sender_address, org.reply_to) == (None, None, None)
    mail = compose(issue(issuer, action="publish").latest_message)
    assert mail.sender == ("Acme Academy", "credentials@issuer.test") and mail.reply_to is None


@pytest.mark.parametrize("fields, message", [
    ({"sender_address": "certs@acme"}, "is not a valid address"),
    ({"reply_to": "help@acme.test\r\nBcc: x@example.com"}, "line breaks"),
    ({"sender_name": "Acme\r\nBcc: x@example.com"}, "line breaks"),
    ({"sender_name": "x" * 201}, "at most 200"),
])
def test_bad_settings_are_refused_and_kept_for_editing(logged_in, issuer, fields, message):
    response = logged_in.post("/settings/", data={"section": "sender", **{
        f"sender-{key}": value for key, value in fields.items()}})
    assert response.status_code == 422 and message in response.text
    db.session.rollback()
    assert issuer.org.sender_address is None and issuer.org.sender_name is None


def test_settings_need_login(client, issuer):
    assert client.get("/settings/").status_code == 302


def test_a_sender_with_a_display_name_is_shown_as_name_and_address(tmp_path):
    app = make_app(tmp_path, MAIL_DEFAULT_SENDER="Tracker Mail <certificates@acme.example>")
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme, Inc.", PASSWORD)
        for i in range(3):
            mark_latest(issue(user, email=f"p{i}@corp.test", action="publish"), "bounced",
                        code="blocked")
        client = app.test_client()
        Auth(client).login()
        settings = client.get("/settings/").text
        assert "<strong>certificates@acme.example</strong>" in settings
        assert 'placeholder="certificates@acme.example"' in settings
        assert "&lt;certificates" not in settings
        page = client.get("/credentials").text
        assert ("Please allow email from certificates@acme.example (sender name "
                '"Acme, Inc.")') in page
        db.engine.dispose()


def test_the_bounce_intake_is_explained_with_what_to_set_up(tmp_path):
    app = make_app(tmp_path, BOUNCE_ADDRESS="bounces@bounce.acme.example",
                   BOUNCE_IMAP_HOST="imap.acme.example", BOUNCE_IMAP_USER="bounces",
                   MAILGUN_WEBHOOK_SIGNING_KEY="key-1",
                   PUBLIC_BASE_URL="https://credentials.acme.example")
    with app.app_context():
        create_user("issuer@acme.test", "Acme", PASSWORD)
        with write_transaction() as connection:
            IntakeStatus.note(connection, "mailgun")
            IntakeStatus.note(connection, "mailbox", "OSError: connection refused")
        client = app.test_client()
        Auth(client).login()
        page = " ".join(client.get("/settings/").text.split())
        assert "bounces+&lt;tag&gt;@bounce.acme.example" in page
        assert "bounce.acme.example. 3600 IN MX 10 mail.bounce.acme.example." in page
        assert "bounces@imap.acme.example:993" in page and "nothing received yet" in page
        assert "OSError: connection refused" in page
        assert "https://credentials.acme.example/webhooks/sendgrid" in page
        assert "off (set <code>SENDGRID_WEBHOOK_PUBLIC_KEY</code>)" in page
        mailgun = page[page.index("Mailgun"):page.index("Postmark")]
        assert "on, last worked" in mailgun
        db.engine.dispose()
