"""Demo data for `make run`: an issuer and credentials in every email status."""

from datetime import timedelta

from cli import create_user
from mailer.replies import classify
from models import Credential, CredentialGroup, EmailEvent, db
from models.types import utcnow

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-issuer"

# (name, address, action, send email, outcome of the email if one is sent)
RECIPIENTS = [
    ("Ada Lovelace", "ada@example.com", "draft", True, None),
    ("Alan Turing", "alan@example.com", "schedule", True, None),
    ("Grace Hopper", "grace@example.com", "publish", False, None),
    ("Katherine Johnson", None, "publish", True, None),
    ("Edsger Dijkstra", "edsger@example.com", "publish", True, None),
    ("Barbara Liskov", "barbara@example.com", "publish", True, "sent"),
    ("Donald Knuth", "don@nowhere.invalid", "publish", True, "bounced"),
    ("Margaret Hamilton", "margaret@example.com", "publish", True, "opened"),
    ("Tim Berners-Lee", "tim@gmial.com", "publish", True, "bounced"),
    ("Radia Perlman", "radia@bigcorp.example", "publish", True, "blocked"),
    ("Vint Cerf", "vint@bigcorp.example", "publish", True, "blocked"),
    ("Frances Allen", "frances@bigcorp.example", "publish", True, "blocked"),
]


def _record(message, outcome):
    """Write an outcome the mail pipeline would have recorded."""
    now = utcnow() + timedelta(seconds=1)  # after the "queued" event
    credential = message.credential  # its status follows at the next flush
    if outcome in ("sent", "opened"):
        message.state, message.sent_at, message.attempts = "sent", now, 1
        message.last_reply = "250 2.0.0 Ok: queued"
        db.session.add(EmailEvent(credential=credential, message=message, type="sent",
                                  detail=message.last_reply, at=now))
    if outcome == "opened":
        message.opened_at, message.open_count = now + timedelta(minutes=5), 1
        db.session.add(EmailEvent(credential=credential, message=message, type="opened",
                                  detail="by a person (Firefox)", at=message.opened_at))
    if outcome in ("bounced", "blocked"):
        reply = ("554 5.7.1 Message rejected under policy: sender not allowed"
                 if outcome == "blocked"
                 else f"550 5.1.1 <{message.to_address}>: Recipient address rejected")
        message.state, message.attempts, message.bounce_kind = "bounced", 1, "hard"
        message.last_reply = reply
        message.bounce_reason = classify(int(reply[:3]), reply[4:], "rcpt").reason
        db.session.add(EmailEvent(credential=credential, message=message, type="bounced",
                                  detail=message.bounce_reason, at=now))


def seed():
    """Create the demo issuer with one credential per demo recipient; return the login."""
    user = create_user(DEMO_EMAIL, "Demo Academy", DEMO_PASSWORD)
    group = CredentialGroup.get_or_create(user.org_id, "Python Fundamentals 2026")
    for name, address, action, send_email, outcome in RECIPIENTS:
        credential = Credential.issue(user.org_id, name, address, group, action,
                                      utcnow() + timedelta(days=1), send_email, user)
        if outcome:
            _record(credential.latest_message, outcome)
    db.session.commit()
    return DEMO_EMAIL, DEMO_PASSWORD
