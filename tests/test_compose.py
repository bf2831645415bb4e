"""The delivery email: both parts, tokens in the links, the stored Message-ID."""

import re

from conftest import issue

from mailer.compose import compose


def test_delivery_email(issuer, app):
    app.config["PUBLIC_BASE_URL"] = "https://credentials.example.org"
    credential = issue(issuer, name="Zoë <O'Brien>", action="publish")
    message = credential.latest_message
    mail = compose(message)
    assert mail.msgId == message.message_id
    assert mail.subject == "Your credential: Course A"
    assert mail.sender == "Acme Academy <credentials@issuer.test>"
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
