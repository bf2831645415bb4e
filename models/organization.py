"""An issuing organization: everything an issuer sees is scoped to one."""

import secrets
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.types import UTCDateTime, utcnow
from validation import Sender


def address_domain(address):
    """The domain of an address, lower-case in its ASCII (IDNA) form: what DNS is asked."""
    return address.rpartition("@")[2].lower().encode("idna").decode("ascii")


class Organization(db.Model):
    __tablename__ = "organizations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # The organization's own sender for delivery emails; MAIL_DEFAULT_SENDER when unset.
    sender_name: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    sender_address: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    reply_to: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    # The domain of sender_address as its verification stands (mailer.sender_domains): the
    # token its DNS TXT record must carry, when it was verified, and the last check.
    sender_domain: so.Mapped[str | None] = so.mapped_column(sa.String(253))
    sender_domain_token: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    sender_domain_verified_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    sender_domain_checked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    sender_domain_check: so.Mapped[str | None] = so.mapped_column(sa.String(20))  # a code
    sender_domain_found: so.Mapped[str | None] = so.mapped_column(sa.String(1000))

    # The id in its public URLs (the Open Badges issuer profile, its status lists).
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True,
                                                 default=lambda: secrets.token_urlsafe(16))
    # Each credential's place in the organization's revocation status lists: the next free.
    status_next: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # Bumped by every revocation and reinstatement: its signed status lists are made anew.
    status_version: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    # Its brand (branding.py): a logo drawn again as PNG with its size, and a colour; the
    # version changes with either and names the files pages and emails fetch.
    logo_png: so.Mapped[bytes | None] = so.mapped_column(sa.LargeBinary, deferred=True)
    logo_width: so.Mapped[int | None] = so.mapped_column()
    logo_height: so.Mapped[int | None] = so.mapped_column()
    brand_colour: so.Mapped[str | None] = so.mapped_column(sa.String(7))
    brand_version: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # The email template of its delivery emails and reminders (mailer.wording); None: ours.
    email_subject: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    email_message: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Automatic reminders: after this many days unopened, at most reminder_max of them.
    reminder_after_days: so.Mapped[int | None] = so.mapped_column()
    reminder_max: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    # Deliverability (DESIGN.md): the DKIM key the app made for its sender domain, and when
    # the domain check last found its TXT record as shown (mail is signed while it is).
    dkim_selector: so.Mapped[str | None] = so.mapped_column(sa.String(63))
    dkim_private_key: so.Mapped[str | None] = so.mapped_column(sa.Text, deferred=True)  # PEM
    dkim_found_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # What the last domain check read of DKIM, SPF and DMARC, with its advice (JSON).
    dns_report: so.Mapped[dict | None] = so.mapped_column(sa.JSON)
    # The reputation guard: sending paused by itself, why (with the figures), and since
    # when the guard counts (the last resume: mail handed over before it no longer counts).
    paused_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    paused_reason: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    guard_since: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    @property
    def sender_verified(self):
        """Whether sender_address's domain is the one verified."""
        return bool(self.sender_address and self.sender_domain_verified_at
                    and self.sender_domain == address_domain(self.sender_address))

    def sender(self, default):
        """The Sender delivery emails come from: the organization's own name, and its own
        address once its domain is verified, else the default sender's address."""
        address = self.sender_address if self.sender_verified else default.address
        return Sender(self.sender_name or self.name, address)

    def reply_address(self):
        """Where replies go: reply_to, else a custom sender address not yet verified (it is
        not in From, but it is where the organization reads its mail); None for From."""
        if self.reply_to:
            return self.reply_to
        return None if self.sender_verified else self.sender_address

    def sender_address_set(self):
        """After sender_address was saved: a new domain gets a new token and is verified
        afresh; the same domain keeps its state."""
        domain = address_domain(self.sender_address) if self.sender_address else None
        if domain == self.sender_domain and (self.sender_domain_token or not domain):
            return
        self.sender_domain = domain
        self.sender_domain_token = secrets.token_urlsafe(24) if domain else None
        self.sender_domain_verified_at = self.sender_domain_checked_at = None
        self.sender_domain_check = self.sender_domain_found = None
        # The DKIM key stays, but what was read of the old domain's records goes: Settings
        # and the API would show it as the new domain's until the next check.
        self.dkim_found_at = self.dns_report = None

    def __repr__(self):
        return f"<Organization {self.id} {self.name!r}>"
