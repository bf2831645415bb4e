"""Provider webhooks: payloads in each provider's documented shape, signed here with keys
the test makes; verified, applied once, refused when wrong, off until configured."""

import base64
import hashlib
import hmac
import io
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, issue, make_app, mark_latest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from accounts import create_user
from bounces import provider_events
from models import Suppression, db
from models.types import utcnow

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-bounces"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def hooks(tmp_path):
    app = make_app(tmp_path, SENDGRID_WEBHOOK_PUBLIC_KEY=base64.b64encode(
        SENDGRID_KEY.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)).decode(),
        MAILGUN_WEBHOOK_SIGNING_KEY=SIGNING_KEY, POSTMARK_WEBHOOK_USER="postmark",
        POSTMARK_WEBHOOK_PASSWORD="s3cret-pass", SES_WEBHOOK=True, SES_TOPIC_ARNS=TOPIC)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def delivered(hooks):
    user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    return mark_latest(issue(user, action="publish"), "sent")


def timeline(credential):
    db.session.rollback()
    return [(e.type, e.code) for e in credential.events()]


# SendGrid -----------------------------------------------------------------------------


def sendgrid(client, events, key=SENDGRID_KEY, at=None):
    body = json.dumps(events).encode()
    timestamp = str(int(at if at is not None else time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return client.post("/webhooks/sendgrid", data=body, content_type="application/json",
                       headers={"X-Twilio-Email-Event-Webhook-Signature":
                                base64.b64encode(signature).decode(),
                                "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})


def sendgrid_event(message, event="bounce", **fields):
    return {"email": message.to_address, "timestamp": int(time.time()),
            "smtp-id": message.message_id, "event": event, "sg_event_id": f"sg-{event}-1",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            **fields}


def test_sendgrid_bounce_is_applied_once(hooks, delivered):
    client, message = hooks.test_client(), delivered.latest_message
    event = sendgrid_event(message, type="bounce", status="5.1.1",
                           reason="550 5.1.1 The email account that you tried to reach does "
                                  "not exist.")
    assert sendgrid(client, [event]).json == {"events": 1, "outcome": "applied"}
    assert sendgrid(client, [event]).json["outcome"] == "duplicate"
    assert timeline(delivered)[-1] == ("bounced", "mailbox_unknown")
    assert [kind for kind, _ in timeline(delivered)].count("bounced") == 1
    assert delivered.email_status == "bounced"
    detail = delivered.events()[-1].detail
    assert detail.startswith("A bounce report came back (from SendGrid, reported ")


def test_sendgrid_blocked_deferred_spamreport_delivered(hooks, delivered):
    client, message = hooks.test_client(), delivered.latest_message
    events = [sendgrid_event(message, "delivered", response="250 OK"),
              sendgrid_event(message, "deferred", response="451 4.7.1 Try later"),
              sendgrid_event(message, "spamreport"),
              sendgrid_event(message, "processed"),  # not ours to read: ignored
              sendgrid_event(message, "bounce", type="blocked", reason="554 blocked by IT")]
    for number, event in enumerate(events):
        event["sg_event_id"] = f"sg-{number}"
    assert sendgrid(client, events).json == {"events": 4, "outcome": "applied"}
    assert timeline(delivered)[-4:] == [("delivered", None), ("deferred", "server_busy"),
                                        ("complained", None), ("bounced", "blocked")]
    assert db.session.get(Suppression, (delivered.org_id, message.to_address)).reason == \
        "complained"


@pytest.mark.parametrize("tamper, status", [
    ("signature", 403), ("body", 403), ("old", 403), ("future", 403), ("missing", 403)])
def test_sendgrid_refuses_what_it_did_not_sign(hooks, delivered, tamper, status):
    client, message = hooks.test_client(), delivered.latest_message
    before = timeline(delivered)
    events = [sendgrid_event(message, type="bounce", reason="550 no such user")]
    if tamper == "signature":
        response = sendgrid(client, events, key=ec.generate_private_key(ec.SECP256R1()))
    elif tamper == "old":
        response = sendgrid(client, events, at=time.time() - 11 * 60)
    elif tamper == "future":
        response = sendgrid(client, events, at=time.time() + 11 * 60)
    elif tamper == "missing":
        response = client.post("/webhooks/sendgrid", json=events)
    else:
        good = sendgrid(hooks.test_client(), [])  # a valid signature of another body
        assert good.status_code == 200
        body = json.dumps(events).encode()
        response = client.post("/webhooks/sendgrid", data=body, headers={
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(SENDGRID_KEY.sign(
                b"1" + b"[]", ec.ECDSA(hashes.SHA256()))).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": "1"})
    assert response.status_code == status
    assert timeline(delivered) == before


def test_sendgrid_bad_bodies_are_answered_without_a_500(hooks, delivered):
    client = hooks.test_client()
    assert sendgrid(client, {"not": "a list"}).status_code == 400
    assert sendgrid(client, ["x", 1, None, {"event": "bounce"}]).status_code == 200
    assert sendgrid(client, [{"event": []}, {"event": {}, "email": []}]).status_code == 200
    # An event about no message of ours: answered 200, ignored.
    stranger = {"email": "nobody@nowhere.example", "event": "bounce", "sg_event_id": "s1",
                "smtp-id": "<nope@nowhere>", "timestamp": int(time.time())}
    assert sendgrid(client, [stranger]).json == {"events": 1, "outcome": "unknown"}


# Mailgun ----------------------------------------------------------------------------------


def mailgun(client, event_data, key=SIGNING_KEY, at=None, token=None):
    timestamp = str(int(at if at is not None else time.time()))
    token = token or secrets.token_hex(25)  # Mailgun's is 50 random characters
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256)
    return client.post("/webhooks/mailgun", json={
        "signature": {"timestamp": timestamp, "token": token,
                      "signature": signature.hexdigest()},
        "event-data": event_data})


def mailgun_event(message, event="failed", severity="permanent", id_="mg-1"):
    return {"event": event, "severity": severity, "id": id_, "timestamp": time.time(),
            "recipient": message.to_address, "reason": "bounce",
            "delivery-status": {"code": 550, "enhanced-code": "5.1.1",
                                "message": "No such user", "description": ""},
            "message": {"headers": {"message-id": message.message_id.strip("<>"),
                                    "to": message.to_address}}}


def test_mailgun_permanent_and_temporary_failures(hooks, delivered):
    client, message = hooks.test_client(), delivered.latest_message
    assert mailgun(client, mailgun_event(message, severity="temporary", id_="t")).json[
        "outcome"] == "applied"
    assert timeline(delivered)[-1] == ("deferred", "server_busy")
    assert delivered.email_status == "not_opened"
    assert mailgun(client, mailgun_event(message)).json["outcome"] == "applied"
    assert mailgun(client, mailgun_event(message)).json["outcome"] == "duplicate"
    assert timeline(delivered)[-1] == ("bounced", "mailbox_unknown")
    assert delivered.email_status == "bounced"


@pytest.mark.parametrize("key, age", [("wrong-key", 0), (SIGNING_KEY, 11 * 60)])
def test_mailgun_refuses_a_bad_or_old_signature(hooks, delivered, key, age):
    response = mailgun(hooks.test_client(), mailgun_event(delivered.latest_message), key=key,
                       at=time.time() - age)
    assert response.status_code == 403
    assert delivered.email_status == "not_opened"


def test_a_mailgun_signature_serves_once(hooks, delivered):
    """Mailgun signs its time and token, not the event: a captured signature must not carry
    a forged bounce (or anything) a second time."""
    client, message = hooks.test_client(), delivered.latest_message
    token = secrets.token_hex(25)
    accepted = {"event": "accepted", "id": "mg-accepted", "recipient": message.to_address}
    assert mailgun(client, accepted, token=token).json == {"events": 0, "outcome": "nothing"}
    forged = mailgun(client, mailgun_event(message, id_="forged"), token=token)
    assert forged.status_code == 403 and "used before" in forged.json["error"]["message"]
    assert delivered.email_status == "not_opened"
    assert mailgun(client, mailgun_event(message)).json["outcome"] == "applied"


def test_used_tokens_are_forgotten_a_day_later(hooks, delivered):
    import jobs
    from models import IntakeReceipt

    token = secrets.token_hex(25)
    assert mailgun(hooks.test_client(), mailgun_event(delivered.latest_message),
                   token=token).status_code == 200
    kept = sa.select(IntakeReceipt.key).where(IntakeReceipt.source == "mailgun-once")
    jobs.run_upkeep_job(hooks)
    assert db.session.scalars(kept).all() == [token]
    db.session.execute(sa.update(IntakeReceipt).values(at=utcnow() - timedelta(days=2)))
    db.session.commit()
    jobs.run_upkeep_job(hooks)
    assert db.session.scalars(kept).all() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IntakeReceipt)) == 1


def test_mailgun_bad_bodies(hooks):
    client = hooks.test_client()
    assert client.post("/webhooks/mailgun", data=b"{not json").status_code == 400
    assert client.post("/webhooks/mailgun", json=[1, 2]).status_code == 403
    assert client.post("/webhooks/mailgun", json={"signature": "x"}).status_code == 403
    for signed in [{"timestamp": "1", "token": "t", "signature": "é"},
                   {"timestamp": "\ud800", "token": "t", "signature": "00"},
                   {"timestamp": [], "token": {}, "signature": None}]:
        response = client.post("/webhooks/mailgun", data=json.dumps({"signature": signed}),
                               content_type="application/json")
        assert response.status_code == 403


# Postmark ---------------------------------------------------------------------------------


def postmark(client, record, user="postmark", password="s3cret-pass"):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return client.post("/webhooks/postmark", json=record,
                       headers={"Authorization": f"Basic {token}"})


def test_postmark_bounce_and_complaint(hooks, delivered):
    client, message = hooks.test_client(), delivered.latest_message
    bounce = {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce",
              "TypeCode": 1, "Name": "Hard bounce", "MessageID": "883953f4-6105-42a2-a16a",
              "Description": "The server was unable to deliver your message (ex: unknown "
                             "user, mailbox not found).",
              "Details": "smtp;550 5.1.1 The email account that you tried to reach does not "
                         "exist.",
              "Email": message.to_address, "BouncedAt": datetime.now(UTC).isoformat(),
              "MessageStream": "outbound"}
    assert postmark(client, bounce).json["outcome"] == "applied"
    assert postmark(client, bounce).json["outcome"] == "duplicate"
    assert timeline(delivered)[-1] == ("bounced", "mailbox_unknown")
    complaint = {"RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint",
                 "Email": message.to_address, "BouncedAt": datetime.now(UTC).isoformat()}
    assert postmark(client, complaint).json["outcome"] == "applied"
    assert timeline(delivered)[-1] == ("complained", None)


def test_postmark_odd_bodies_change_nothing(hooks, delivered):
    client = hooks.test_client()
    assert postmark(client, [{"RecordType": "Bounce"}]).status_code == 400
    for record in [{"RecordType": []}, {"RecordType": "Bounce", "Type": {}},
                   {"RecordType": {"x": 1}, "Email": []}]:
        assert postmark(client, record).json == {"events": 0, "outcome": "nothing"}
    assert delivered.email_status == "not_opened"


@pytest.mark.parametrize("user, password", [("postmark", "wrong"), ("other", "s3cret-pass"),
                                            ("", "")])
def test_postmark_needs_its_basic_auth(hooks, delivered, user, password):
    record = {"RecordType": "Bounce", "ID": 1, "Type": "HardBounce",
              "Email": delivered.latest_message.to_address}
    assert postmark(hooks.test_client(), record, user, password).status_code == 401
    assert hooks.test_client().post("/webhooks/postmark", json=record).status_code == 401
    assert delivered.email_status == "not_opened"


# Amazon SES through SNS ---------------------------------------------------------------------


def _certificate(key, valid_days=30):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=valid_days))
            .sign(key, hashes.SHA256()))


SNS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sns_certificate(monkeypatch):
    """Our own certificate, handed to the verifier where the fetch would put SNS's."""
    monkeypatch.setitem(provider_events.SNS_CERTIFICATES, CERT_URL,
                        _certificate(SNS_KEY).public_bytes(serialization.Encoding.PEM))


def sns(client, body, version="1", key=SNS_KEY, cert_url=CERT_URL, at=None):
    body = {"MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-bounces",
            "Timestamp": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "SignatureVersion": version, "SigningCertURL": cert_url, **body}
    fields = provider_events.SIGNED_FIELDS[body["Type"]]
    text = "".join(f"{name}\n{body[name]}\n" for name in fields if name in body)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    body["Signature"] = base64.b64encode(
        key.sign(text.encode(), padding.PKCS1v15(), algorithm)).decode()
    return client.post("/webhooks/ses", data=json.dumps(body),
                       content_type="text/plain; charset=UTF-8",
                       headers={"x-amz-sns-message-type": body["Type"]})


def ses_bounce(message, bounce_type="Permanent"):
    return {"Type": "Notification", "Message": json.dumps({
        "notificationType": "Bounce",
        "bounce": {"bounceType": bounce_type, "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": message.to_address,
                                          "action": "failed", "status": "5.1.1",
                                          "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                   "timestamp": datetime.now(UTC).isoformat(),
                   "feedbackId": "000001378603177f-7a5433e7"},
        "mail": {"timestamp": datetime.now(UTC).isoformat(), "source": "credentials@issuer.test",
                 "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee",
                 "destination": [message.to_address],
                 "commonHeaders": {"messageId": message.message_id,
                                   "subject": "Your credential: Course A"}}})}


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounce_through_sns(hooks, delivered, sns_certificate, version):
    client = hooks.test_client()
    assert sns(client, ses_bounce(delivered.latest_message), version).json[
        "outcome"] == "applied"
    assert sns(client, ses_bounce(delivered.latest_message), version).json[
        "outcome"] == "duplicate"
    assert timeline(delivered)[-1] == ("bounced", "mailbox_unknown")
    assert "from Amazon SES" in delivered.events()[-1].detail


@pytest.mark.parametrize("kind", ["Notification", "SubscriptionConfirmation"])
def test_ses_refuses_other_topics_before_fetching_anything(hooks, delivered, monkeypatch,
                                                           kind):
    """Anyone can make a topic of their own that AWS signs, and have it confirmed."""
    fetched = []
    monkeypatch.setattr(provider_events, "fetch", fetched.append)
    monkeypatch.setattr(provider_events, "SNS_CERTIFICATES", {})
    body = ses_bounce(delivered.latest_message) if kind == "Notification" else {
        "Type": kind, "Token": "t", "Message": "Subscribe?", "SubscribeURL": CERT_URL}
    response = sns(hooks.test_client(), {
        **body, "TopicArn": "arn:aws:sns:us-east-1:999999999999:someone-elses"})
    assert response.status_code == 403 and "SES_TOPIC_ARNS" in response.json["error"]["message"]
    assert fetched == [] and delivered.email_status == "not_opened"


def test_ses_needs_its_topics(tmp_path):
    from app import ConfigError

    with pytest.raises(ConfigError, match="SES_TOPIC_ARNS"):
        make_app(tmp_path, SES_WEBHOOK=True)
    with pytest.raises(ConfigError, match="not an SNS topic ARN"):
        make_app(tmp_path, SES_WEBHOOK=True, SES_TOPIC_ARNS="ses-bounces")


def test_settings_show_the_topics_accepted(hooks):
    user = create_user("owner@acme.test", "Acme Academy", PASSWORD)
    client = hooks.test_client()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    page = client.get("/settings/").get_data(as_text=True)
    assert f"<code>{TOPIC}</code>" in page


@pytest.mark.parametrize("body", [
    {"Type": []}, {"Type": {}}, {"Type": "Notification", "TopicArn": []},
    {"Type": "Notification", "TopicArn": TOPIC, "SigningCertURL": "https://[sns.example"},
    {"Type": "Notification", "TopicArn": TOPIC,
     "SigningCertURL": "https://sns.us-east-1.amazonaws.com:abc/x.pem"},
    {"Type": "Notification", "TopicArn": TOPIC,
     "SigningCertURL": "https://sns.us-east-1.amazonaws.com:99999/x.pem"},
    {"Type": "Notification", "TopicArn": TOPIC, "SignatureVersion": [],
     "SigningCertURL": CERT_URL},
])
def test_ses_malformed_messages_get_4xx(hooks, body):
    response = hooks.test_client().post("/webhooks/ses", data=json.dumps(body))
    assert 400 <= response.status_code < 500


def test_ses_subscription_is_confirmed(hooks, sns_certificate, monkeypatch):
    fetched = []
    monkeypatch.setattr(provider_events, "fetch", fetched.append)
    subscribe = ("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
                 "arn:aws:sns:us-east-1:123456789012:ses-bounces&Token=2336412f37")
    response = sns(hooks.test_client(), {
        "Type": "SubscriptionConfirmation", "Token": "2336412f37",
        "Message": "You have chosen to subscribe to the topic.", "SubscribeURL": subscribe})
    assert response.status_code == 200 and fetched == [subscribe]


@pytest.mark.parametrize("case", ["wrong key", "old", "http", "other host", "version"])
def test_ses_refuses_what_sns_did_not_sign(hooks, delivered, sns_certificate, case):
    message, client = delivered.latest_message, hooks.test_client()
    if case == "wrong key":
        response = sns(client, ses_bounce(message),
                       key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif case == "old":
        response = sns(client, ses_bounce(message), at=datetime.now(UTC) - timedelta(minutes=11))
    elif case == "http":
        response = sns(client, ses_bounce(message), cert_url=CERT_URL.replace("https", "http"))
    elif case == "other host":
        response = sns(client, ses_bounce(message),
                       cert_url="https://sns.us-east-1.amazonaws.com.evil.example/c.pem")
    else:
        response = sns(client, ses_bounce(message), version="3")
    assert response.status_code == 403
    assert delivered.email_status == "not_opened"


def test_the_real_fetch_takes_only_sns_https_urls_and_caches(hooks, monkeypatch):
    pem = _certificate(SNS_KEY).public_bytes(serialization.Encoding.PEM)
    opened = []

    def urlopen(url, timeout):
        opened.append(url)
        return io.BytesIO(pem)

    monkeypatch.setattr(provider_events.urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(provider_events, "SNS_CERTIFICATES", {})
    url = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
    for _ in range(3):
        provider_events.sns_certificate(url)
    assert opened == [url]
    for bad in ["http://sns.eu-west-1.amazonaws.com/x.pem", "https://example.com/x.pem",
                "https://sns.eu-west-1.amazonaws.com:8443/x.pem", "file:///etc/passwd"]:
        with pytest.raises(provider_events.Refused):
            provider_events.sns_certificate(bad)
    assert opened == [url]


# Deliveries and opens ---------------------------------------------------------------------

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Mobile/15E148")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")


def detail(credential):
    """The newest timeline row's type and sentence, as the recipient panel shows them."""
    db.session.rollback()
    event = credential.events()[-1]
    return event.type, event.detail


def sendgrid_open(message, machine, id_):
    """An open event as SendGrid documents it: no smtp-id, so matched by its email."""
    return {"email": message.to_address, "timestamp": int(time.time()), "event": "open",
            "sg_machine_open": machine, "category": ["credentials"], "sg_event_id": id_,
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "useragent": "Mozilla/5.0" if machine else CHROME,
            "ip": "17.58.0.1" if machine else "203.0.113.9"}


def test_sendgrid_machine_opens_are_noted_and_a_persons_open_counts(hooks, delivered):
    client = hooks.test_client()
    machine = sendgrid_open(delivered.latest_message, True, "sg-open-machine")
    assert sendgrid(client, [machine]).json == {"events": 1, "outcome": "applied"}
    assert detail(delivered) == ("auto_opened", "reported by SendGrid as a machine open")
    assert delivered.email_status == "not_opened" and delivered.latest_message.open_count == 0
    person = sendgrid_open(delivered.latest_message, False, "sg-open-person")
    # The same event twice, in one request too, counts once.
    assert sendgrid(client, [person, person]).json == {"events": 2, "outcome": "applied"}
    assert sendgrid(client, [person]).json["outcome"] == "duplicate"
    assert detail(delivered) == ("opened", "by a person (Chrome), reported by SendGrid")
    assert delivered.email_status == "opened" and delivered.latest_message.open_count == 1
    assert delivered.first_opened_at is not None


def mailgun_open(message, bot, id_):
    """An "opened" event as Mailgun documents it, with its bot detection (client-info.bot:
    apple, gmail or generic; empty for a person)."""
    return {"event": "opened", "id": id_, "timestamp": time.time(), "log-level": "info",
            "recipient": message.to_address, "recipient-domain": "example.com",
            "client-info": {"client-name": "unknown" if bot else "Mobile Safari",
                            "client-type": "unknown" if bot else "mobile browser",
                            "user-agent": "Mozilla/5.0" if bot else IPHONE,
                            "device-type": "unknown" if bot else "mobile",
                            "client-os": "unknown" if bot else "iOS", "bot": bot},
            "geolocation": {"country": "US", "region": "Unknown", "city": "Unknown"},
            "tags": [], "user-variables": {},
            "message": {"headers": {"message-id": message.message_id.strip("<>")}}}


@pytest.mark.parametrize("bot, words", [
    ("apple", "Apple Mail Privacy Protection"), ("gmail", "a Gmail bot"),
    ("generic", "a firewall or virus scanner")])
def test_mailgun_bot_opens_are_noted_and_a_persons_open_counts(hooks, delivered, bot, words):
    client, message = hooks.test_client(), delivered.latest_message
    assert mailgun(client, mailgun_open(message, bot, "mg-bot")).json["outcome"] == "applied"
    assert detail(delivered) == ("auto_opened",
                                 f"reported by Mailgun as a machine open ({words})")
    assert delivered.email_status == "not_opened"
    assert mailgun(client, mailgun_open(message, "", "mg-person")).json["outcome"] == "applied"
    assert detail(delivered) == ("opened", "by a person (Apple Mail), reported by Mailgun")
    assert delivered.email_status == "opened"


def test_an_open_is_about_the_message_it_names(hooks, delivered):
    """Mailgun names our Message-ID; SendGrid's open only the address: its latest email."""
    other = mark_latest(issue(create_user("other@acme.test", "Acme Academy", PASSWORD),
                              name="Joe", email="joe@example.com", action="publish"), "sent")
    client = hooks.test_client()
    mailgun(client, mailgun_open(other.latest_message, "", "mg-joe"))
    sendgrid(client, [sendgrid_open(delivered.latest_message, False, "sg-jane")])
    db.session.rollback()
    assert [c.latest_message.open_count for c in (delivered, other)] == [1, 1]
    assert [e.type for e in other.events()].count("opened") == 1
    assert [e.type for e in delivered.events()].count("opened") == 1


def test_postmark_delivery_and_open(hooks, delivered):
    client, message = hooks.test_client(), delivered.latest_message
    delivery = {"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound",
                "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
                "Recipient": message.to_address, "Tag": "credentials",
                "DeliveredAt": datetime.now(UTC).isoformat(),
                "Details": "smtp;250 2.0.0 OK 1700000000 d9443c01a7336-1f2", "Metadata": {}}
    assert postmark(client, delivery).json["outcome"] == "applied"
    kind, words = detail(delivered)
    assert kind == "delivered" and words.startswith(
        "Delivered to the recipient's mail server (from Postmark, reported ")
    assert delivered.email_status == "not_opened"
    opened = {"RecordType": "Open", "MessageStream": "outbound", "FirstOpen": True,
              "Recipient": message.to_address,
              "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
              "ReceivedAt": datetime.now(UTC).isoformat(), "Platform": "Mobile",
              "ReadSeconds": 5, "Tag": "credentials", "UserAgent": IPHONE,
              "OS": {"Name": "iOS 17.5", "Family": "iOS", "Company": "Apple Computer, Inc."},
              "Client": {"Name": "Apple Mail", "Family": "Apple Mail",
                         "Company": "Apple Computer, Inc."},
              "Geo": {"CountryISOCode": "US", "Country": "United States"}, "Metadata": {}}
    assert postmark(client, opened).json["outcome"] == "applied"
    assert postmark(client, opened).json["outcome"] == "duplicate"  # the same POST again
    # Every open is a record of its own, all with the message's MessageID.
    again = {**opened, "FirstOpen": False, "ReceivedAt": (
        datetime.now(UTC) + timedelta(minutes=1)).isoformat()}
    assert postmark(client, again).json["outcome"] == "applied"
    assert detail(delivered) == ("opened", "by a person (Apple Mail), reported by Postmark")
    assert delivered.email_status == "opened" and delivered.latest_message.open_count == 2


def ses_event(message, event_type, details):
    """An SES event (configuration set, through SNS) about one message."""
    return {"Type": "Notification", "Message": json.dumps({
        "eventType": event_type, event_type.lower(): details,
        "mail": {"timestamp": datetime.now(UTC).isoformat(), "source": "credentials@issuer.test",
                 "sendingAccountId": "123456789012",
                 "messageId": "010001908b7d0c3e-2f6d1c2a-8c3b-4d2e-9f0a-1b2c3d4e5f60-000000",
                 "destination": [message.to_address],
                 "commonHeaders": {"messageId": message.message_id,
                                   "subject": "Your credential: Course A"}}})}


def test_ses_delivery_and_open(hooks, delivered, sns_certificate):
    client, message = hooks.test_client(), delivered.latest_message
    delivery = ses_event(message, "Delivery", {
        "timestamp": datetime.now(UTC).isoformat(), "processingTimeMillis": 546,
        "recipients": [message.to_address],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "a8-70.smtp-out.amazonses.com"})
    assert sns(client, delivery).json["outcome"] == "applied"
    kind, words = detail(delivered)
    assert kind == "delivered" and "from Amazon SES" in words
    assert words.endswith("Server said: 250 2.6.0 Message received")
    opened = ses_event(message, "Open", {"ipAddress": "192.0.2.1", "userAgent": IPHONE,
                                         "timestamp": datetime.now(UTC).isoformat()})
    opened["MessageId"] = "5d9d8f4e-0a3b-4c5d-8e6f-7a8b9c0d1e2f"  # SNS names each message
    assert sns(client, opened).json["outcome"] == "applied"
    assert detail(delivered) == ("opened", "by a person (Apple Mail), reported by Amazon SES")
    assert delivered.email_status == "opened"


def test_mailgun_delivered(hooks, delivered):
    event = {**mailgun_event(delivered.latest_message, "delivered", id_="mg-delivered"),
             "delivery-status": {"code": 250, "message": "OK", "description": "",
                                 "tls": True, "mx-host": "mx.example.com"}}
    del event["severity"], event["reason"]
    assert mailgun(hooks.test_client(), event).json["outcome"] == "applied"
    kind, words = detail(delivered)
    assert kind == "delivered" and "(from Mailgun" in words and words.endswith("250 OK")
    assert delivered.email_status == "not_opened"


# Switched off -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["sendgrid", "mailgun", "postmark", "ses", "other"])
def test_each_webhook_is_off_until_configured(client, provider):
    assert client.post(f"/webhooks/{provider}", json={}).status_code == 404


def test_webhooks_leave_the_timeline_readable(hooks, delivered):
    """Every event a webhook adds renders in the panel and in the events API."""
    client = hooks.test_client()
    sendgrid(client, [sendgrid_event(delivered.latest_message, "delivered",
                                     response="250 2.0.0 OK")])
    db.session.rollback()
    (event,) = [e for e in delivered.events() if e.type == "delivered"]
    assert event.detail.startswith("Delivered to the recipient's mail server (from SendGrid")
    assert event.as_json()["detail"] == event.detail
