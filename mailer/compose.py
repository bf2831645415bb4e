"""Build the delivery email of one queued message (no request needed)."""

import email.message
import secrets
from email import policy
from email.utils import formataddr, formatdate

from flask import current_app
from flask_babel import get_translations, gettext
from flask_mail import Message, sanitize_subject
from jinja2 import pass_context
from markupsafe import Markup

import branding
import languages
from lifecycle import unsubscribes
from mailer import wording
from mailer.verp import envelope_sender
from models import Organization, User, db
from models.states import MessagePurpose
from team import links as links_to_accounts

ACCOUNT_PURPOSES = (MessagePurpose.INVITATION, MessagePurpose.PASSWORD_RESET)


class FastCompat32(policy.Compat32):
    """compat32 that writes a short plain header as it is: what its folding would give,
    without building an email.header.Header for each (a third of the cost of a message)."""

    def _fold(self, name, value, sanitize):
        if (isinstance(value, str) and value.isascii() and value == value.strip()
                and "\n" not in value and "\r" not in value
                and len(name) + len(value) + 2 <= (self.max_line_length or 78)):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


# The policy Flask-Mail's messages are built with, ending lines in CRLF for SMTP. It writes
# the same bytes rules as policy.SMTP (which Flask-Mail uses) at half the cost, because it
# does not re-parse every header while writing; on a local server that doubles throughput.
SMTP_COMPAT32 = FastCompat32(linesep="\r\n")


def address_header(name, address):
    """One mailbox for a header: the name quoted or RFC 2047-encoded only when it must be,
    the domain in its ASCII (IDNA) form."""
    local, _, domain = address.rpartition("@")
    address = f"{local}@{domain.encode('idna').decode('ascii')}"
    if not local.isascii():
        # An international mailbox (SMTPUTF8): its UTF-8 bytes go out as they are, which
        # leaves no safe place for a display name.
        return address.encode().decode("ascii", "surrogateescape")
    return formataddr((name, address), "utf-8")


class DeliveryMail(Message):
    """A Flask-Mail message serialized with SMTP_COMPAT32 as the text and HTML alternatives
    alone, its addresses as address_header writes them."""

    def __init__(self, *, sender, **kwargs):
        super().__init__(sender=sender, **kwargs)
        self.sender = sender  # Flask-Mail joins it into "name <address>", which a comma breaks

    def _message(self):
        """The email. Flask-Mail's own would wrap the alternatives in a multipart/mixed of
        one part, give every part a MIME-Version, encode every display name and set each
        part's charset through the email package's slow path: built here with the same
        headers, in the same order, at less than half the cost (bench/README.md)."""
        message = email.message.Message(policy=SMTP_COMPAT32)
        if self.subject:
            message["Subject"] = sanitize_subject(self.subject)
        message["From"] = address_header(*self.sender)
        # An international mailbox (SMTPUTF8) goes out as its UTF-8 bytes (address_header).
        message["To"] = ", ".join(address_header(*to) for to in self.recipients)
        message["Date"] = formatdate(self.date, localtime=True)
        message["Message-ID"] = self.msgId
        if self.reply_to:
            message["Reply-To"] = address_header(*self.reply_to)
        for name, value in (self.extra_headers or {}).items():
            message[name] = value
        message["MIME-Version"] = "1.0"
        message["Content-Type"] = f'multipart/alternative; boundary="{self._boundary()}"'
        message.set_payload([_text_part(self.body, "plain"), _text_part(self.html, "html")])
        return message

    def _boundary(self):
        """A random MIME boundary that is in neither body. Left to the generator, it would
        compile a regular expression for each message to check that."""
        while True:
            boundary = f"=={secrets.token_hex(16)}=="
            if boundary not in self.body and boundary not in self.html:
                return boundary

    def as_bytes(self):
        return self._message().as_bytes()


def _text_part(text, subtype):
    """A text/plain or text/html part in UTF-8, as Flask-Mail's MIMEText makes it (7bit
    when ASCII, else 8bit: Flask-Mail registers UTF-8 without a body encoding)."""
    part = email.message.Message(policy=SMTP_COMPAT32)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    if text.isascii():
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(text)
    else:  # the generator writes these surrogate-escaped bytes back as they are
        part["Content-Transfer-Encoding"] = "8bit"
        part.set_payload(text.encode().decode("ascii", "surrogateescape"))
    return part


def _render(name, context):
    # Straight from the Jinja environment: an email needs no request context processors.
    return current_app.jinja_env.get_template(name).render(context)


def _translated(translations):
    """The templates' gettext for these translations, as Jinja's i18n extension makes it
    (newstyle: escaped where the template escapes, then %-formatted): looked up once for
    the email rather than through Flask-Babel's contexts for each string."""

    @pass_context
    def translate(context, string, **variables):
        text = translations.ugettext(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return translate


def links(message):
    """Absolute URLs of the recipient's link and the tracking image: tokens, never ids."""
    base = current_app.config["PUBLIC_BASE_URL"]
    # A test email's button leads its issuer back to the email's settings.
    link = f"{base}/r/{message.token}" if message.credential_id else f"{base}/settings/email/"
    return {"link": link, "pixel": f"{base}/t/{message.token}.gif"}


def brand(org):
    """The organization's logo (from our URL, drawn at half its pixels for sharp screens;
    the email reads well without it, as clients that block images show it) and the
    button's colours."""
    colour = org.brand_colour or branding.DEFAULT_COLOUR
    logo = None
    if org.logo_width:
        base = current_app.config["PUBLIC_BASE_URL"]
        logo = {"url": f"{base}/brand/{org.public_id}/logo.png?v={org.brand_version}",
                "width": max(1, org.logo_width // 2), "height": max(1, org.logo_height // 2)}
    return {"logo": logo, "button": colour, "button_text": branding.text_colour(colour)}


def sender_header(from_address, envelope):
    """{"Sender": the envelope sender} when From names another address: the address that
    actually sends, which receiving servers check SPF against (RFC 5322 section 3.6.2)."""
    if from_address.lower() == envelope.lower():  # the common case, without encoding
        return None
    sender = address_header("", envelope)
    if address_header("", from_address).lower() == sender.lower():
        return None
    return {"Sender": sender}


def words(credential, purpose):
    """The email's subject and message: the issuer's template (the group's, else the
    organization's, else ours) for a delivery or reminder; ours for an expiry notice."""
    values = wording.values_for(credential)
    if purpose == MessagePurpose.EXPIRY_NOTICE:
        return wording.render(gettext(wording.EXPIRY_SUBJECT), gettext(wording.DEFAULT_MESSAGE),
                              values)
    subject, message = wording.templates_for(credential.org, credential.group)
    return wording.render(subject, message, values,
                          reminder=purpose == MessagePurpose.REMINDER)


def account_words(message, org):
    """(subject, context) of an invitation or a password reset: ours, in English, as the
    issuer's pages are."""
    link = links_to_accounts.url_for_message(message.id)
    if message.purpose == MessagePurpose.INVITATION:
        inviter = db.session.get(User, message.requested_by_id)
        who = inviter.email if inviter else "A colleague"
        return f"Join {org.name} on the credential mail tracker", {
            "text": f"{who} invites you to {org.name}, where you will see and manage its "
                    "credentials and their emails. Set your password to join.",
            "button": "Set your password", "link": link,
            "footer": "The link works once, for 7 days. If you did not expect this "
                      "invitation, ignore this email."}
    return "Reset your password", {
        "text": f"Someone (we hope you) asked to reset the password of {message.to_address} "
                f"at {org.name}. Set a new one here: it logs you out everywhere else.",
        "button": "Set a new password", "link": link,
        "footer": "The link works once, for 1 hour. If you did not ask, ignore this email: "
                  "your password stays as it is."}


def compose_account(message):
    """An invitation or a password reset: no tracking image, no credential."""
    org = db.session.get(Organization, message.org_id)
    subject, context = account_words(message, org)
    mail = DeliveryMail(
        subject=subject, sender=("Credential mail tracker",
                                 current_app.config["DEFAULT_SENDER"].address),
        recipients=[("", message.to_address)],
        body=_render("account/email.txt", context), html=_render("account/email.html", context),
        extra_headers={"Auto-Submitted": "auto-generated"})
    mail.msgId = message.message_id
    return mail


def compose(message):
    """A Flask-Mail message for a queue row, with its stored Message-ID."""
    if message.purpose in ACCOUNT_PURPOSES:
        return compose_account(message)
    credential = message.credential
    if credential is None:  # a test of the organization's email: a sample recipient
        credential = wording.sample_credential(db.session.get(Organization, message.org_id))
    org = credential.org
    unsubscribe = unsubscribes.url(message)  # reminders and expiry notices only
    context = {"credential": credential, "org": org, **links(message), **brand(org),
               "expiry_notice": message.purpose == "expiry_notice" and credential.expires_at,
               "unsubscribe": unsubscribe}
    with languages.speaking(credential.group.language):  # ours in the group's language
        said = words(credential, message.purpose)
        context |= {"words": said, "gettext": _translated(get_translations())}
        body = _render("email/credential.txt", context)
        html = _render("email/credential.html", context)
    sender = org.sender(current_app.config["DEFAULT_SENDER"])
    reply_to = org.reply_address()
    mail = DeliveryMail(
        subject=("[Test] " if message.purpose == MessagePurpose.TEST else "") + said.subject,
        sender=sender,
        reply_to=("", reply_to) if reply_to else None,
        recipients=[("" if message.credential is None else credential.recipient_name,
                     message.to_address)],
        body=body, html=html,
        extra_headers={**(sender_header(sender.address, envelope_sender(message.id)) or {}),
                       **unsubscribes.headers(unsubscribe)},
    )
    mail.msgId = message.message_id  # kept by every retry of this message
    return mail
