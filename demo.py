"""Demo data for `make run`: an issuer and credentials in every email status."""

from datetime import timedelta

import sqlalchemy as sa

from cli import create_user
from mailer.opens import record_opens
from mailer.queue import claim, record
from mailer.replies import Outcome, classify
from models import Credential, CredentialGroup, EmailMessage, db, write_transaction
from models.types import utcnow

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-issuer"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"

# What the mail servers of the demo recipients answered.
OUTCOMES = {
    "sent": Outcome("sent", "250 2.0.0 Ok: queued"),
    "opened": Outcome("sent", "250 2.0.0 Ok: queued"),
    "bounced": classify(550, "5.1.1 Recipient address rejected: User unknown", "rcpt"),
    "blocked": classify(554, "5.7.1 Message rejected under policy: sender not allowed",
                        "rcpt"),
}

# (name, address, action, send email, what became of the email); those with a story
# first: the demo writes it through the pipeline's own functions.
RECIPIENTS = [
    ("Radia Perlman", "radia@bigcorp.example", "publish", True, "blocked"),
    ("Vint Cerf", "vint@bigcorp.example", "publish", True, "blocked"),
    ("Frances Allen", "frances@bigcorp.example", "publish", True, "blocked"),
    ("Tim Berners-Lee", "tim@gmial.com", "publish", True, "bounced"),
    ("Donald Knuth", "don@nowhere.invalid", "publish", True, "bounced"),
    ("Barbara Liskov", "barbara@example.com", "publish", True, "sent"),
    ("Margaret Hamilton", "margaret@example.com", "publish", True, "opened"),
    ("Ada Lovelace", "ada@example.com", "draft", True, None),
    ("Alan Turing", "alan@example.com", "schedule", True, None),
    ("Grace Hopper", "grace@example.com", "publish", False, None),
    ("Katherine Johnson", None, "publish", True, None),
    ("Edsger Dijkstra", "edsger@example.com", "publish", True, None),  # the queue sends it
]


def seed():
    """Create the demo issuer with one credential per demo recipient; return the login."""
    user = create_user(DEMO_EMAIL, "Demo Academy", DEMO_PASSWORD)
    group = CredentialGroup.get_or_create(user.org_id, "Python Fundamentals 2026")
    storied = [recipient for recipient in RECIPIENTS if recipient[4]]
    _issue(user, group, storied)
    _tell_stories(storied)
    _issue(user, group, [recipient for recipient in RECIPIENTS if not recipient[4]])
    return DEMO_EMAIL, DEMO_PASSWORD


def _issue(user, group, recipients):
    for name, address, action, send_email, _ in recipients:
        Credential.issue(user.org_id, name, address, group, action,
                         utcnow() + timedelta(days=1), send_email, user)
    db.session.commit()


def _tell_stories(storied):
    """Claim the storied recipients' queued emails and record what became of them."""
    ids = claim(len(storied), "demo")  # oldest first: exactly these
    tokens = dict(db.session.execute(
        sa.select(EmailMessage.id, EmailMessage.token).where(EmailMessage.id.in_(ids))).all())
    db.session.rollback()
    for message_id, (*_, story) in zip(ids, storied, strict=True):
        record(message_id, OUTCOMES[story], "demo")
        if story == "opened":
            with write_transaction() as connection:
                record_opens(connection, [(tokens[message_id], FIREFOX, utcnow(), "image")])
