"""Provider events (the mail providers' webhooks): each request verified as its provider
documents it, then turned into findings (bounces.reports.Finding) that bounces.apply
applies once.

SendGrid signs with ECDSA (P-256, SHA-256), Mailgun with HMAC-SHA256, Postmark uses HTTP
Basic auth, Amazon SES posts through SNS, which signs with the RSA key of a certificate it
publishes on an sns.<region>.amazonaws.com host. A signed request more than ten minutes
old is refused, so a captured one cannot be replayed later.
"""

import base64
import hashlib
import hmac
import json
import re
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from flask import current_app

from bounces.reports import Finding

MAX_AGE = timedelta(minutes=10)
# A value a request may be verified with only once (Mailgun's token) is remembered this long:
# longer than MAX_AGE, after which the request is refused as too old anyway.
ONCE_KEPT = timedelta(days=1)


class Verified(NamedTuple):
    """A verified request: its findings, [(key, Finding)], and the value it may be verified
    with only once (Mailgun signs its token and time, not the event), or None."""

    findings: list
    once: str | None = None


class Refused(Exception):
    """The request is not what the provider would send: 401/403 (or 400), nothing changes."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _fresh(moment):
    """Refuse a signed request older than MAX_AGE (or from the future)."""
    if moment is None or abs(datetime.now(UTC) - moment) > MAX_AGE:
        raise Refused(403, "The request is too old (or its time is wrong): refused.")


def _json(raw):
    try:
        if not isinstance(raw, str | bytes):
            raise ValueError
        return current_app.json.loads(raw)  # app.JSONProvider: too deep is a ValueError
    except ValueError:
        raise Refused(400, "The body is not JSON.") from None


def _name(value):
    """A field that names something (an event type), or None when it is not text."""
    return value if isinstance(value, str) else None


def _epoch(value):
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _key(event):
    return hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()


# SendGrid ---------------------------------------------------------------------------------


def sendgrid(headers, raw):
    """The Verified findings of a SendGrid Event Webhook request."""
    key = current_app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"]
    signature = headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    try:
        public_key = serialization.load_der_public_key(base64.b64decode(key))
        public_key.verify(base64.b64decode(signature), timestamp.encode() + raw,
                          ec.ECDSA(hashes.SHA256()))
    except (ValueError, TypeError, InvalidSignature):
        raise Refused(403, "The SendGrid signature does not match.") from None
    _fresh(_epoch(timestamp))
    events = _json(raw)
    if not isinstance(events, list):
        raise Refused(400, "SendGrid sends a list of events.")
    return Verified([found for event in events if isinstance(event, dict)
                     for found in _sendgrid_event(event)])


def _sendgrid_event(event):
    kind = {"bounce": "failed", "dropped": "failed", "deferred": "delayed",
            "spamreport": "complained", "delivered": "delivered",
            # sg_machine_open: Apple's privacy proxy (or another machine) made the open.
            "open": "auto_opened" if event.get("sg_machine_open") is True else "opened",
            }.get(_name(event.get("event")))
    if kind is None:
        return []
    words = " ".join(str(event.get(name, "")) for name in ("status", "reason", "response"))
    blocked = event.get("event") == "bounce" and event.get("type") == "blocked"
    return [(str(event.get("sg_event_id") or _key(event)), Finding(
        kind, _text(event.get("email")), " ".join(words.split())[:2000],
        message_id=_text(event.get("smtp-id")), code="blocked" if blocked else None,
        reported_at=_epoch(event.get("timestamp")), agent=_text(event.get("useragent"))))]


# Mailgun ----------------------------------------------------------------------------------


def mailgun(headers, raw):
    """The Verified findings of a Mailgun webhook request; its token may serve once."""
    body = _json(raw)
    signed = body.get("signature") if isinstance(body, dict) else None
    if not isinstance(signed, dict):
        raise Refused(403, "The Mailgun signature is missing.")
    timestamp, token, signature = (str(signed.get(name, "")) for name in (
        "timestamp", "token", "signature"))
    if not (timestamp + token + signature).isascii():
        raise Refused(403, "The Mailgun signature does not match.")
    expected = hmac.new(current_app.config["MAILGUN_WEBHOOK_SIGNING_KEY"].encode(),
                        (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(403, "The Mailgun signature does not match.")
    _fresh(_epoch(timestamp))
    event = body.get("event-data")
    if not isinstance(event, dict):
        raise Refused(400, "The Mailgun event-data is missing.")
    client = event.get("client-info") if isinstance(event.get("client-info"), dict) else {}
    bot = _text(client.get("bot"))  # apple, gmail, generic; empty for a person
    kind = {"failed": "delayed" if event.get("severity") == "temporary" else "failed",
            "complained": "complained", "delivered": "delivered",
            "opened": "auto_opened" if bot else "opened"}.get(_name(event.get("event")))
    if kind is None:
        return Verified([], once=token)
    status = event.get("delivery-status") if isinstance(event.get("delivery-status"), dict) \
        else {}
    words = " ".join(str(status.get(name) or "") for name in (
        "code", "enhanced-code", "message", "description"))
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    message_headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    return Verified([(str(event.get("id") or _key(event)), Finding(
        kind, _text(event.get("recipient")), " ".join(words.split())[:2000],
        message_id=_text(message_headers.get("message-id")), code=bot,
        reported_at=_epoch(event.get("timestamp")), agent=_text(client.get("user-agent"))))],
        once=token)


# Postmark ---------------------------------------------------------------------------------

POSTMARK_BOUNCES = {  # Postmark's bounce Type → what it means here (others change nothing)
    "HardBounce": "failed", "BadEmailAddress": "failed", "ManuallyDeactivated": "failed",
    "Blocked": "failed", "DnsError": "delayed", "SoftBounce": "delayed", "Transient": "delayed",
    "SpamNotification": "complained", "SpamComplaint": "complained",
}


def postmark(headers, raw):
    """The Verified findings of a Postmark webhook request with the right Basic auth."""
    config = current_app.config
    scheme, _, encoded = headers.get("Authorization", "").partition(" ")
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        user, password = "", ""
    if not (scheme.lower() == "basic"
            and hmac.compare_digest(user.encode(), config["POSTMARK_WEBHOOK_USER"].encode())
            and hmac.compare_digest(password.encode(),
                                    config["POSTMARK_WEBHOOK_PASSWORD"].encode())):
        raise Refused(401, "Wrong or missing Basic auth for the Postmark webhook.")
    event = _json(raw)
    if not isinstance(event, dict):
        raise Refused(400, "Postmark sends one JSON object.")
    record = _name(event.get("RecordType"))
    if record == "Bounce":
        kind = POSTMARK_BOUNCES.get(_name(event.get("Type")))
    else:
        # Postmark's Open records carry no sign of a machine (Apple's proxy included).
        kind = {"SpamComplaint": "complained", "Delivery": "delivered",
                "Open": "opened"}.get(record)
    if kind is None:
        return Verified([])
    words = " ".join(str(event.get(name) or "") for name in ("Description", "Details"))
    # Every open of a message is a record of its own, with no ID of its own.
    named = None if record == "Open" else event.get("ID") or event.get("MessageID")
    return Verified([(f"{record}:{named or _key(event)}",
                      Finding(kind, _text(event.get("Email") or event.get("Recipient")),
                              words[:2000],
                              code="blocked" if event.get("Type") == "Blocked" else None,
                              reported_at=_iso(event.get("BouncedAt") or event.get("DeliveredAt")
                                               or event.get("ReceivedAt")),
                              agent=_text(event.get("UserAgent"))))])


# Amazon SES through SNS ---------------------------------------------------------------------

SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
# Certificates fetched, by URL: SNS signs every message with the same few.
SNS_CERTIFICATES = {}
_fetching = threading.Lock()
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                 "TopicArn", "Type"),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]


def sns_url(url):
    """The URL if it is HTTPS on an SNS host; else Refused (nothing else is fetched)."""
    try:
        parts = urlsplit(str(url or ""))
        ours = (parts.scheme == "https" and SNS_HOST.match(parts.hostname or "")
                and not parts.port)
    except ValueError:  # "https://[sns…", a port that is no number or out of range
        ours = False
    if not ours:
        raise Refused(403, "The certificate or subscription URL is not an SNS HTTPS URL.")
    return url


def sns_certificate(url):
    """The X.509 certificate at an SNS URL, fetched once per process."""
    url = sns_url(url)
    if url not in SNS_CERTIFICATES:
        with _fetching:
            if url not in SNS_CERTIFICATES:
                SNS_CERTIFICATES[url] = fetch(url)
    try:
        return x509.load_pem_x509_certificate(SNS_CERTIFICATES[url])
    except ValueError:
        raise Refused(403, "The signing certificate cannot be read.") from None


def fetch(url):
    """GET an SNS URL (a certificate, a subscription confirmation); its body."""
    with urllib.request.urlopen(sns_url(url), timeout=10) as response:  # noqa: S310
        return response.read(1 << 20)


def ses(headers, raw):
    """The Verified findings of an SNS message, from a topic of SES_TOPIC_ARNS, carrying an
    SES notification. A subscription confirmation is confirmed (its SubscribeURL fetched)
    and gives none."""
    body = _json(raw)
    if not isinstance(body, dict) or _name(body.get("Type")) not in SIGNED_FIELDS:
        raise Refused(400, "Not an SNS message.")
    # Before anything is fetched: anyone can make a topic of their own that AWS signs.
    if body.get("TopicArn") not in current_app.config["SES_TOPIC_ARNS"]:
        raise Refused(403, "Messages from this SNS topic are not accepted (SES_TOPIC_ARNS).")
    _verify_sns(body)
    if body["Type"] == "SubscriptionConfirmation":
        fetch(body.get("SubscribeURL"))
        return Verified([])
    if body["Type"] != "Notification":
        return Verified([])
    notification = _json(body.get("Message", ""))
    if not isinstance(notification, dict):
        raise Refused(400, "The SES notification is not a JSON object.")
    return Verified(_ses_findings(str(body.get("MessageId")), notification))


def _verify_sns(body):
    fields = SIGNED_FIELDS[body["Type"]]
    text = "".join(f"{name}\n{body[name]}\n" for name in fields if name in body)
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(str(body.get("SignatureVersion")))
    if algorithm is None:
        raise Refused(403, "Unknown SNS signature version.")
    certificate = sns_certificate(body.get("SigningCertURL"))
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Refused(403, "The signing certificate has expired.")
    try:
        certificate.public_key().verify(base64.b64decode(str(body.get("Signature", ""))),
                                        text.encode(), padding.PKCS1v15(), algorithm)
    except (ValueError, TypeError, InvalidSignature):
        raise Refused(403, "The SNS signature does not match.") from None
    _fresh(_iso(body.get("Timestamp")))


def _ses_findings(key, notification):
    kind = _name(notification.get("notificationType") or notification.get("eventType"))
    mail = notification.get("mail") if isinstance(notification.get("mail"), dict) else {}
    common = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    message_id = _text(common.get("messageId")) or next(
        (_text(h.get("value")) for h in _list(mail.get("headers"))
         if isinstance(h, dict) and str(h.get("name", "")).lower() == "message-id"), None)
    details = notification.get(str(kind).lower())
    details = details if isinstance(details, dict) else {}
    if kind == "Bounce":
        meaning = "failed" if details.get("bounceType") == "Permanent" else "delayed"
        recipients = [(r.get("emailAddress"), " ".join(
            str(r.get(name) or "") for name in ("status", "diagnosticCode")))
            for r in _list(details.get("bouncedRecipients")) if isinstance(r, dict)]
    elif kind == "Complaint":
        meaning = "complained"
        recipients = [(r.get("emailAddress"), "") for r in
                      _list(details.get("complainedRecipients")) if isinstance(r, dict)]
    elif kind == "Delivery":
        meaning = "delivered"
        recipients = [(address, str(details.get("smtpResponse") or ""))
                      for address in _list(details.get("recipients"))]
    elif kind == "Open":  # SES counts opens of mail to one recipient only; no machine flag
        meaning = "opened"
        recipients = [(address, "") for address in _list(mail.get("destination"))]
    else:
        return []
    at = _iso(details.get("timestamp"))
    return [(f"{key}|{index}", Finding(meaning, _text(address), " ".join(words.split())[:2000],
                                       message_id=message_id, reported_at=at,
                                       agent=_text(details.get("userAgent"))))
            for index, (address, words) in enumerate(recipients)]


# Shared ---------------------------------------------------------------------------------------


def _list(value):
    return value if isinstance(value, list) else []


def _text(value):
    return str(value).strip()[:254] if isinstance(value, str) and value.strip() else None


def _iso(value):
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


PROVIDERS = {"sendgrid": sendgrid, "mailgun": mailgun, "postmark": postmark, "ses": ses}


def enabled(provider):
    """True when the provider's webhook is switched on (its secret set)."""
    config = current_app.config
    return bool({
        "sendgrid": config.get("SENDGRID_WEBHOOK_PUBLIC_KEY"),
        "mailgun": config.get("MAILGUN_WEBHOOK_SIGNING_KEY"),
        "postmark": config.get("POSTMARK_WEBHOOK_USER") and config.get("POSTMARK_WEBHOOK_PASSWORD"),
        "ses": config.get("SES_WEBHOOK"),
    }.get(provider))
