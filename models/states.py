"""The codes rows store for states and events, named once; the database checks them too.

Rules match on these names; the words people read for them are in models.words.
"""

from enum import StrEnum


class IssueState(StrEnum):
    """Where a credential stands: not yet public, due to be published, or published."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"


class MessageState(StrEnum):
    """A delivery email in the queue (DESIGN.md, "The mail queue")."""

    QUEUED = "queued"
    SENDING = "sending"  # leased by a worker, being handed to the mail server
    RETRY = "retry"  # waiting for its next try after a temporary failure
    SENT = "sent"  # the mail server accepted it
    BOUNCED = "bounced"  # delivery failed for good
    CANCELLED = "cancelled"  # never sent: its credential was revoked (no status follows it)


# Still on its way: the email status is "Sending".
IN_FLIGHT = frozenset({MessageState.QUEUED, MessageState.SENDING, MessageState.RETRY})


class MessagePurpose(StrEnum):
    """Why an email goes to the recipient (its subject and words follow)."""

    DELIVERY = "delivery"  # the credential, issued or sent again
    REMINDER = "reminder"  # not opened: the credential again, as a reminder
    EXPIRY_NOTICE = "expiry_notice"  # the credential expires soon
    TEST = "test"  # the organization's email, to the issuer who asked: of no credential
    INVITATION = "invitation"  # to a person invited to the organization: a system email
    PASSWORD_RESET = "password_reset"  # to a person who forgot their password: a system email



class BounceKind(StrEnum):
    HARD = "hard"  # refused for good
    SOFT = "soft"  # temporary failures ran out of tries


class EventType(StrEnum):
    """An entry in a recipient's timeline; timeline.rules says what each one implies."""

    QUEUED = "queued"
    SENT = "sent"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    DELIVERED = "delivered"
    COMPLAINED = "complained"
    OPENED = "opened"
    AUTO_OPENED = "auto_opened"  # a mail privacy proxy fetched the image, not a person
    VIEWED = "viewed"  # the recipient followed the link in the email
    DOWNLOADED = "downloaded"
    LINKEDIN_CLICKED = "linkedin_clicked"
    SHARE_VIEWED = "share_viewed"
    ADDRESS_CHANGED = "address_changed"
    RESENT = "resent"
    NAME_CHANGED = "name_changed"  # a correction
    REVOKED = "revoked"
    REINSTATED = "reinstated"
    UNSUBSCRIBED = "unsubscribed"  # from reminders and expiry notices (one click, RFC 8058)


class DeliveryState(StrEnum):
    """An outbound webhook message to one endpoint."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up after WEBHOOK_MAX_ATTEMPTS


class Role(StrEnum):
    """What a person (or an API key) of an organization may do (DESIGN.md, "A team per
    organization"), each role all that the ones before it may."""

    VIEWER = "viewer"  # read and export
    ISSUER = "issuer"  # issue, import, resend, revoke, nudge, groups and templates
    OWNER = "owner"  # everything: people, API keys, webhooks, sender and intake settings

    def allows(self, needed):
        """This role may do what the needed role may."""
        order = list(Role)
        return order.index(self) >= order.index(Role(needed))


class TokenPurpose(StrEnum):
    """What a one-time link in an email lets its holder do."""

    INVITATION = "invitation"  # join the organization: set a password (7 days)
    PASSWORD_RESET = "password_reset"  # set a new password (1 hour)


class SuppressionReason(StrEnum):
    BOUNCED = "bounced"  # refused for good
    COMPLAINED = "complained"  # reported as spam


def one_of(column, names):
    """The text of a CHECK constraint: the column holds one of these names."""
    # Comparisons joined by OR, not IN (…): SQLite checked an IN list on every row at twice
    # the cost of the row's insert (14 event types), the comparisons at no measurable cost.
    return " OR ".join(f"{column} = {str(name)!r}" for name in names)
