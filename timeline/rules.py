"""What each event of a credential implies: one entry per event type (models.states.EventType).

timeline.record writes these for every event it is given; a new event type is a new entry.
"""

from typing import NamedTuple

import work
from models.states import EventType, SuppressionReason


class Rule(NamedTuple):
    """What an event writes besides its timeline row."""

    status: bool = False  # re-derive the credential's email status (and the counts)
    stamps: tuple = ()  # funnel stages first reached (models.funnel_count.STAMPED)
    # One more open of its email; its first open also moves the status and the "opened"
    # stage (an email opened before changes neither).
    opens_email: bool = False
    share_view: bool = False  # one more view of the public page (the first: "shared")
    per_day: bool = False  # counted per day for the Analytics chart
    suppresses: SuppressionReason | None = None  # the address is not mailed again
    webhook: str | None = None  # the outbound webhook event announcing it
    # Rows kept in a credential's timeline (an open's: in its email's, counted by the email's
    # opens); the rest only count.
    cap: int | None = None
    wakes: str | None = None  # the background job that has work once it is committed
    status_list: bool = False  # the organization's signed revocation status lists change
    judges_sender: bool = False  # the organization's reputation guard judges it again


RULES = {
    EventType.QUEUED: Rule(status=True, wakes=work.MAIL),
    EventType.SENT: Rule(status=True, stamps=("sent",), webhook="email.sent"),
    EventType.DEFERRED: Rule(webhook="email.deferred"),
    # Only a hard bounce about the address suppresses it (models.Suppression.add).
    EventType.BOUNCED: Rule(status=True, suppresses=SuppressionReason.BOUNCED,
                            webhook="email.bounced", judges_sender=True),
    EventType.DELIVERED: Rule(),
    EventType.OPENED: Rule(opens_email=True, per_day=True, webhook="email.opened", cap=20),
    # A program's open (a privacy proxy's prefetch, a scanner's): noted, counts as nothing;
    # capped, as a scanner may fetch again and again.
    EventType.AUTO_OPENED: Rule(cap=20),
    EventType.COMPLAINED: Rule(suppresses=SuppressionReason.COMPLAINED,
                               webhook="email.complained", judges_sender=True),
    # Following the link opens the email too, whether or not its image loaded.
    EventType.VIEWED: Rule(opens_email=True, stamps=("viewed",), per_day=True,
                           webhook="credential.viewed"),
    EventType.DOWNLOADED: Rule(stamps=("downloaded",), webhook="credential.downloaded",
                               cap=20),
    EventType.LINKEDIN_CLICKED: Rule(stamps=("linkedin",), cap=20),
    EventType.SHARE_VIEWED: Rule(share_view=True, cap=20),
    EventType.ADDRESS_CHANGED: Rule(status=True),
    EventType.RESENT: Rule(),  # its "queued" event follows
    EventType.NAME_CHANGED: Rule(),
    # Its emails not yet sent are cancelled with it: the status follows the others.
    EventType.REVOKED: Rule(status=True, status_list=True, webhook="credential.revoked"),
    EventType.REINSTATED: Rule(status_list=True, webhook="credential.reinstated"),
    # No more reminders (models.Unsubscribe, written with it); the ones queued already are
    # cancelled with it: the status follows the others.
    EventType.UNSUBSCRIBED: Rule(status=True),
}

# The webhook event types an endpoint can subscribe to, in the order Settings lists them.
WEBHOOK_EVENTS = tuple(rule.webhook for rule in RULES.values() if rule.webhook)
# The event types the Analytics chart counts per day.
PER_DAY = tuple(kind for kind, rule in RULES.items() if rule.per_day)
