"""The six email statuses and the one rule that derives them."""

from enum import StrEnum


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
