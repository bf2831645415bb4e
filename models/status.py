"""The six email statuses and the one rule that derives them."""

from enum import StrEnum
from typing import NamedTuple


class EmailStatus(StrEnum):
    NOT_SENT = "not_sent"
    NOT_PROVIDED = "not_provided"
    SENDING = "sending"
    NOT_OPENED = "not_opened"
    BOUNCED = "bounced"
    OPENED = "opened"

    @property
    def label(self):
        return LABELS[self]

    @property
    def tooltip(self):
        return TOOLTIPS[self]

    @property
    def advice(self):
        """What the status means and what to do, for the help page."""
        return ADVICE[self]

    @property
    def tip(self):
        """The quick tip for this status (a Tip), or None."""
        return TIPS.get(self)

    @property
    def transient(self):
        """True while the status can still change without anyone acting."""
        return self is EmailStatus.SENDING


LABELS = {
    EmailStatus.NOT_SENT: "Email is not sent",
    EmailStatus.NOT_PROVIDED: "Email is not provided",
    EmailStatus.SENDING: "Sending",
    EmailStatus.NOT_OPENED: "Email is not opened",
    EmailStatus.BOUNCED: "Email is bounced",
    EmailStatus.OPENED: "Email is opened",
}

TOOLTIPS = {
    EmailStatus.NOT_SENT: "No email was sent: the credential is a draft, scheduled, "
    "or was published with email switched off.",
    EmailStatus.NOT_PROVIDED: "There is no email address for this recipient, so nothing "
    "can be sent. Add one to send the credential.",
    EmailStatus.SENDING: "The email is queued or being delivered; a temporary failure "
    "is retried automatically.",
    EmailStatus.NOT_OPENED: "The recipient's mail server accepted the email; the "
    "recipient has not opened it yet.",
    EmailStatus.BOUNCED: "The email could not be delivered. Check the address and the "
    "reason, then fix and resend.",
    EmailStatus.OPENED: "The recipient opened the email or followed its link.",
}

ADVICE = {
    EmailStatus.NOT_SENT: "Nothing was sent yet. A draft or scheduled credential sends its "
    "email when it is published (a scheduled one publishes by itself at its time). A "
    "credential published with “Send email to recipient” switched off is visible, "
    "but the recipient was never told: resend it to send the email.",
    EmailStatus.NOT_PROVIDED: "The credential has no email address, so there is nobody to "
    "send it to. Add the recipient’s address, then send the email.",
    EmailStatus.SENDING: "The email is in the outgoing queue or being handed to the "
    "recipient’s mail server. Most emails leave within seconds. If the receiving "
    "server asks us to try later, we retry automatically with growing pauses before giving "
    "up; the icon changes by itself.",
    EmailStatus.NOT_OPENED: "The recipient’s mail server accepted the email. The "
    "recipient has not opened it yet, or their mail program does not load images. Give "
    "people a few days, check that the address is right, then send a reminder.",
    EmailStatus.BOUNCED: "The email could not be delivered: the address does not exist, the "
    "mailbox is full, the domain is misspelled, or the receiving server refused it (for "
    "example as spam or by its company policy). Check the address for typos, fix it and "
    "resend. If many people at one company bounce, ask that company’s IT to allow our "
    "sender address.",
    EmailStatus.OPENED: "The recipient opened the email or followed the link to their "
    "credential. Nothing to do.",
}


class Tip(NamedTuple):
    """A quick tip of the help page, and the row action that follows it."""

    anchor: str  # the help page section
    title: str  # its name where the status's help points to it
    action: str | None = None  # the row's link to the recipient panel
    hint: str | None = None  # that link's tooltip


TIPS = {
    EmailStatus.BOUNCED: Tip("fix-typos", "fix typos and resend", "Fix & resend",
                             "Check the address for a typo, fix it, then resend."),
    EmailStatus.NOT_OPENED: Tip("nudge", "give people time, then nudge", "Resend",
                                "Give people a few days, then send a reminder."),
    EmailStatus.NOT_SENT: Tip("send-unsent", "send what was never sent", "Send email",
                              "Published without email: send it now."),
    EmailStatus.NOT_PROVIDED: Tip("send-unsent", "add the address, then send"),
}

# Queue states in which a message is still on its way (DESIGN.md, "The mail queue").
IN_FLIGHT = frozenset({"queued", "sending", "retry"})


def email_status(credential, message):
    """The email status of a credential given its latest email message (or None).

    Precedence: no address, then no message, then the message's state.
    """
    if not credential.recipient_email:
        return EmailStatus.NOT_PROVIDED
    if message is None:
        return EmailStatus.NOT_SENT
    if message.state in IN_FLIGHT:
        return EmailStatus.SENDING
    if message.state == "bounced":
        return EmailStatus.BOUNCED
    if message.state == "sent":
        return EmailStatus.OPENED if message.opened_at else EmailStatus.NOT_OPENED
    raise ValueError(f"unknown message state {message.state!r}")
