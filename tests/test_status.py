"""The one status rule: every row of DESIGN.md's table and its precedence."""

from types import SimpleNamespace as Obj

import pytest
from conftest import issue, settle

from models.status import EmailStatus, email_status

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
    assert email_status(Obj(recipient_email=address), message) == EmailStatus(expected)


def test_unknown_message_state_is_an_error_not_a_guess():
    with pytest.raises(ValueError):
        email_status(Obj(recipient_email="a@example.com"), Obj(state="lost", opened_at=None))


def test_every_status_has_label_tooltip_and_icon(app):
    from pathlib import Path

    icons = Path(app.static_folder) / "icons"
    assert len(EmailStatus) == 6
    for status in EmailStatus:
        assert status.label and status.tooltip
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
    assert credential.email_status == email_status(credential, credential.latest_message)


def test_status_follows_the_newest_message(issuer):
    credential = issue(issuer, action="publish")
    settle(credential, "bounced")
    assert credential.status is EmailStatus.BOUNCED
    credential.change_email("jane@example.org", issuer)
    credential.resend(issuer)
    assert credential.status is EmailStatus.SENDING
    settle(credential, "sent", opened=True)
    assert credential.status is EmailStatus.OPENED
    assert [m.state for m in credential.messages] == ["bounced", "sent"]
