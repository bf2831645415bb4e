"""The one SMTP reply classifier: sent, retry later, or bounced, with a reason code."""

import re
from dataclasses import dataclass

from models import words

# "try again in 30 seconds", "retry after 120s", "please wait 5 minutes"
RETRY_HINT = re.compile(
    r"(?:try again|retry|wait)\D{0,20}?(\d{1,6})\s*(s|sec|seconds?|m|min|minutes?)\b", re.I)
# "454 Throttling failure: Maximum sending rate exceeded", "421 4.7.0 Too many messages",
# "451 4.7.1 Rate limited, slow down": the server is fine, we are too fast.
THROTTLING_CODES = {421, 451, 454}
THROTTLING = re.compile(r"\brate\b|rate.?limit|too many|throttl|slow(?:ing)? down", re.I)


@dataclass(frozen=True)
class Outcome:
    """What an SMTP reply means for one message."""

    action: str  # "sent" | "retry" | "bounce"
    reply: str  # the server's own words, kept for the timeline
    code: str | None = None  # why it was not delivered: a models.words.REASONS code
    retry_after: float | None = None  # seconds the server asked us to wait
    connection_lost: bool = False  # no answer, or 421: this connection is done
    throttled: bool = False  # the server asked us to slow down: not the message's fault
    # The message itself was handed over: a reply to it (not a 421 closing the connection),
    # or a failure during its own DATA. Only then does the outcome use one of its attempts.
    attempted: bool = True

    @property
    def reason(self):
        """Why it was not delivered, in plain words (None when it was)."""
        return words.reason(self.code, self.reply) if self.code else None


def explain(code, text):
    """The reason code of a refusal, from its enhanced status code and wording."""
    words = text.lower()
    enhanced = re.search(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b", text)
    detail = enhanced.group(2, 3) if enhanced else None
    temporary = code is not None and 400 <= code < 500
    if detail == ("2", "2") or any(w in words for w in ("mailbox full", "quota", "over quota")):
        return "mailbox_full"
    if temporary:
        return "server_busy"
    if detail in {("1", "1"), ("1", "10")} or any(w in words for w in (
            "user unknown", "does not exist", "no such user", "unknown user",
            "mailbox unavailable", "recipient address rejected", "no mailbox",
            "recipient not found", "recipientnotfound", "unknown recipient",
            "not recognized", "doesn't have a", "does not have an account")):
        return "mailbox_unknown"
    if detail in {("1", "2"), ("4", "4")} or any(w in words for w in (
            "domain not found", "host unknown", "no such domain", "domain does not exist")):
        return "domain_unknown"
    if detail == ("2", "1") or "disabled" in words:
        return "mailbox_disabled"
    if (detail and detail[0] == "7") or any(w in words for w in (
            "spam", "blocked", "blacklist", "blocklist", "policy", "denied", "reputation")):
        return "blocked"
    if detail == ("3", "4") or "too large" in words or "size" in words:
        return "too_large"
    return "refused"


def classify(code, text, stage="rcpt"):
    """Classify one reply: 2xx sent; 4xx or no reply (code None) retry; 5xx bounce.

    A 5xx before the recipient was named (connect, login, sender) is our setup's
    problem, not the recipient's, so it is retried rather than bounced.
    """
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reply = f"{code} {text}".strip() if code else text
    if code and 200 <= code < 300:
        return Outcome("sent", reply)
    if code and 500 <= code < 600 and stage in ("rcpt", "data"):
        return Outcome("bounce", reply, explain(code, text))
    hint = RETRY_HINT.search(text)
    retry_after = None
    if hint:
        retry_after = float(hint.group(1)) * (60 if hint.group(2).lower().startswith("m") else 1)
    if code in THROTTLING_CODES and THROTTLING.search(text):
        return Outcome("retry", reply, "throttled", retry_after, connection_lost=code == 421,
                       throttled=True, attempted=False)
    if code is None:
        reason = "unreachable"
    elif code >= 500:
        reason = "relay_refused"
    else:
        reason = explain(code, text)
    return Outcome("retry", reply or "no answer", reason, retry_after,
                   connection_lost=code in (None, 421),
                   attempted=code != 421 and (code is not None or stage == "data"))
