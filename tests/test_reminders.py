"""Automatic reminders: after N days unopened, at most K, never after an open or a view."""

from datetime import timedelta

import pytest
from conftest import issue, mark_latest

from lifecycle.reminders import send_reminders
from mailer.compose import compose
from models import db
from models.types import utcnow


def delivered(user, name, days_ago):
    credential = mark_latest(issue(user, name=name, action="publish"), "sent")
    credential.latest_message.sent_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()
    return credential


@pytest.fixture
def org(issuer):
    issuer.org.reminder_after_days, issuer.org.reminder_max = 3, 2
    db.session.commit()
    return issuer.org


def test_reminders_after_n_days_capped_at_k_and_stopped_by_an_open(org, issuer):
    old = delivered(issuer, "Old", days_ago=4)
    recent = delivered(issuer, "Recent", days_ago=1)
    opened = delivered(issuer, "Opened", days_ago=5)
    opened.latest_message.opened_at = utcnow() - timedelta(days=4)
    db.session.commit()
    assert send_reminders() == 1
    db.session.rollback()
    assert old.email_status == "sending" and recent.email_status == "not_opened"
    reminder = old.latest_message
    assert reminder.purpose == "reminder"
    assert compose(reminder).subject == "Reminder: Your credential: Course A"
    assert ("resent", "automatic reminder") in [(e.type, e.detail) for e in old.events()]
    assert send_reminders() == 0  # not delivered yet, so not "unopened for 3 days"

    later = utcnow() + timedelta(days=4)
    for _ in range(2):  # the second reminder is delivered and ignored too
        mark_latest(old, "sent")
        old.latest_message.sent_at = utcnow()
        db.session.commit()
        send_reminders(now=later)
        later += timedelta(days=4)
    db.session.rollback()
    assert len(old.messages) == 3  # the first email and two reminders: the cap
    mark_latest(old, "sent")
    send_reminders(now=later + timedelta(days=30))
    db.session.rollback()
    assert len(old.messages) == 3 and old.email_status == "not_opened"
    assert len(opened.messages) == 1  # opened once: never reminded


def test_a_followed_link_stops_reminders(org, issuer, client):
    viewed = delivered(issuer, "Viewed", days_ago=10)
    client.get(f"/r/{viewed.latest_message.token}")
    db.session.rollback()
    assert viewed.email_status == "opened"
    assert send_reminders() == 0


def test_reminders_are_off_until_switched_on(issuer):
    delivered(issuer, "Old", days_ago=30)
    assert send_reminders() == 0


@pytest.mark.parametrize("days, most, status", [
    ("3", "2", 302), ("", "", 302), ("0", "2", 422), ("x", "2", 422), ("3", "11", 422),
])
def test_reminder_settings(logged_in, issuer, days, most, status):
    response = logged_in.post("/settings/", data={
        "section": "reminders", "reminders-reminder_after_days": days,
        "reminders-reminder_max": most})
    assert response.status_code == status
    db.session.rollback()
    if status == 302:
        assert issuer.org.reminder_after_days == (int(days) if days else None)
