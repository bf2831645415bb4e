"""Demo data for `make run`: an issuer and credentials in every email status."""

from datetime import timedelta

import sqlalchemy as sa

import issuing
from accounts import create_user
from mailer.claim import claim_messages
from mailer.commit import record
from mailer.replies import Outcome, classify
from models import EmailMessage, db, write_transaction
from models.types import utcnow
from tracking.opens import record_opens

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-issuer"
GROUP = "Python Fundamentals 2026"
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
    storied = [recipient for recipient in RECIPIENTS if recipient[4]]
    _issue(user, storied)
    _tell_stories(storied)
    _issue(user, [recipient for recipient in RECIPIENTS if not recipient[4]])
    return DEMO_EMAIL, DEMO_PASSWORD


def _issue(user, recipients):
    tomorrow = utcnow() + timedelta(days=1)
    issuing.issue_new(db.session.connection(), user.org_id, user.id, [
        issuing.NewCredential(name, address, GROUP, action,
                              tomorrow if action == "schedule" else None, send_email)
        for name, address, action, send_email, _ in recipients])
    db.session.commit()


def _tell_stories(storied):
    """Claim the storied recipients' queued emails and record what became of them."""
    ids = claim_messages(len(storied), "demo")  # oldest first: exactly these
    tokens = dict(db.session.execute(sa.select(EmailMessage.id, EmailMessage.token)
                                     .where(EmailMessage.id.in_(ids))).all())
    db.session.rollback()
    for row_id, (*_, story) in zip(ids, storied, strict=True):
        record(row_id, OUTCOMES[story], "demo")
        if story == "opened":
            with write_transaction() as connection:
                # A browser says which languages its reader reads: a person, not a scanner.
                record_opens(connection, [(tokens[row_id], FIREFOX, utcnow(), "image", "en")])
