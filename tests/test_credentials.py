"""The Credentials page: full page and htmx fragment, filters, counts, search, pages."""

import re
from datetime import timedelta

import pytest
from conftest import issue, mark_latest, statuses_on_page
from markupsafe import escape

from models.status import EmailStatus
from models.types import utcnow

HTMX = {"HX-Request": "true"}


def one_of_each(user):
    """Six credentials, one per status, created in table order."""
    issue(user, name="Not Sent")
    issue(user, name="Not Provided", email=None)
    issue(user, name="Sending", action="publish")
    mark_latest(issue(user, name="Not Opened", action="publish"), "sent")
    mark_latest(issue(user, name="Bounced", action="publish"), "bounced")
    mark_latest(issue(user, name="Opened", action="publish"), "sent", opened=True)


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_full_page_shows_every_status_with_icon_label_tooltip_and_help(logged_in, issuer):
    one_of_each(issuer)
    html = logged_in.get("/credentials").text
    assert "<html" in html and 'id="credential-list"' in html
    assert statuses_on_page(html) == [
        "opened", "bounced", "not_opened", "sending", "not_provided", "not_sent"]
    for status in EmailStatus:
        row = re.search(rf'data-email-status="{status.value}">(.*?)</tr>', html, re.S).group(1)
        assert f'src="/static/icons/{status.value}.svg" alt="{status.label}"' in row
        assert f'title="{escape(status.label)}: {escape(status.tooltip)}"' in row
        assert f'href="/help/#{status.value}"' in row
        assert f">{status.label}<" in row
        assert re.search(rf'data-status="{status.value}"[^>]*>.*?<span class="count">1</span>',
                         html, re.S)
    assert 'href="/help/"' in html


def test_htmx_request_gets_only_the_list(logged_in, issuer):
    one_of_each(issuer)
    fragment = logged_in.get("/credentials?status=bounced", headers=HTMX).text
    assert fragment.lstrip().startswith('<div id="credential-list"')
    assert "<html" not in fragment
    assert statuses_on_page(fragment) == ["bounced"]
    assert 'class="filter status-bounced active"' in fragment


def test_filter_search_and_unknown_status(logged_in, issuer):
    one_of_each(issuer)
    issue(issuer, name="Zoë 50% Müller", email="zoe@example.org")
    assert statuses_on_page(logged_in.get("/credentials?status=not_sent").text) == [
        "not_sent", "not_sent"]
    found = logged_in.get("/credentials?q=50%25").text
    assert statuses_on_page(found) == ["not_sent"] and "Zoë 50% Müller" in found
    assert len(statuses_on_page(logged_in.get("/credentials?q=EXAMPLE.ORG").text)) == 1
    # Counts follow the search, so the filters say what a click would show.
    assert re.search(r'All <span class="count">1</span>', found)
    assert len(statuses_on_page(logged_in.get("/credentials?status=nonsense").text)) == 7


def test_pagination_newest_first(logged_in, issuer, app):
    app.config["PER_PAGE"] = 3
    for i in range(7):
        issue(issuer, name=f"Person {i}")
    first = logged_in.get("/credentials").text
    names = re.findall(r'class="recipient"><a [^>]*>(.*?)<', first)
    assert names == ["Person 6", "Person 5", "Person 4"]
    assert "Page 1 of 3" in first and "Older →" in first and "← Newer" not in first
    last = logged_in.get("/credentials?page=3", headers=HTMX).text
    assert re.findall(r'class="recipient"><a [^>]*>(.*?)<', last) == ["Person 0"]
    for junk in ("0", "-4", "x", "99999999999"):
        assert logged_in.get(f"/credentials?page={junk}").status_code == 200


def test_empty_states(logged_in, issuer):
    empty = logged_in.get("/credentials").text
    assert "No credentials yet" in empty and 'href="/credentials/new"' in empty
    issue(issuer)
    nothing = logged_in.get("/credentials?q=nobody-like-this").text
    assert "No recipients match" in nothing and "nobody-like-this" in nothing


def test_names_and_search_are_escaped(logged_in, issuer):
    issue(issuer, name="<script>alert('x')</script>", email=None)
    html = logged_in.get("/credentials").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    searched = logged_in.get('/credentials?q="><img src=x onerror=alert(1)>').text
    assert "<img src=x" not in searched


def test_publish_a_draft_from_its_row(logged_in, issuer):
    draft = issue(issuer)
    row = logged_in.post(f"/credentials/{draft.id}/publish", headers=HTMX).text
    assert row.lstrip().startswith(f'<tr id="credential-{draft.id}" data-email-status="sending"')
    assert draft.issue_state == "published" and len(draft.messages) == 1
    # Publishing twice queues nothing more.
    logged_in.post(f"/credentials/{draft.id}/publish")
    assert len(draft.messages) == 1


def test_publish_honours_the_email_switch(logged_in, issuer):
    quiet = issue(issuer, send_email=False)
    response = logged_in.post(f"/credentials/{quiet.id}/publish")
    assert response.status_code == 302
    assert quiet.email_status == "not_sent" and quiet.issue_state == "published"


def test_schedule_a_draft(logged_in, issuer):
    draft = issue(issuer)
    page = logged_in.get(f"/credentials/{draft.id}/schedule")
    assert page.status_code == 200 and 'type="datetime-local"' in page.text
    later = (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)
    response = logged_in.post(f"/credentials/{draft.id}/schedule", data={
        "scheduled_at": (later + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "utc_offset": "120", "send_email": "y"})
    assert response.status_code == 302
    assert draft.issue_state == "scheduled" and draft.scheduled_at == later
    past = logged_in.post(f"/credentials/{draft.id}/schedule",
                          data={"scheduled_at": "2001-01-01T10:00", "utc_offset": "0"})
    assert past.status_code == 422 and "must be in the future" in past.text
    garbage = logged_in.post(f"/credentials/{draft.id}/schedule",
                             data={"scheduled_at": "soon", "utc_offset": "zz"})
    assert garbage.status_code == 422
    assert draft.scheduled_at == later


def test_sending_rows_carry_their_id_for_the_poller(logged_in, issuer):
    sending = issue(issuer, name="Sending", action="publish")
    issue(issuer, name="Draft")
    html = logged_in.get("/credentials").text
    assert re.findall(r'class="transient-id" name="id" value="(\d+)"', html) == [str(sending.id)]
    assert 'id="status-poller"' in html and 'data-poll-while="input.transient-id"' in html


def test_live_answers_with_changed_rows_and_counts_only(logged_in, issuer, rival):
    still = issue(issuer, name="Still Sending", action="publish")
    done = mark_latest(issue(issuer, name="Now Delivered", action="publish"), "sent")
    theirs = mark_latest(issue(rival, name="Rival Row", action="publish"), "sent")
    answer = logged_in.get(f"/credentials/live?id={still.id}&id={done.id}&id={theirs.id}"
                           "&id=x", headers=HTMX).text
    rows = re.findall(r'<tr id="credential-(\d+)" data-email-status="(\w+)" hx-swap-oob="true"',
                      answer)
    assert rows == [(str(done.id), "not_opened")]
    assert "<template>" in answer and "Rival Row" not in answer
    assert 'id="status-filters"' in answer and 'hx-swap-oob="true"' in answer
    assert re.search(r'data-status="sending"[^>]*>.*?<span class="count">1</span>', answer, re.S)
    nothing = logged_in.get(f"/credentials/live?id={still.id}", headers=HTMX).text
    assert "<tr" not in nothing
    assert nothing == ""  # and no counts to read or swap while nothing changed
