"""Reading what comes back to the bounce address: delivery status notifications (RFC
3464), the non-standard bounces older servers still send (their failed addresses found by
flufl.bounce), spam complaints (ARF, RFC 5965), and the auto-replies that are none of
these.
"""

import email
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from flufl.bounce import all_failures

from mailer.verp import tagged_row

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    """What a report or a provider's event says about one message."""

    kind: str  # failed | delayed | complained | delivered | opened | auto_opened
    recipient: str | None  # the address it is about
    reply: str = ""  # the server's words: a Diagnostic-Code, a provider's reason
    message_id: str | None = None  # our Message-ID, when the report quotes it
    row_id: int | None = None  # the message its VERP address names
    # A reason code the source states outright: a blocked send, the bot an open came from.
    code: str | None = None
    reported_at: datetime | None = None
    agent: str | None = None  # the User-Agent an open came with


@dataclass(frozen=True)
class Report:
    """One mail that came back: what it is, and what it says."""

    kind: str  # report | auto_reply | not_report
    key: str  # names this mail, so it is applied once
    findings: tuple = ()


# DSN actions that are news (a success DSN comes only when asked for: NOTIFY=SUCCESS).
ACTIONS = {"failed": "failed", "delayed": "delayed", "delivered": "delivered"}
MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
SMTP_REPLY = re.compile(r"\b([245]\d\d)[ :-]+((?:[245]\.\d{1,3}\.\d{1,3}\s+)?[^\r\n]*)")
# Words that say why, in a non-standard bounce that gives no reply code.
WHY = re.compile(r"unknown|not recognized|does not exist|no such|full|quota|rejected|refused|"
                 r"blocked|denied|disabled|not found", re.IGNORECASE)
ENHANCED = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
REPORT_TYPE = re.compile(r"multipart/report\b.*report-type\s*=\s*\"?feedback-report",
                         re.IGNORECASE | re.DOTALL)
SIMPLE_ADDRESS = re.compile(r"^[^\s@<>,;:\"]+@[^\s@<>,;:\"]+$")
# Out-of-office and challenge mails, by their subject (in the languages seen most).
AUTO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|^auto:|"
    r"vacation|abwesenheit|absence|r[ée]ponse automatique|please confirm|verify (that )?you|"
    r"confirm your (e-?mail|message)|challenge", re.IGNORECASE)
DAEMONS = re.compile(r"mailer-daemon|postmaster|mail delivery (system|subsystem)", re.I)


def read_report(raw):
    """The Report of one mail (bytes) that came back to the bounce address."""
    message = email.message_from_bytes(raw)
    own = str(message.get("Message-ID", "")).strip()
    key = own or hashlib.sha256(raw).hexdigest()
    parts = [(part.get_content_type(), part) for part in message.walk()]  # walked once
    common = {"message_id": original_message_id(message, own, parts), "row_id": tagged_row(raw),
              "reported_at": _date(message)}
    if REPORT_TYPE.search(str(message.get("Content-Type", ""))):  # ARF (RFC 5965)
        return Report("report", key, _complaints(message, parts, common))
    statuses = [part for kind, part in parts if kind == "message/delivery-status"]
    if statuses:  # RFC 3464: every per-recipient block says what happened
        return Report("report", key, tuple(
            Finding(ACTIONS[action], recipient, reply, **common)
            for action, recipient, reply in _dsn_blocks(statuses) if action in ACTIONS))
    if _auto_reply(message):
        return Report("auto_reply", key)
    temporary, permanent = _failures(message)
    if not (temporary or permanent):
        return Report("not_report", key)
    text = _text(parts)
    return Report("report", key, tuple(
        Finding(kind, address.decode(), _reply_about(text, address.decode()), **common)
        for kind, found in (("failed", permanent), ("delayed", temporary))
        for address in sorted(found)))


def _failures(message):
    """(temporary, permanent) failed addresses of a non-standard bounce (flufl.bounce). Its
    detectors expect a sender: mail without one is no bounce."""
    if not message.get("From"):
        return (), ()
    try:
        return all_failures(message)
    except Exception:  # noqa: BLE001 (a detector tripping on odd mail must not stop intake)
        log.warning("flufl.bounce could not read a mail", exc_info=True)
        return (), ()


def _dsn_blocks(statuses):
    """(action, recipient, reply) for each per-recipient block of the DSN parts."""
    for part in statuses:
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is about the reporting server
            fields = {name.lower(): value for name, value in block.items()}
            action = str(fields.get("action", "")).strip().lower()
            recipient = _typed_address(fields.get("final-recipient")
                                       or fields.get("original-recipient"))
            diagnostic = _typed_value(fields.get("diagnostic-code"))
            status = str(fields.get("status", "")).strip()
            reply = diagnostic or status
            if status and not ENHANCED.search(reply):
                reply = f"{status} {reply}"
            yield action, recipient, _smtp_reply(reply, action)


def _complaints(message, parts, common):
    """The complained findings of an ARF report (feedback type abuse)."""
    for kind, part in parts:
        if kind != "message/feedback-report":
            continue
        fields = _fields(part)
        if fields.get("feedback-type", "").lower() != "abuse":
            return ()
        recipient = _address(fields.get("original-rcpt-to")) or _original_to(parts)
        return (Finding("complained", recipient, "", **common),)
    return ()


def _fields(part):
    """The header fields of a machine-readable part, whatever shape the parser gave it."""
    payload = part.get_payload()
    if isinstance(payload, list):  # parsed as header blocks
        return {key.lower(): str(value).strip() for block in payload
                for key, value in block.items()}
    text = payload if isinstance(payload, str) else ""
    return {key.strip().lower(): value.strip()
            for key, _, value in (line.partition(":") for line in text.splitlines())
            if value}


def _auto_reply(message):
    """True for an out-of-office, an auto-reply or a challenge to prove we are human. The
    Auto-Submitted header alone does not tell: delivery reports carry it too."""
    if DAEMONS.search(str(message.get("From", ""))):
        return False
    subject = str(message.get("Subject", ""))
    return bool(AUTO_SUBJECT.search(subject) or message.get("X-Autoreply")
                or message.get("X-Autorespond")
                or str(message.get("Precedence", "")).lower() == "auto_reply")


def original_message_id(message, own, parts):
    """The Message-ID of the email the report is about: from the returned message or its
    headers, else In-Reply-To or References; never the report's own (own)."""
    for kind, part in parts:
        if kind == "message/rfc822" and isinstance(part.get_payload(), list):
            found = str(part.get_payload()[0].get("Message-ID", "")).strip()
            if found:
                return found
        elif kind == "text/rfc822-headers":
            found = MESSAGE_ID.search(part.get_payload(decode=True).decode(errors="replace"))
            if found:
                return found.group(1)
    for name in ("In-Reply-To", "References"):
        found = re.search(r"<[^>\s]+>", str(message.get(name, "")))
        if found:
            return found.group(0)
    # Non-standard bounces quote the returned message in their text.
    for found in MESSAGE_ID.finditer(_text(parts)):
        if found.group(1) != own:
            return found.group(1)
    return None


def _original_to(parts):
    """The recipient of the returned message a report attaches, or None."""
    for kind, part in parts:
        if kind == "message/rfc822" and isinstance(part.get_payload(), list):
            return _address(part.get_payload()[0].get("To"))
    return None


def _text(parts):
    """The report's readable text: every text part, decoded."""
    chunks = []
    for kind, part in parts:
        if kind.startswith("text/"):
            payload = part.get_payload(decode=True) or b""
            chunks.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(chunks)


def _reply_about(text, address):
    """The server's words about one address in a non-standard bounce: the reply line that
    names it, else the first reply line, else a line that says why, else the line that
    names it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    naming = [line for line in lines if address.lower() in line.lower()]
    for candidates in (naming, lines):
        for line in candidates:
            if SMTP_REPLY.search(line):
                return _smtp_reply(line[:500], "failed")
    why = next((line for line in lines if WHY.search(line)), naming[0] if naming else "")
    return _smtp_reply(why[:500], "failed")


def _smtp_reply(words, action):
    """The words as a reply with its code first (a report's text may hide it mid-line, or
    give only an enhanced status like 5.1.1)."""
    found = SMTP_REPLY.search(words)
    if found:
        return f"{found.group(1)} {found.group(2).strip()}"[:2000]
    enhanced = ENHANCED.search(words)
    if enhanced:  # 5.1.1 alone: the reply code its class stands for
        code = {"2": "250", "4": "450", "5": "550"}[enhanced.group(0)[0]]
        return f"{code} {words.strip()}"[:2000]
    code = {"delayed": "450", "delivered": "250"}.get(action, "550")
    return f"{code} {words.strip()}".strip()[:2000]


def _typed_value(value):
    """ "smtp; 550 …" → "550 …"."""
    text = " ".join(str(value or "").split())
    return text.partition(";")[2].strip() if ";" in text else text


def _typed_address(value):
    """ "rfc822; jane@example.com" → "jane@example.com"."""
    text = _typed_value(value).strip("<> ")
    return text if SIMPLE_ADDRESS.match(text) else _address(text)


def _address(value):
    found = getaddresses([str(value or "")])
    address = found[0][1].strip() if found else ""
    return address if "@" in address else None


def _date(message):
    try:
        moment = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
