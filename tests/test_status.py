"""The one status rule: every row of DESIGN.md's table and its precedence."""

from types import SimpleNamespace as Obj

import pytest
from conftest import derived_status, issue, mark_latest, recount_statuses

import issuing
from models.status import EmailStatus, email_status
from models.status_count import sync_statuses

NOW = "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize("address, message, expected", [
    # No message: draft, scheduled or published without email.
    ("a@example.com", None, "not_sent"),
    # No address wins over everything, even over a message in any state.
    (None, None, "not_provided"),
    ("", None, "not_provided"),
    (None, Obj(state="sent", opened_at=NOW), "not_provided"),
    (None, Obj(state="queued", opened_at=None), "not_provided"),
    # The latest message's state.
    ("a@example.com", Obj(state="queued", opened_at=None), "sending"),
    ("a@example.com", Obj(state="sending", opened_at=None), "sending"),
    ("a@example.com", Obj(state="retry", opened_at=None), "sending"),
    ("a@example.com", Obj(state="sent", opened_at=None), "not_opened"),
    ("a@example.com", Obj(state="bounced", opened_at=None), "bounced"),
    ("a@example.com", Obj(state="sent", opened_at=NOW), "opened"),
])
def test_status_table(address, message, expected):
    state, opened = (message.state, bool(message.opened_at)) if message else (None, False)
    assert email_status(bool(address), state, opened) == EmailStatus(expected)


def test_unknown_message_state_is_an_error_not_a_guess():
    with pytest.raises(ValueError):
        email_status(True, "lost", False)


def test_every_status_has_label_tooltip_and_icon(app):
    from pathlib import Path

    icons = Path(app.static_folder) / "icons"
    assert len(EmailStatus) == 6
    # DESIGN.md's labels, word for word; a tooltip and help advice of their own each.
    assert [status.label for status in EmailStatus] == [
        "Email is not sent", "Email is not provided", "Sending", "Email is not opened",
        "Email is bounced", "Email is opened"]
    for words in ([s.tooltip for s in EmailStatus], [s.advice for s in EmailStatus]):
        assert len(set(words)) == 6 and all(len(text) > 40 for text in words)
    for status in EmailStatus:
        assert (icons / f"{status.value}.svg").read_text().startswith("<svg")


@pytest.mark.parametrize("action, send_email, email, expected", [
    ("draft", True, "a@example.com", "not_sent"),
    ("schedule", True, "a@example.com", "not_sent"),
    ("publish", False, "a@example.com", "not_sent"),
    ("publish", True, None, "not_provided"),
    ("draft", True, None, "not_provided"),
    ("publish", True, "a@example.com", "sending"),
])
def test_issuing_gives_the_derived_status(issuer, action, send_email, email, expected):
    from datetime import timedelta

    from models.types import utcnow

    credential = issue(issuer, email=email, action=action, send_email=send_email,
                       scheduled_at=utcnow() + timedelta(days=1))
    assert credential.email_status == expected
    assert credential.email_status == derived_status(credential)


def test_status_follows_the_newest_message(issuer):
    from models import db

    credential = issue(issuer, action="publish")
    mark_latest(credential, "bounced")
    assert credential.status is EmailStatus.BOUNCED
    issuing.change_address(db.session.connection(), credential.id, "jane@example.org",
                           issuer.id)
    issuing.resend(db.session.connection(), [credential], issuer.id)
    db.session.commit()  # each service call re-derives the statuses it touches
    assert credential.status is EmailStatus.SENDING
    mark_latest(credential, "sent", opened=True)
    assert credential.status is EmailStatus.OPENED
    assert [m.state for m in credential.messages] == ["bounced", "sent"]


def real_counts(org_id):
    import sqlalchemy as sa

    from models import Credential, db

    counts = dict.fromkeys((s.value for s in EmailStatus), 0)
    for credential in db.session.scalars(sa.select(Credential).filter_by(org_id=org_id)):
        counts[derived_status(credential).value] += 1
    return counts


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_stored_statuses_and_counts_follow_every_change(issuer, rival):
    from models import StatusCount, db

    issue(issuer, name="Draft")
    issue(issuer, name="Nobody", email=None, action="publish")
    bounced = mark_latest(issue(issuer, action="publish"), "bounced")
    opened = mark_latest(issue(issuer, action="publish"), "sent", opened=True)
    issue(rival, action="publish")
    connection = db.session.connection()
    issuing.change_address(connection, bounced.id, "fixed@example.com", issuer.id)
    issuing.resend(connection, [bounced], issuer.id)
    issuing.change_address(connection, opened.id, None, issuer.id)
    db.session.commit()
    # A rolled-back change leaves status and counts as they were.
    settle_later = issue(issuer, action="publish")
    settle_later.latest_message.state = "bounced"
    db.session.flush()
    sync_statuses(db.session.connection(), [settle_later.id])
    db.session.rollback()
    for user in (issuer, rival):
        assert StatusCount.for_org(user.org_id) == real_counts(user.org_id)
    assert StatusCount.for_org(issuer.org_id) == {
        "not_sent": 1, "not_provided": 2, "sending": 2, "not_opened": 0, "bounced": 0,
        "opened": 0}
    recount_statuses(issuer.org_id)
    assert StatusCount.for_org(issuer.org_id) == real_counts(issuer.org_id)
