"""The six email statuses and the one rule that derives them, written once as data and
read by Python and by SQL (their words: models.words)."""

from enum import StrEnum
from typing import NamedTuple

import sqlalchemy as sa

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


class When(NamedTuple):
    """One line of the status rule: the status, and what its inputs must be (None: any)."""

    status: EmailStatus
    has_address: bool | None = None
    states: frozenset | None = None  # the latest message's state; None in it: no message
    opened: bool | None = None


# The rule: the first line whose inputs match gives the status. Precedence: no address,
# then no message, then the latest message's state (DESIGN.md, "The six email statuses").
RULE = (
    When(EmailStatus.NOT_PROVIDED, has_address=False),
    When(EmailStatus.NOT_SENT, states=frozenset({None})),
    When(EmailStatus.SENDING, states=IN_FLIGHT),
    When(EmailStatus.BOUNCED, states=frozenset({MessageState.BOUNCED})),
    When(EmailStatus.OPENED, states=frozenset({MessageState.SENT}), opened=True),
    When(EmailStatus.NOT_OPENED, states=frozenset({MessageState.SENT})),
)


def email_status(has_address, state, opened):
    """The email status of a credential: whether it has an address, and its latest email
    message's state (None without one) and whether that message was opened."""
    for line in RULE:
        if ((line.has_address is None or line.has_address == has_address)
                and (line.states is None or state in line.states)
                and (line.opened is None or line.opened == opened)):
            return line.status
    raise ValueError(f"unknown message state {state!r}")


def email_status_sql(has_address, state, opened):
    """The same rule in SQL: a CASE over boolean expressions for the address and the open
    and a text one for the state (NULL: no message). A state the rule does not know gives
    NULL, which the stored status column refuses, as email_status raises."""
    def condition(line):
        parts = []
        if line.has_address is not None:
            parts.append(has_address if line.has_address else sa.not_(has_address))
        if line.states is not None:
            known = sorted(s for s in line.states if s is not None)
            parts.append(sa.or_(*([state.is_(None)] if None in line.states else []),
                                *([state.in_(known)] if known else [])))
        if line.opened is not None:
            parts.append(opened if line.opened else sa.not_(opened))
        return sa.and_(*parts)

    return sa.case(*((condition(line), line.status.value) for line in RULE))
