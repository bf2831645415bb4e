"""Input rules shared by the issuing form, the JSON API and imports: one place for each."""

import functools
import re
from datetime import datetime, timedelta
from email.utils import getaddresses
from typing import NamedTuple

import email_validator
from email_validator import EmailNotValidError

# DESIGN.md: the reserved test domains are accepted, so the app can be tried without
# real mailboxes (email-validator's documented way is to drop them from this list).
for _reserved in ("test", "invalid", "localhost"):
    if _reserved in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_reserved)

NAME_MAX = 200
EMAIL_MAX = 254
# Text starting with one of these is run as a formula by spreadsheets (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@")


class InvalidInput(ValueError):
    """A field value that breaks a rule; the message is shown to the user."""


# Unicode's categories Cc (control: CR, LF, TAB, NUL…, exactly these two ranges), Zl and Zp
# (the line and paragraph separators some mailers honour); a pattern, not a loop over
# unicodedata.category: an import checks 100,000 rows (tests/test_validation.py compares).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
SURROGATE = re.compile("[\ud800-\udfff]")
# An address whose local part is plain ASCII dot-atom (the common case): email-validator
# then checks and normalizes only its domain, once per domain.
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(rf"({ATOM}(?:\.{ATOM})*)@([^@]+)")
LOCAL_MAX = 64


def _has_control(value):
    return CONTROL.search(value) is not None


def _not_unicode(value):
    """True for text with a lone surrogate ("\\ud800" in JSON): no encoding can store it."""
    return SURROGATE.search(value) is not None


def clean_text(value, what="Name", max_length=NAME_MAX):
    """A required one-line text: stripped, 1–max_length characters, no control characters,
    not a spreadsheet formula."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text.")
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} is required.")
    if _not_unicode(value):
        raise InvalidInput(f"{what} is not valid Unicode text.")
    if len(value) > max_length:
        raise InvalidInput(f"{what} must be at most {max_length} characters.")
    if _has_control(value):
        raise InvalidInput(f"{what} must not contain line breaks or control characters.")
    if value.startswith(FORMULA_STARTS):
        raise InvalidInput(f"{what} must not start with {value[0]}: spreadsheets would run it "
                           "as a formula.")
    return value


def clean_password(value):
    """A password of 8 to 200 characters (any characters: it is only hashed)."""
    if not isinstance(value, str) or len(value) < 8:
        raise InvalidInput("The password needs at least 8 characters.")
    if len(value) > 200:
        raise InvalidInput("The password must be at most 200 characters.")
    return value


def clean_email(value):
    """An optional address: None when empty, else syntax-checked and normalized."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("Email must be text or empty.")
    value = value.strip()
    if not value:
        return None
    if _not_unicode(value):
        raise InvalidInput("Email is not valid Unicode text.")
    if _has_control(value):
        raise InvalidInput("Email must not contain line breaks or control characters.")
    if len(value) > EMAIL_MAX:
        raise InvalidInput(f"Email must be at most {EMAIL_MAX} characters.")
    plain = PLAIN_ADDRESS.fullmatch(value)
    if plain and len(plain[1]) <= LOCAL_MAX:
        domain = _checked_domain(plain[2])
        if domain and len(f"{plain[1]}@{domain}".encode()) <= EMAIL_MAX:
            return f"{plain[1]}@{domain}"
    try:
        checked = email_validator.validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput(f"'{value}' is not a valid address: {error}") from None
    return checked.normalized


@functools.lru_cache(maxsize=4096)
def _checked_domain(domain):
    """A domain as email-validator normalizes it, or None where it refuses it (the whole
    address then goes to it, for its own words)."""
    try:
        return email_validator.validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def clean_future_time(value, now):
    """An aware datetime strictly after now, from a datetime or an ISO 8601 string with offset."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                "Time must be ISO 8601 with an offset, like 2030-01-31T09:00:00+01:00."
            ) from None
    if not isinstance(value, datetime):
        raise InvalidInput("Time is required to schedule.")
    if value.tzinfo is None:
        raise InvalidInput("Time needs a UTC offset, like +00:00.")
    if value <= now:
        raise InvalidInput("Time must be in the future.")
    if value.year > 9999 - 1:
        raise InvalidInput("Time is too far in the future.")
    return value


REASON_MAX = 1000


def clean_reason(value):
    """Why a credential is revoked: 1–1,000 characters on one line (shown to anyone who
    checks the credential)."""
    if not isinstance(value, str):
        raise InvalidInput("Reason must be text.")
    value = value.strip()
    if not value:
        raise InvalidInput("Say why the credential is revoked: anyone who checks it sees this.")
    if _not_unicode(value):
        raise InvalidInput("Reason is not valid Unicode text.")
    if len(value) > REASON_MAX:
        raise InvalidInput(f"Reason must be at most {REASON_MAX:,} characters; it has "
                           f"{len(value):,}.")
    if _has_control(value):
        raise InvalidInput("Reason must be one line, without control characters.")
    return value


def clean_expiry(value):
    """When a credential stops being valid: None (never), or an ISO 8601 time with an
    offset (a past one too: a credential issued late may have expired already)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput("Expiry must be ISO 8601 with an offset, like "
                               "2030-01-31T00:00:00+00:00, or null for never.") from None
    if not isinstance(value, datetime):
        raise InvalidInput("Expiry must be an ISO 8601 time or null.")
    if value.tzinfo is None:
        raise InvalidInput("Expiry needs a UTC offset, like +00:00.")
    if not 1970 <= value.year <= 9998:
        raise InvalidInput("Expiry must be a year from 1970 to 9998.")
    return value


DESCRIPTION_MAX = 2000


def clean_description(value, what="Description"):
    """A group's description or criteria: up to 2,000 characters, line breaks allowed."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text.")
    value = value.replace("\r\n", "\n").strip()
    if _not_unicode(value):
        raise InvalidInput(f"{what} is not valid Unicode text.")
    if len(value) > DESCRIPTION_MAX:
        raise InvalidInput(f"{what} must be at most {DESCRIPTION_MAX:,} characters.")
    if any(ch != "\n" and _has_control(ch) for ch in value):
        raise InvalidInput(f"{what} must not contain control characters.")
    return value


VALIDITY_MAX = 1200  # a hundred years


class Sender(NamedTuple):
    """Who an email comes from: a display name (may be empty) and a bare address."""

    name: str
    address: str

    @property
    def domain(self):
        """The address's domain in its ASCII (IDNA) form, for Message-IDs and envelopes."""
        return self.address.rpartition("@")[2].encode("idna").decode("ascii")


SENDER_EXAMPLE = ('certificates@acme.example or "Acme Academy <certificates@acme.example>"')


def clean_sender(value):
    """A sender as configured: an address with or without a display name, parsed once."""
    refusal = InvalidInput(f"{value!r} is not one valid address. Write it as {SENDER_EXAMPLE}.")
    if not isinstance(value, str) or _has_control(value):
        raise refusal
    found = getaddresses([value])
    if len(found) != 1:
        raise refusal
    name, address = found[0]
    try:
        address = clean_email(address)
    except InvalidInput:
        raise refusal from None
    if not address:
        raise refusal
    return Sender(name.strip(), address)


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(seconds?|minutes?|hours?|days?|weeks?)?\s*$",
                      re.IGNORECASE)


def clean_duration(value):
    """A setting's length of time: seconds, or a number of seconds, minutes, hours, days or
    weeks ("3 days")."""
    found = DURATION.match(str(value))
    if not found or float(found.group(1)) <= 0:
        raise InvalidInput(f"{value!r} is not a length of time; write it as \"3 days\" or a "
                           "number of seconds.")
    unit = (found.group(2) or "seconds").lower().rstrip("s") + "s"
    return timedelta(**{unit: float(found.group(1))})


TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


def clean_topic_arns(value):
    """SNS topic ARNs separated by commas, as a tuple (empty: none)."""
    if isinstance(value, list | tuple):
        value = ",".join(value)
    arns = tuple(arn.strip() for arn in str(value).split(",") if arn.strip())
    wrong = [arn for arn in arns if not TOPIC_ARN.match(arn)]
    if wrong:
        raise InvalidInput(f"{wrong[0]!r} is not an SNS topic ARN "
                           "(arn:aws:sns:REGION:ACCOUNT:TOPIC).")
    return arns


ACTIONS = ("draft", "publish", "schedule")


def clean_action(value):
    """One of draft, publish or schedule."""
    if value not in ACTIONS:
        raise InvalidInput("Action must be one of draft, publish, schedule.")
    return value
