"""The development outbox shows caught mail to the issuer whose mail it is."""

import re

import pytest
from conftest import PASSWORD, issue, make_app
from smtp_server import free_port

from accounts import create_user
from mailer import catcher, signing
from mailer.queue import send_due
from models import db


@pytest.fixture
def dev_app(tmp_path):
    port = free_port()
    app = make_app(tmp_path, MAIL_SERVER=None, MAIL_PORT=port, DEV_MAIL_CATCHER=True)
    app.instance_path = str(tmp_path)  # keep the Maildir inside the test's folder
    assert app.config["DEV_MAIL_CATCHER"]
    with app.app_context():
        controller = catcher.start(app)
        yield app
        controller.stop()
        db.session.remove()
        db.engine.dispose()


def login(client, email):
    client.post("/login", data={"email": email, "password": PASSWORD})


def test_caught_mail_is_listed_shown_and_opening_it_loads_the_image(dev_app):
    user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    rival = create_user("issuer@rival.test", "Rival", PASSWORD)
    mine = issue(user, name="Jane Doe", action="publish")
    issue(user, name="Nobody", email="nobody@nowhere.invalid", action="publish")
    issue(rival, name="Their Recipient", email="them@example.com", action="publish")
    assert send_due() == {"claimed": 3, "sent": 2, "bounced": 1}
    db.session.expire_all()
    assert mine.email_status == "not_opened"

    client = dev_app.test_client()
    login(client, "issuer@acme.test")
    listing = client.get("/outbox/").text
    assert "Jane Doe &lt;jane@example.com&gt;" in listing
    assert "Their Recipient" not in listing and "nowhere.invalid" not in listing
    key = re.search(r'href="/outbox/([^"]+)"', listing).group(1)
    shown = client.get(f"/outbox/{key}").text
    assert 'sandbox="allow-popups' in shown and f'src="/outbox/{key}/body"' in shown
    body = client.get(f"/outbox/{key}/body")
    assert f"/t/{mine.latest_message.token}.gif" in body.text  # the frame will load the image
    # The mail's own inline styles and outside images, no scripts, framed only by the outbox.
    policy = body.headers["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in policy and "img-src * data:" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and "sandbox" in policy
    assert client.get("/outbox/not-a-key").status_code == 404


def test_outbox_needs_login_and_the_development_catcher(client, issuer):
    assert client.get("/outbox/").status_code == 302
    client.post("/login", data={"email": "issuer@acme.test", "password": PASSWORD})
    assert client.get("/outbox/").status_code == 404  # a real mail server is configured


def test_a_signed_mail_shows_its_dkim_signature_among_its_headers(tmp_path):
    port = free_port()
    app = make_app(tmp_path, MAIL_SERVER=None, MAIL_PORT=port, DEV_MAIL_CATCHER=True,
                   DKIM_PRIVATE_KEY=signing.new_key(), DKIM_SELECTOR="dev",
                   DKIM_DOMAIN="tracker.localhost")
    app.instance_path = str(tmp_path)
    with app.app_context():
        controller = catcher.start(app)
        try:
            user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
            issue(user, name="Jane <b>Doe</b>", action="publish")
            assert send_due()["sent"] == 1
            client = app.test_client()
            login(client, "issuer@acme.test")
            key = re.search(r'href="/outbox/([^"]+)"', client.get("/outbox/").text).group(1)
            shown = client.get(f"/outbox/{key}").text
            assert "All headers (signed with DKIM)" in shown
            assert re.search(r"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; "
                             r"d=tracker.localhost;", shown)
            assert "Jane &lt;b&gt;Doe&lt;/b&gt;" in shown  # escaped like the rest
        finally:
            controller.stop()
            db.session.remove()
            db.engine.dispose()
