"""Bulk resend and nudges: preview counts, the re-checking action, bad requests."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import issue, mark_latest

from models import EmailMessage, db
from models.types import utcnow
from views import queries

HTMX = {"HX-Request": "true"}


def queued():
    return db.session.scalar(db.select(db.func.count(EmailMessage.id))
                             .where(EmailMessage.state == "queued"))


@pytest.fixture
def mix(issuer):
    """Two delivered, two hard-bounced (unchanged), one draft."""
    sent = [mark_latest(issue(issuer, name=f"Sent {i}", action="publish"), "sent") for i in (1, 2)]
    bounced = [mark_latest(issue(issuer, name=f"Bounced {i}", action="publish"), "bounced")
               for i in (1, 2)]
    draft = issue(issuer, name="Draft")
    return sent, bounced, draft


def ids(credentials):
    return [str(c.id) for c in credentials]


def test_preview_counts_and_sends_nothing(logged_in, mix):
    sent, bounced, draft = mix
    before = queued()
    response = logged_in.post("/credentials/bulk/preview", headers=HTMX, data={
        "mode": "selected", "ids": ids(sent + bounced + [draft])})
    assert response.status_code == 200
    text = " ".join(response.text.split())
    assert "Resend to <strong>2</strong> recipients (the selected recipients); " in text
    assert "2 skipped: address bounced and unchanged; 1 skipped: not published yet" in text
    assert "Resend to 2</button>" in text
    assert "Include the 2 that bounced" in text
    assert queued() == before
    forced = " ".join(logged_in.post("/credentials/bulk/preview", headers=HTMX, data={
        "mode": "selected", "ids": ids(sent + bounced), "force": "y"}).text.split())
    assert "Resend to <strong>4</strong>" in forced and "Include the" not in forced


def test_action_resends_the_eligible_and_records_who(logged_in, mix, issuer):
    sent, bounced, draft = mix
    response = logged_in.post("/credentials/bulk/resend", headers=HTMX, data={
        "mode": "selected", "ids": ids(sent + bounced + [draft])})
    assert "Queued 2 emails." in response.text
    assert response.headers["HX-Trigger"] == "credentials-changed"  # the list reloads
    db.session.rollback()
    assert [c.email_status for c in sent] == ["sending", "sending"]
    assert [len(c.messages) for c in bounced] == [1, 1]
    assert ("resent", "bulk resend", "issuer@acme.test") in [
        (e.type, e.detail, e.user and e.user.email) for e in sent[0].events()]


def test_forced_bulk_includes_hard_bounces(logged_in, mix):
    sent, bounced, draft = mix
    logged_in.post("/credentials/bulk/resend", headers=HTMX, data={
        "mode": "selected", "ids": ids(bounced), "force": "y"})
    db.session.rollback()
    assert [len(c.messages) for c in bounced] == [2, 2]


def test_the_action_checks_again(logged_in, mix):
    sent, bounced, draft = mix
    form = {"mode": "selected", "ids": ids(sent)}
    assert "Resend to <strong>2</strong>" in logged_in.post(
        "/credentials/bulk/preview", headers=HTMX, data=form).text
    mark_latest(sent[1], "bounced")  # it bounced between the preview and the click
    response = logged_in.post("/credentials/bulk/resend", headers=HTMX, data=form)
    assert "Queued 1 email. 1 skipped: address bounced and unchanged." in response.text


def test_filter_mode_takes_every_matching_row(logged_in, mix):
    response = logged_in.post("/credentials/bulk/resend", headers=HTMX, data={
        "mode": "filter", "status": "not_opened", "q": "Sent"})
    assert "Queued 2 emails." in response.text


def test_nudge_only_those_unopened_long_enough(logged_in, issuer):
    old = mark_latest(issue(issuer, name="Old", action="publish"), "sent")
    old.latest_message.sent_at = utcnow() - timedelta(days=5)
    new = mark_latest(issue(issuer, name="New", action="publish"), "sent")
    new.latest_message.sent_at = utcnow() - timedelta(days=1)
    mark_latest(issue(issuer, name="Opened", action="publish"), "sent", opened=True)
    db.session.commit()
    preview = " ".join(logged_in.post("/credentials/bulk/preview", headers=HTMX, data={
        "mode": "unopened", "days": "3"}).text.split())
    assert "Resend to <strong>1</strong> recipient (everyone who has not opened for 3 days)" in (
        preview)
    assert "1 skipped: sent more recently" in preview
    logged_in.post("/credentials/bulk/resend", headers=HTMX,
                   data={"mode": "unopened", "days": "3"})
    db.session.rollback()
    assert (old.email_status, new.email_status) == ("sending", "not_opened")
    assert old.latest_message.purpose == "reminder"
    assert old.events()[-2].detail == "reminder: not opened"


@pytest.mark.parametrize("form, message", [
    ({"mode": "selected"}, "Select at least one recipient first."),
    ({"mode": "selected", "ids": ["x"]}, "Select at least one recipient first."),
    ({"mode": "unopened", "days": "0"}, "Days must be from 1 to 365."),
    ({"mode": "unopened", "days": "many"}, "Days must be a whole number."),
    ({"mode": "everything"}, "Unknown bulk action."),
])
def test_bad_requests_say_so_and_send_nothing(logged_in, mix, form, message):
    before = queued()
    for path in ("/credentials/bulk/preview", "/credentials/bulk/resend"):
        response = logged_in.post(path, headers=HTMX, data=form)
        assert response.status_code == 422 and message in response.text
    assert queued() == before


def test_never_another_organizations_recipients(logged_in, rival):
    theirs = mark_latest(issue(rival, action="publish"), "sent")
    response = logged_in.post("/credentials/bulk/resend", headers=HTMX, data={
        "mode": "selected", "ids": [str(theirs.id), "999999"]})
    assert "Nobody to resend to" in response.text
    assert "2 skipped: no longer there" in response.text  # another's looks like gone
    db.session.rollback()
    assert len(theirs.messages) == 1


def blocked(user, address):
    return mark_latest(issue(user, name=address, email=address, action="publish"), "bounced",
                       code="blocked")


def test_domain_banner_is_kept_until_the_bounced_count_changes_or_a_minute_passes(
        logged_in, issuer, app, monkeypatch):
    for i in range(3):
        blocked(issuer, f"p{i}@corp.test")
    assert "3 recipients at corp.test" in logged_in.get("/credentials").text
    # The same number bounced, at another domain: the kept banner stands for now...
    with app.app_context():
        db.session.execute(sa.update(EmailMessage).where(EmailMessage.to_address.like(
            "%@corp.test")).values(to_address=sa.func.replace(EmailMessage.to_address,
                                                              "corp.test", "firm.test")))
        db.session.commit()
    assert "3 recipients at corp.test" in logged_in.get("/credentials").text
    # ... until a minute has passed (here: none is kept) or the bounced count moves.
    monkeypatch.setattr(queries, "BLOCKED_KEPT_SECONDS", 0)
    assert "3 recipients at firm.test" in logged_in.get("/credentials").text
    monkeypatch.undo()
    blocked(issuer, "p3@firm.test")
    assert "4 recipients at firm.test" in logged_in.get("/credentials").text


def test_domain_banner_from_the_threshold_and_resend_to_it(logged_in, issuer, rival, app):
    for i in range(2):
        blocked(issuer, f"p{i}@corp.test")
    blocked(rival, "r0@corp.test")  # another organization's bounce does not count
    mark_latest(issue(issuer, email="q@corp.test", action="publish"), "bounced")  # mailbox gone
    assert "did not get their email" not in logged_in.get("/credentials").text
    blocked(issuer, "p2@CORP.test")
    page = logged_in.get("/credentials").text
    assert "3 recipients at corp.test did not get their email" in page
    assert "Please allow email from credentials@issuer.test" in page
    app.config["BLOCKED_DOMAIN_THRESHOLD"] = 4
    assert "did not get their email" not in logged_in.get("/credentials").text
    preview = " ".join(logged_in.post("/credentials/bulk/preview", headers=HTMX, data={
        "mode": "domain", "domain": "corp.test", "force": "y"}).text.split())
    assert "Resend to <strong>3</strong> recipients (the bounced recipients at corp.test); " \
        "1 skipped: bounced for another reason" in preview
    bad = logged_in.post("/credentials/bulk/preview", headers=HTMX,
                         data={"mode": "domain", "domain": "x@corp.test"})
    assert bad.status_code == 422 and "Name a domain" in bad.text
