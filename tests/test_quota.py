"""ORG_DAILY_LIMIT: an organization over its limit waits, the others keep sending."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Auth, issue, make_app

from accounts import create_user
from mailer.claim import claim
from mailer.queue import send_due
from models import EmailMessage, db
from models.types import utcnow
from views.health import utc_clock


@pytest.fixture(params=["sqlite", "postgres"])
def limited(request, tmp_path, sink):
    """An app limited to 3 messages per organization a day, claiming 2 at a time."""
    app = make_app(tmp_path, request.param, MAIL_PORT=sink.port, ORG_DAILY_LIMIT=3,
                   BATCH_SIZE=2, SMTP_CONCURRENCY=1)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def states(user):
    return sorted(db.session.scalars(sa.select(EmailMessage.state).filter_by(
        org_id=user.org_id)))


def a_day_and_a_minute_pass():
    """Move every stored time of the messages a day and a minute back, as if that long went
    by."""
    with db.engine.begin() as connection:
        for column in ("handed_at", "next_attempt_at", "sent_at", "created_at"):
            earlier = (f"{column} - interval '1 day 1 minute'"
                       if connection.dialect.name == "postgresql"
                       else f"strftime('%Y-%m-%d %H:%M:%f', {column}, '-1 day', '-1 minute')")
            connection.execute(sa.text(f"UPDATE email_messages SET {column} = {earlier}"))


def test_an_organization_over_its_limit_waits_and_the_other_sends(limited, sink):
    busy = create_user("issuer@busy.test", "Busy Academy", PASSWORD)
    calm = create_user("issuer@calm.test", "Calm Institute", PASSWORD)
    # The busy organization's five are the oldest due: they come first in every claim.
    busy_credentials = [issue(busy, email=f"b{i}@example.com", action="publish")
                        for i in range(5)]
    for i in range(2):
        issue(calm, email=f"c{i}@example.com", action="publish")

    assert send_due() == {"claimed": 5, "sent": 5}
    received = sorted(to for to, *_ in sink.received)
    assert received == ["b0@example.com", "b1@example.com", "b2@example.com",
                        "c0@example.com", "c1@example.com"]
    db.session.rollback()
    assert states(busy) == ["queued", "queued", "sent", "sent", "sent"]  # waiting, not failed
    assert [c.email_status for c in busy_credentials] == ["not_opened"] * 3 + ["sending"] * 2
    held = db.session.scalars(sa.select(EmailMessage).filter_by(org_id=busy.org_id,
                                                                 state="queued")).all()
    first_sent = min(m.handed_at for m in db.session.scalars(
        sa.select(EmailMessage).filter_by(org_id=busy.org_id, state="sent")))
    for message in held:  # due when the first hand-over leaves the 24 hours
        assert message.attempts == 0 and message.last_reply is None
        wait = message.next_attempt_at - (first_sent + timedelta(days=1))
        # Late by a second at most (SQLite's datetime() keeps whole seconds), and by half a
        # millisecond more when it rounds a time to its millisecond first (x.9995 s and on).
        assert timedelta(0) <= wait <= timedelta(seconds=1, microseconds=500)

    # Nothing more goes today, for the busy organization; the calm one still sends.
    issue(calm, email="c2@example.com", action="publish")
    issue(busy, email="b5@example.com", action="publish")
    assert send_due() == {"claimed": 1, "sent": 1}
    assert sink.received[-1][0] == "c2@example.com"

    a_day_and_a_minute_pass()
    assert send_due() == {"claimed": 3, "sent": 3}
    db.session.rollback()
    assert states(busy) == ["sent"] * 6


def test_the_settings_page_says_when_the_limit_holds_mail_back(limited, sink):
    user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    client = limited.test_client()
    Auth(client).login()
    assert "<strong>0</strong> of 3" in client.get("/settings/").text
    assert ">0 of 3 handed over in the last 24 hours<" in client.get("/queue").text
    for i in range(4):
        issue(user, email=f"p{i}@example.com", action="publish")
    send_due()
    page = " ".join(client.get("/settings/").text.split())
    assert "<strong>3</strong> of 3" in page
    assert "The limit is reached. Emails waiting: <strong>1</strong>." in page
    next_at = db.session.scalar(sa.select(EmailMessage.next_attempt_at).filter_by(
        state="queued"))
    assert f">{next_at:%Y-%m-%d %H:%M} UTC</time>" in page
    assert next_at - utcnow() > timedelta(hours=23)
    panel = client.get("/queue", headers={"HX-Request": "true"}).text
    assert ('data-fact="daily-limit" class="held">3 of 3 handed over in the last 24 hours: '
            f"reached, so your emails wait; the next goes at {utc_clock(next_at)}<") in panel


def test_one_claim_takes_no_more_than_the_limit_leaves(limited):
    user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    for i in range(5):
        issue(user, email=f"p{i}@example.com", action="publish")
    ids, held = claim(2, "w1")
    assert (len(ids), held) == (2, 0)
    ids, held = claim(5, "w2")  # room for one: it is leased, the two after it wait
    assert (len(ids), held) == (1, 2)
    assert claim(5, "w3") == ([], 0)  # nothing due today
