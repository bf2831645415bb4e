"""The issuer's own words in the delivery email and the reminder: a subject and a Markdown
message with placeholders, checked when saved and rendered for each email (DESIGN.md).

Markdown is rendered by markdown-it-py and cleaned by nh3: raw HTML is dropped and every
link is https or mailto. Placeholder values are put in after that, as plain text, so a
name with Markdown or HTML in it shows as written and never becomes markup or a link.
"""

import functools
import re
import secrets
import string
import unicodedata
from datetime import datetime
from typing import NamedTuple
from urllib.parse import quote

import nh3
from flask_babel import gettext
from markdown_it import MarkdownIt
from markupsafe import escape

import languages
from languages import N_
from models.types import add_months, utcnow
from validation import InvalidInput

PLACEHOLDERS = ("recipient_name", "credential_name", "organization_name", "issue_date",
                "expiry_date")
SUBJECT_MAX, MESSAGE_MAX = 200, 5000


# Ours, in the same words a template uses: what an organization or group without its own
# template sends, in the group's language.
DEFAULT_SUBJECT = N_("Your credential: {credential_name}")
DEFAULT_MESSAGE = N_("Dear {recipient_name},\n\n"
                     "{organization_name} has issued you a credential: **{credential_name}**.")
EXPIRY_SUBJECT = N_("Your credential expires on {expiry_date}: {credential_name}")
REMINDER_PREFIX = N_("Reminder: ")

_MARKDOWN = MarkdownIt("commonmark", {"html": True})  # raw HTML reaches nh3, which drops it
_TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a", "blockquote", "code",
         "h1", "h2", "h3", "hr"}
_HREF = re.compile(r'href="([^"]*)"')
# The words placeholders stand as through Markdown and cleaning: letters and digits that
# Markdown leaves alone, random for each process so that no template can spell one.
_MARKER = f"ph{secrets.token_hex(4)}n"
_WORDS = {name: f"{_MARKER}{index}e" for index, name in enumerate(PLACEHOLDERS)}


class Words(NamedTuple):
    """One email's words: the subject, the message as cleaned HTML and as plain text."""

    subject: str
    html: str
    text: str


def _plain(value, what):
    """Unicode text without control characters (line breaks and tabs allowed), else
    InvalidInput."""
    if not value.isprintable() and any(
            char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise InvalidInput(f"{what} has control characters or is not valid Unicode text.")


def _parsed(text, what):
    """[(literal, placeholder or None)] of a template, or InvalidInput naming what is off."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        raise InvalidInput(f"{what} has a lone {{ or }}: write {{{{ or }}}} for a brace "
                           "itself.") from None
    for _, name, spec, conversion in parts:
        if name is not None and name not in PLACEHOLDERS:
            known = ", ".join(f"{{{known}}}" for known in PLACEHOLDERS)
            raise InvalidInput(f"{what} names an unknown placeholder {{{name}}}: use {known}.")
        if spec or conversion:
            raise InvalidInput(f"{what}: write {{{name}}} alone, without : or ! after it.")
    return [(literal, name) for literal, name, _, _ in parts]


def clean_subject(value):
    """A subject template: one line of 1–200 characters, known placeholders only."""
    return _cleaned(value, "Subject", SUBJECT_MAX, lambda text: " ".join(text.split()))


def clean_message(value):
    """A message template: Markdown of at most 5,000 characters, known placeholders only."""
    return _cleaned(value, "Message", MESSAGE_MAX,
                    lambda text: text.replace("\r\n", "\n").strip())


def _cleaned(value, what, longest, tidy):
    """The template tidied and checked: text, not empty, not too long, plain, parsed."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text.")
    value = tidy(value)
    if not value:
        raise InvalidInput(f"{what} must not be empty.")
    if len(value) > longest:
        raise InvalidInput(f"{what} is longer than {longest:,} characters.")
    _plain(value, what)
    _parsed(value, what)
    return value


def _filled(parts, values):
    return "".join(literal + (values[name] if name else "") for literal, name in parts)


def render(subject, message, values, reminder=False):
    """The words of one email from checked templates and the placeholders' values."""
    # Subjects are one line whatever the values hold (no header injection).
    subject_text = " ".join(_filled(_parsed(subject, "Subject"), values).split())
    parts, cleaned = _prepared(message)
    # Each value goes in where its word stands: quoted in a link, escaped as text elsewhere.
    cleaned = _HREF.sub(lambda m: 'href="' + _put(m[1], values, _in_link) + '"', cleaned)
    return Words((gettext(REMINDER_PREFIX) if reminder else "") + subject_text,
                 _put(cleaned, values, _as_text), _filled(parts, values))


@functools.lru_cache(maxsize=256)
def _prepared(message):
    """A message template parsed, and rendered and cleaned with each placeholder standing
    as a word of its own: done once per process for each template."""
    parts = _parsed(message, "Message")
    cleaned = nh3.clean(_MARKDOWN.render(_filled(parts, _WORDS)), tags=_TAGS,
                        attributes={"a": {"href", "title"}}, url_schemes={"https", "mailto"},
                        link_rel="noopener noreferrer")
    return parts, cleaned


def _as_text(value):
    return str(escape(value))


def _in_link(value):
    return quote(value, safe="")  # nothing left that HTML would read


def _put(text, values, escape):
    for name, word in _WORDS.items():
        if word in text:
            text = text.replace(word, escape(values[name]))
    return text


class SampleGroup(NamedTuple):
    """A made-up group, for an organization that has none yet (same fields as the model's)."""

    name: str = "Python Fundamentals 2026"
    validity_months: int | None = None
    language: str = "en"
    email_subject: str | None = None
    email_message: str | None = None


class Sample(NamedTuple):
    """A made-up credential of the organization: the preview's and a test email's."""

    recipient_name: str
    group: object
    org: object
    published_at: datetime
    expires_at: datetime


def sample_credential(org, group=None):
    """A credential for Ada Lovelace of this group (or a made-up one), published now."""
    now = utcnow()
    group = group or SampleGroup()
    return Sample("Ada Lovelace", group, org, now, add_months(now, group.validity_months or 24))


def templates_for(org, group):
    """(subject, message) that apply to a group's emails: the group's own, else its
    organization's, else ours; each part on its own."""
    subject = (group and group.email_subject) or org.email_subject or gettext(DEFAULT_SUBJECT)
    message = (group and group.email_message) or org.email_message or gettext(DEFAULT_MESSAGE)
    return subject, message


def values_for(credential):
    """The placeholders' values for a credential (dates in the language spoken)."""
    return {"recipient_name": credential.recipient_name,
            "credential_name": credential.group.name,
            "organization_name": credential.org.name,
            "issue_date": languages.date(credential.published_at),
            "expiry_date": languages.date(credential.expires_at)}
