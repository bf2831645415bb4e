"""DKIM: an organization's own key for its verified domain, published in a real DNS server
(mailer/dev_dns.py) and checked; the default sender's key from the settings; what a real
SMTP server receives verifies with dkimpy, and a changed header breaks it. A retry sends the
bytes signed the first time."""

import re

import dkim
import pytest
import sqlalchemy as sa
from conftest import PASSWORD, api_for, issue, make_app

from accounts import create_user
from app import ConfigError
from mailer import sender_domains, signing
from mailer.queue import send_due
from models import EmailMessage, Organization, SignedMessage, db
from models.types import utcnow

OWNERSHIP = "_credential-tracker.acme.test"


def dns_lookup(app):
    """A dnsfunc for dkimpy that asks the test's DNS server, as a receiver would ask DNS."""
    def lookup(name, timeout=5):
        code, texts = sender_domains.txt_records(name.decode().rstrip("."), app.config)
        return texts[0].encode() if code == "found" else None
    return lookup


def publish_all(client, dns_server, spf="v=spf1 include:relay.example ~all"):
    """Save the sender, publish the records the Settings page shows, and check them."""
    response = client.post("/settings/", data={
        "section": "sender", "sender-sender_name": "Acme", "sender-sender_address":
        "certs@acme.test", "sender-reply_to": ""})
    assert response.status_code == 302
    page = client.get("/settings/").text
    token = re.search(r"<code>(credential-tracker-verification=[^<]+)</code>", page)[1]
    name = re.search(r"<code>(ct\d{6}\._domainkey\.acme\.test)</code>", page)[1]
    value = re.search(r'<code class="long">(v=DKIM1; k=rsa; p=[^<]+)</code>', page)[1]
    dns_server.records.update({OWNERSHIP: [token], name: [value], "acme.test": [spf],
                               "_dmarc.acme.test": ["v=DMARC1; p=reject"]})
    assert client.post("/settings/sender-domain/check").status_code == 302
    return name, value


def send_one(sink, user, number, address=None):
    issue(user, email=address or f"p{number}@example.com", action="publish")
    send_due()
    sink.wait_for(number)
    return sink.received[number - 1][2]


def test_mail_from_the_verified_domain_is_signed_with_its_published_key(site, sink,
                                                                          dns_server):
    app, client, user = site
    raw = send_one(sink, user, 1)
    assert b"DKIM-Signature" not in raw  # nothing to sign with yet

    name, value = publish_all(client, dns_server)
    org = db.session.get(Organization, user.org_id)
    assert org.sender_verified and org.dkim_found_at is not None
    assert len(signing.public_key_text(signing.unseal_key(org, app.config))) > 350  # 2048 bits
    page = client.get("/settings/").text
    assert "Found: emails from acme.test are signed with this key." in page

    raw = send_one(sink, user, 2)
    assert raw.startswith(b"DKIM-Signature: ")
    assert dkim.verify(raw, dnsfunc=dns_lookup(app))
    signature = dkim.DKIM(raw)
    signature.verify(dnsfunc=dns_lookup(app))
    assert signature.domain == b"acme.test" and signature.selector == name.split(".")[0].encode()
    assert {b"from", b"to", b"subject", b"date", b"message-id"} <= set(
        signature.include_headers)

    # A header changed on the way, or the body, breaks it.
    assert not dkim.verify(re.sub(rb"\r\nSubject: [^\r]*", b"\r\nSubject: Pay now", raw),
                           dnsfunc=dns_lookup(app))
    assert not dkim.verify(raw.replace(b"From: Acme <certs@acme.test>",
                                       b"From: Acme <boss@acme.test>"),
                           dnsfunc=dns_lookup(app))
    assert not dkim.verify(raw[:-40] + b"X" + raw[-39:], dnsfunc=dns_lookup(app))

    # The record removed: the next check stops the signing (a silent DNS would not).
    del dns_server.records[name]
    client.post("/settings/sender-domain/check")
    db.session.refresh(org)
    assert org.dkim_found_at is None
    assert b"DKIM-Signature" not in send_one(sink, user, 3)


def test_a_record_with_another_key_is_not_found(site, dns_server):
    app, client, user = site
    name, value = publish_all(client, dns_server)
    other = signing.public_key_text(signing.new_key())
    dns_server.records[name] = [f"v=DKIM1; k=rsa; p={other}"]
    client.post("/settings/sender-domain/check")
    org = db.session.get(Organization, user.org_id)
    db.session.refresh(org)
    assert org.dkim_found_at is None
    assert "has a TXT record, but not with this key" in client.get("/settings/").text


def test_a_retry_sends_the_bytes_signed_the_first_time(site, sink, dns_server, monkeypatch):
    app, client, user = site
    publish_all(client, dns_server)
    signed = []
    sign = signing.sign
    monkeypatch.setattr(signing, "sign", lambda *a: signed.append(sign(*a)) or signed[-1])
    sink.answer("late@example.com", "451 4.7.1 Greylisted, please try again")
    issue(user, email="late@example.com", action="publish")
    assert send_due()["retry"] == 1
    kept = db.session.scalars(sa.select(SignedMessage)).one()
    assert kept.raw == signed[0].raw
    with db.engine.begin() as connection:  # still waiting for its retry: kept
        SignedMessage.forget_done(connection)
    assert db.session.scalars(sa.select(SignedMessage)).one() is kept

    # The organization's subject changes meanwhile: the retry still sends what was signed.
    org = db.session.get(Organization, user.org_id)
    org.email_subject = "Something else"
    db.session.execute(sa.update(EmailMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert send_due()["sent"] == 1
    sink.wait_for(1)
    assert sink.received[0][2] == kept.raw and len(signed) == 1
    assert dkim.verify(sink.received[0][2], dnsfunc=dns_lookup(app))

    # Once sent, the upkeep forgets the bytes.
    with db.engine.begin() as connection:
        SignedMessage.forget_done(connection)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SignedMessage)) == 0


def test_the_default_sender_signs_with_the_configured_key(tmp_path, sink, dns_server):
    pem = signing.new_key()
    key_file = tmp_path / "dkim.pem"
    key_file.write_text(pem)
    app = make_app(tmp_path, MAIL_PORT=sink.port, DNS_RESOLVER=dns_server.address,
                   DKIM_PRIVATE_KEY=str(key_file), DKIM_SELECTOR="mail",
                   DKIM_DOMAIN="issuer.test")
    dns_server.records["mail._domainkey.issuer.test"] = [
        f"v=DKIM1; k=rsa; p={signing.public_key_text(pem)}"]
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        raw = send_one(sink, user, 1)
        assert b"From: Acme Academy <credentials@issuer.test>" in raw
        signature = dkim.DKIM(raw)
        assert signature.verify(dnsfunc=dns_lookup(app))
        assert signature.domain == b"issuer.test"
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(("settings", "says"), [
    ({"DKIM_SELECTOR": "mail"}, "set DKIM_PRIVATE_KEY, DKIM_SELECTOR and DKIM_DOMAIN together"),
    ({"DKIM_PRIVATE_KEY": "/no/such/file.pem", "DKIM_SELECTOR": "s", "DKIM_DOMAIN": "x.test"},
     "cannot read /no/such/file.pem"),
    ({"DKIM_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----",
      "DKIM_SELECTOR": "s", "DKIM_DOMAIN": "x.test"}, "not an unencrypted PEM private key"),
])
def test_dkim_settings_that_make_no_signer_stop_the_start(tmp_path, settings, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        make_app(tmp_path, **settings)


def test_the_api_tells_the_sender_state(site, dns_server):
    app, client, user = site
    api = api_for(client, user)
    empty = api.get("/api/v1/organization/sender").get_json()
    assert empty["domain"] is None and empty["dkim"]["found"] is False
    assert empty["paused"] is None

    name, value = publish_all(client, dns_server, spf="v=spf1 mx -all")
    state = api.get("/api/v1/organization/sender").get_json()
    assert state["domain"] == "acme.test" and state["verified"] is True
    assert state["dkim"] == {"selector": name.split(".")[0], "record_name": name,
                             "record_value": value, "found": True}
    assert state["dmarc"] == {"record": "v=DMARC1; p=reject", "ok": True, "advice": (
        "DMARC is published with p=reject, and your emails are signed with DKIM for "
        "acme.test, which it needs.")}
    assert state["spf"]["record"] == "v=spf1 mx -all" and state["spf"]["ok"] is True


def test_another_domain_is_not_signed_until_its_own_record_is_found(site, sink, dns_server):
    app, client, user = site
    publish_all(client, dns_server)
    client.post("/settings/", data={"section": "sender", "sender-sender_name": "Acme",
                                    "sender-sender_address": "certs@other.test",
                                    "sender-reply_to": ""})
    page = client.get("/settings/").text
    # What was read of acme.test is not shown for other.test.
    assert "include:relay.example" not in page and "v=DMARC1" not in page
    assert page.count("Not checked yet: check the DNS records.") == 3
    token = re.search(r"<code>(credential-tracker-verification=[^<]+)</code>", page)[1]
    dns_server.records["_credential-tracker.other.test"] = [token]  # ownership only
    assert client.post("/settings/sender-domain/check").status_code == 302
    org = db.session.get(Organization, user.org_id)
    db.session.refresh(org)
    assert org.sender_verified and org.dkim_found_at is None
    raw = send_one(sink, user, 1)
    assert b"From: Acme <certs@other.test>" in raw and b"DKIM-Signature" not in raw
