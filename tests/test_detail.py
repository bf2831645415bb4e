"""The recipient panel: status and why, fixing the address, resending, the timeline."""

import pytest
from conftest import issue, mark_latest

from models import db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def bounced(issuer):
    """A credential whose email to a mistyped domain bounced for good."""
    credential = mark_latest(issue(issuer, name="Tim Typo", email="tim@gmial.com",
                              action="publish"), "bounced")
    credential.latest_message.last_reply = "550 5.1.1 <tim@gmial.com>: User unknown"
    db.session.commit()
    return credential


def test_panel_explains_the_bounce_and_suggests_the_fix(logged_in, bounced):
    panel = logged_in.get(f"/credentials/{bounced.id}", headers=HTMX).text
    assert panel.lstrip().startswith('<section id="detail-panel"')
    assert "The mailbox does not exist." in panel
    assert "550 5.1.1 &lt;tim@gmial.com&gt;: User unknown" in panel
    assert "Did you mean <strong>tim@gmail.com</strong>?" in panel
    # Said once in the panel and once in its row (swapped out of band), not twice more.
    assert panel.count("The mailbox does not exist.") == 2
    assert panel.count("Did you mean") == 2
    assert "Send even though this address bounced" in panel  # hard bounce, unchanged
    assert '<ol class="timeline">' in panel and "<strong>Queued</strong>" in panel
    assert f'<tr id="credential-{bounced.id}" data-email-status="bounced" hx-swap-oob="true"' in (
        panel)
    page = logged_in.get(f"/credentials/{bounced.id}").text
    assert "<html" in page and "Tim Typo" in page


def test_accepting_the_suggestion_then_resending(logged_in, bounced, issuer):
    fixed = logged_in.post(f"/credentials/{bounced.id}/email",
                           data={"recipient_email": "tim@gmail.com"}, headers=HTMX)
    assert fixed.status_code == 200 and "Address saved" in fixed.text
    db.session.rollback()
    assert bounced.recipient_email == "tim@gmail.com"
    assert bounced.email_status == "bounced"  # nothing sent yet
    assert "Did you mean" not in fixed.text
    resent = logged_in.post(f"/credentials/{bounced.id}/resend", headers=HTMX)
    assert resent.status_code == 200 and "Queued a new email." in resent.text
    assert 'data-email-status="sending" hx-swap-oob="true"' in resent.text
    db.session.rollback()
    assert [m.to_address for m in bounced.messages] == ["tim@gmial.com", "tim@gmail.com"]
    types = [(e.type, e.user and e.user.email) for e in bounced.events()]
    assert ("address_changed", "issuer@acme.test") in types
    assert ("resent", "issuer@acme.test") in types


def test_resending_an_unchanged_hard_bounce_needs_force(logged_in, bounced):
    refused = logged_in.post(f"/credentials/{bounced.id}/resend", headers=HTMX)
    assert refused.status_code == 409 and "bounced permanently" in refused.text
    db.session.rollback()
    assert len(bounced.messages) == 1
    forced = logged_in.post(f"/credentials/{bounced.id}/resend", data={"force": "y"},
                            headers=HTMX)
    assert forced.status_code == 200
    db.session.rollback()
    assert len(bounced.messages) == 2


@pytest.mark.parametrize("address, message", [
    ("tim@gmial", "is not a valid address"),
    ("tim@example.com\r\nBcc: x@example.com", "line breaks"),
    ("a" * 250 + "@example.com", "at most 254"),
])
def test_bad_addresses_are_refused_and_nothing_changes(logged_in, bounced, address, message):
    response = logged_in.post(f"/credentials/{bounced.id}/email",
                              data={"recipient_email": address}, headers=HTMX)
    assert response.status_code == 422 and message in response.text
    db.session.rollback()
    assert bounced.recipient_email == "tim@gmial.com"


def test_sending_what_was_never_sent(logged_in, issuer):
    quiet = issue(issuer, action="publish", send_email=False)
    panel = logged_in.get(f"/credentials/{quiet.id}", headers=HTMX).text
    assert "Send email" in panel and "Nothing has happened to this email yet." in panel
    logged_in.post(f"/credentials/{quiet.id}/resend", headers=HTMX)
    db.session.rollback()
    assert quiet.email_status == "sending"


def test_another_organizations_recipient_is_404(logged_in, rival):
    theirs = mark_latest(issue(rival, action="publish"), "bounced")
    assert logged_in.get(f"/credentials/{theirs.id}").status_code == 404
    assert logged_in.get(f"/credentials/{theirs.id}/row?edit=1").status_code == 404
    assert logged_in.post(f"/credentials/{theirs.id}/email?row=1",
                          data={"recipient_email": "x@example.com"}).status_code == 404
    assert logged_in.post(f"/credentials/{theirs.id}/email",
                          data={"recipient_email": "x@example.com"}).status_code == 404
    assert logged_in.post(f"/credentials/{theirs.id}/resend",
                          data={"force": "y"}).status_code == 404
    db.session.rollback()
    assert theirs.recipient_email == "jane@example.com" and len(theirs.messages) == 1


def test_edit_the_address_in_place_on_the_row(logged_in, bounced):
    editing = logged_in.get(f"/credentials/{bounced.id}/row?edit=1", headers=HTMX).text
    assert 'class="email editing"' in editing and 'value="tim@gmial.com"' in editing
    bad = logged_in.post(f"/credentials/{bounced.id}/email?row=1", headers=HTMX,
                         data={"recipient_email": "tim@gmail"})
    assert bad.status_code == 422 and "is not a valid address" in bad.text
    assert 'class="email editing"' in bad.text and 'value="tim@gmail"' in bad.text
    good = logged_in.post(f"/credentials/{bounced.id}/email?row=1", headers=HTMX,
                          data={"recipient_email": "tim@gmail.com"})
    assert good.status_code == 200 and good.text.lstrip().startswith("<tr")
    assert "tim@gmail.com" in good.text and "editing" not in good.text
    db.session.rollback()
    assert bounced.recipient_email == "tim@gmail.com"
    cancel = logged_in.get(f"/credentials/{bounced.id}/row", headers=HTMX).text
    assert "editing" not in cancel
