"""Verified sender domains: the custom From only after its DNS TXT record was found, as a
real DNS server (mailer/dev_dns.py) answers and a real SMTP server receives the mail."""

import email
import email.policy
import re

import pytest
from conftest import PASSWORD, issue, make_app

from accounts import create_user
from app import ConfigError
from mailer import sender_domains
from mailer.queue import send_due
from models import db

RECORD = "_credential-tracker.acme.test"


def save_sender(client, address, name="Acme Certificates", reply_to=""):
    response = client.post("/settings/", data={
        "section": "sender", "sender-sender_name": name, "sender-sender_address": address,
        "sender-reply_to": reply_to})
    assert response.status_code == 302


def shown_value(page):
    """The TXT value the Settings page tells the issuer to add."""
    found = re.findall(r"<code>(credential-tracker-verification=[^<]+)</code>", page)
    assert len(found) == 1, "one record to add"
    return found[0]


def check(client):
    response = client.post("/settings/sender-domain/check")
    assert response.status_code == 302
    return client.get("/settings/").text


def received_headers(sink, user, number):
    """Issue and send one email; the headers and MAIL FROM the SMTP server received."""
    issue(user, email=f"p{number}@example.com", action="publish")
    assert send_due()["sent"] == 1
    sink.wait_for(number)
    raw = sink.received[number - 1][2]
    return email.message_from_bytes(raw, policy=email.policy.default), \
        sink.envelope_senders[number - 1]


def test_the_custom_sender_is_used_once_its_domain_is_verified(site, sink, dns_server):
    app, client, user = site
    save_sender(client, "certs@acme.test")
    page = client.get("/settings/").text
    assert "Not verified." in page and RECORD in page
    value = shown_value(page)
    token = value.partition("=")[2]
    assert len(token) >= 32  # unguessable

    # Not verified: our address in From with the organization's name; replies to its own.
    headers, envelope = received_headers(sink, user, 1)
    assert headers["From"] == "Acme Certificates <credentials@issuer.test>"
    assert headers["Reply-To"] == "certs@acme.test"
    assert envelope == "credentials@issuer.test" and headers["Sender"] is None

    dns_server.records[RECORD] = ["v=spf1 -all", value]
    page = check(client)
    assert (RECORD, "TXT") in dns_server.queries
    assert re.search(r"<strong>Verified</strong> on\s+<time[^>]*>\d{4}-\d\d-\d\d</time>", page)
    assert "credential-tracker-verification=" not in page  # nothing left to add

    # Verified: From is the organization's address, Sender the one that actually sends.
    headers, envelope = received_headers(sink, user, 2)
    assert headers["From"] == "Acme Certificates <certs@acme.test>"
    assert headers["Reply-To"] is None
    assert headers["Sender"] == "credentials@issuer.test" == envelope

    # Another domain is verified afresh, with a token of its own.
    save_sender(client, "certs@other.test")
    page = client.get("/settings/").text
    assert "Not verified." in page and "_credential-tracker.other.test" in page
    assert shown_value(page) != value
    headers, _ = received_headers(sink, user, 3)
    assert headers["From"] == "Acme Certificates <credentials@issuer.test>"
    assert headers["Reply-To"] == "certs@other.test"


def test_the_same_domain_stays_verified_and_a_reply_to_is_kept(site, sink, dns_server):
    app, client, user = site
    save_sender(client, "certs@acme.test")
    dns_server.records[RECORD] = [shown_value(client.get("/settings/").text)]
    check(client)
    save_sender(client, "office@ACME.test", reply_to="help@acme.test")
    assert "<strong>Verified</strong>" in client.get("/settings/").text
    headers, _ = received_headers(sink, user, 1)
    assert headers["From"] == "Acme Certificates <office@acme.test>"
    assert headers["Reply-To"] == "help@acme.test"


def test_with_verp_the_sender_header_names_the_envelope(tmp_path, sink):
    app = make_app(tmp_path, MAIL_PORT=sink.port, BOUNCE_ADDRESS="bounces@bounce.acme.test")
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        headers, envelope = received_headers(sink, user, 1)
        assert envelope.startswith("bounces+") and headers["Sender"] == envelope
        assert headers["From"] == "Acme Academy <credentials@issuer.test>"
        db.engine.dispose()


@pytest.mark.parametrize("records, silent, says, found", [
    ({RECORD: ["credential-tracker-verification=guessed"]}, False,
     "a TXT record is there, but not with this token",
     "credential-tracker-verification=guessed"),
    ({}, False, "the name does not exist in DNS", f"{RECORD} does not exist"),
    ({RECORD: []}, False, "the name exists but has no TXT record", "has no TXT record"),
    ({}, True, "DNS did not answer in time", "no answer within 0.5 s"),
])
def test_a_failed_check_says_what_was_found(site, sink, dns_server, records, silent, says,
                                            found):
    app, client, user = site
    save_sender(client, "certs@acme.test")
    dns_server.records.update(records)
    if silent:
        dns_server.silent.add(RECORD)
        app.config["DNS_TIMEOUT_SECONDS"] = 0.5
    response = client.post("/settings/sender-domain/check", follow_redirects=True)
    assert response.status_code == 200
    assert f"acme.test is not verified: {says}" in response.text  # the flash
    assert re.search(r"The check on\s+<time[^>]*>[^<]+</time>\s+failed: " + re.escape(says),
                     response.text)
    assert found in response.text and "Not verified." in response.text
    headers, _ = received_headers(sink, user, 1)
    assert headers["From"] == "Acme Certificates <credentials@issuer.test>"


def test_a_record_gone_ends_the_verification_a_silent_dns_does_not(site, sink, dns_server):
    app, client, user = site
    save_sender(client, "certs@acme.test")
    value = shown_value(client.get("/settings/").text)
    dns_server.records[RECORD] = [value]
    check(client)
    dns_server.silent.add(RECORD)
    app.config["DNS_TIMEOUT_SECONDS"] = 0.5
    page = check(client)
    assert "<strong>Verified</strong>" in page and "DNS did not answer in time" in page
    dns_server.silent.clear()
    dns_server.records[RECORD] = ["credential-tracker-verification=old"]
    assert "Not verified." in check(client)


def test_checking_needs_a_sender_login_and_the_csrf_token(tmp_path, dns_server):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True, DNS_RESOLVER=dns_server.address)
    with app.app_context():
        create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        client = app.test_client()
        assert client.post("/settings/sender-domain/check").status_code == 400  # no token
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/login", data={"email": "issuer@acme.test", "password": PASSWORD,
                                    "csrf_token": token})
        # The login started a fresh session: the form's token comes from a page after it.
        settings = client.get("/settings/").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', settings).group(1)
        response = client.post("/settings/sender-domain/check", data={"csrf_token": token},
                               follow_redirects=True)
        assert "Nothing to check: save a sender address first." in response.text
        assert dns_server.queries == []
        db.engine.dispose()


@pytest.mark.parametrize("setting, message", [
    ({"DNS_RESOLVER": "127.0.0.1:fifty-three"}, "DNS_RESOLVER: write it as 127.0.0.1"),
    ({"ORG_DAILY_LIMIT": 0}, "ORG_DAILY_LIMIT must be 1 or more"),
])
def test_a_bad_setting_stops_the_start(tmp_path, setting, message):
    with pytest.raises(ConfigError, match=message):
        make_app(tmp_path, **setting)


@pytest.mark.parametrize("text, server", [
    ("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("[::1]:5353", ("::1", 5353)), ("::1", ("::1", 53)),
])
def test_the_dns_server_setting_is_read(text, server):
    assert sender_domains.parse_server(text) == server


def test_checks_are_limited_to_a_few_a_minute(site, sink, dns_server, still_clock):
    app, client, user = site
    save_sender(client, "certs@acme.test")
    for _ in range(6):
        assert "is not verified" in client.post("/settings/sender-domain/check",
                                                follow_redirects=True).text
    asked = len(dns_server.queries)
    response = client.post("/settings/sender-domain/check", follow_redirects=True)
    assert response.status_code == 200
    assert "Checked several times just now" in response.text
    assert "Check again in" in response.text and "is not verified" not in response.text
    assert len(dns_server.queries) == asked  # the seventh asked DNS nothing
