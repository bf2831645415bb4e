"""The delivery email: both parts, tokens in the links, the stored Message-ID."""

import email
import email.policy
import re

import pytest
from conftest import PASSWORD, SENDER_CASES, assert_sender_parts, issue, make_app

from accounts import create_user
from mailer.compose import compose
from models import db


def test_delivery_email(issuer, app):
    app.config["PUBLIC_BASE_URL"] = "https://credentials.example.org"
    credential = issue(issuer, name="Zoë <O'Brien>", action="publish")
    message = credential.latest_message
    mail = compose(message)
    assert mail.msgId == message.message_id
    assert mail.subject == "Your credential: Course A"
    assert mail.sender == ("Acme Academy", "credentials@issuer.test")
    assert mail.recipients == [("Zoë <O'Brien>", "jane@example.com")]
    link = f"https://credentials.example.org/r/{message.token}"
    pixel = f"https://credentials.example.org/t/{message.token}.gif"
    assert link in mail.body and link in mail.html
    assert f'<img src="{pixel}" width="1" height="1"' in mail.html
    assert pixel not in mail.body
    assert "Zoë &lt;O&#39;Brien&gt;" in mail.html and "Zoë <O'Brien>" in mail.body
    # Tokens, never row ids, in every URL of the email.
    for url in re.findall(r"https://credentials\.example\.org/\S+?(?=[\"\s<])", mail.html):
        assert message.token in url or credential.token in url
    raw = mail.as_bytes()
    assert b"Message-ID: " + message.message_id.encode() in raw
    assert not mail.has_bad_headers()
    # The two alternatives alone, not wrapped in a multipart/mixed of one part.
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert [part.get_content_type() for part in parsed.walk()] == [
        "multipart/alternative", "text/plain", "text/html"]
    assert raw.count(b"MIME-Version: 1.0") == 1
    assert link in parsed.get_body(("plain",)).get_content()


@pytest.mark.parametrize("configured, org_name, from_line", SENDER_CASES)
def test_sender_name_and_address_stay_apart(tmp_path, configured, org_name, from_line):
    app = make_app(tmp_path, MAIL_DEFAULT_SENDER=configured)
    with app.app_context():
        user = create_user("issuer@acme.test", org_name, PASSWORD)
        user.org.reply_to = "office@acme.example"
        message = issue(user, action="publish").latest_message
        assert message.message_id.endswith("@acme.example>")
        assert_sender_parts(compose(message).as_bytes(), from_line)
        db.engine.dispose()
