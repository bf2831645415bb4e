"""The six email statuses and the one rule that derives them (their words: models.words)."""

from enum import StrEnum

from models import words
from models.states import IN_FLIGHT, MessageState


class EmailStatus(StrEnum):
    NOT_SENT = "not_sent"
    NOT_PROVIDED = "not_provided"
    SENDING = "sending"
    NOT_OPENED = "not_opened"
    BOUNCED = "bounced"
    OPENED = "opened"

    @property
    def label(self):
        return words.STATUS_LABELS[self]

    @property
    def tooltip(self):
        return words.STATUS_TOOLTIPS[self]

    @property
    def advice(self):
        """What the status means and what to do, for the help page."""
        return words.STATUS_ADVICE[self]

    @property
    def tip(self):
        """The quick tip for this status (a words.Tip), or None."""
        return words.STATUS_TIPS.get(self)

    @property
    def transient(self):
        """True while the status can still change without anyone acting."""
        return self is EmailStatus.SENDING


def email_status(has_address, state, opened):
    """The email status of a credential: whether it has an address, and its latest email
    message's state (None without one) and whether that message was opened.

    Precedence: no address, then no message, then the message's state.
    """
    if not has_address:
        return EmailStatus.NOT_PROVIDED
    if state is None:
        return EmailStatus.NOT_SENT
    if state in IN_FLIGHT:
        return EmailStatus.SENDING
    if state == MessageState.BOUNCED:
        return EmailStatus.BOUNCED
    if state == MessageState.SENT:
        return EmailStatus.OPENED if opened else EmailStatus.NOT_OPENED
    raise ValueError(f"unknown message state {state!r}")

