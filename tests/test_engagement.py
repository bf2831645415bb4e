"""After the email: the PDF, the LinkedIn step, the public page, and what counts as a person."""

import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import api_for, issue, mark_latest
from flask import current_app
from pypdf import PdfReader

from models import EmailEvent, db
from models.types import utcnow
from tracking import engagement, opens
from tracking.engagement import is_automated, shares

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
PERSON = {"User-Agent": CHROME, "Accept-Language": "en-GB,en;q=0.9"}
BASE = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL's default


def delivered(issuer, name="Jane Doe", minutes_ago=0):
    """A published credential whose email the server accepted that long ago."""
    credential = mark_latest(issue(issuer, name=name, action="publish"), "sent")
    credential.latest_message.sent_at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.commit()
    return credential


def kinds(credential):
    engagement.shares(current_app).flush()  # share views noted, not yet written
    opens.recorder(current_app).flush()  # and link scanners' follows
    db.session.rollback()  # end our snapshot to see what the requests committed
    return [e.type for e in db.session.scalars(
        db.select(EmailEvent).filter_by(credential_id=credential.id).order_by(EmailEvent.id))]


@pytest.mark.parametrize("name", ["Zoë Ångström-Nuñez", "Αλέξανδρος Παπαδόπουλος",
                                  "Дмитрий Шостакович"])
def test_the_pdf_is_one_page_with_the_name_as_text_and_the_public_link(client, issuer, name):
    credential = delivered(issuer, name=name, minutes_ago=30)
    response = client.get(f"/c/{credential.token}.pdf", headers=PERSON)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    text = page.extract_text()
    public = f"{BASE}/v/{credential.public_id}"
    assert name in text and "Course A" in text and "Acme Academy" in text
    assert public in text
    links = [a.get_object()["/A"]["/URI"] for a in page.get("/Annots", [])]
    assert links == [public]
    assert len(page.images) == 1  # the QR code
    assert credential.token not in text and credential.token.encode() not in response.data
    assert all(credential.token not in link for link in links)
    assert kinds(credential)[-1] == "downloaded"
    assert credential.downloaded_at is not None


def test_the_pdf_is_made_once_until_what_it_prints_changes(client, issuer):
    import certificate

    credential = delivered(issuer, minutes_ago=30)
    certificate._render.cache_clear()
    url = f"/c/{credential.token}.pdf"
    first, second = client.get(url, headers=PERSON), client.get(url, headers=PERSON)
    assert first.status_code == second.status_code == 200 and first.data == second.data
    made = certificate._render.cache_info()
    assert (made.misses, made.hits) == (1, 1)
    db.session.rollback()
    credential.recipient_name = "Jane Renamed"  # what it prints changed: made again
    db.session.commit()
    third = client.get(url, headers=PERSON)
    assert certificate._render.cache_info().misses == 2
    assert "Jane Renamed" in PdfReader(io.BytesIO(third.data)).pages[0].extract_text()


def test_add_to_linkedin_records_the_click_and_fills_in_linkedins_form(client, issuer):
    credential = delivered(issuer, minutes_ago=30)
    response = client.get(f"/c/{credential.token}/linkedin", headers=PERSON)
    assert response.status_code == 302
    url = urlsplit(response.location)
    # LinkedIn's add-to-profile link for a certification, with the parameters of its
    # "Add to profile" generator: startTask=CERTIFICATION_NAME, name, organizationName,
    # issueYear, issueMonth (1-12), certUrl, certId.
    assert (url.scheme, url.netloc, url.path) == ("https", "www.linkedin.com", "/profile/add")
    published = credential.published_at
    assert parse_qs(url.query) == {
        "startTask": ["CERTIFICATION_NAME"], "name": ["Course A"],
        "organizationName": ["Acme Academy"], "issueYear": [str(published.year)],
        "issueMonth": [str(published.month)],
        "certUrl": [f"{BASE}/v/{credential.public_id}"], "certId": [credential.public_id]}
    assert credential.token not in response.location
    assert kinds(credential)[-1] == "linkedin_clicked"
    assert credential.linkedin_clicked_at is not None


def test_the_public_page_shows_the_credential_and_nothing_of_its_tracking(client, issuer):
    credential = delivered(issuer, minutes_ago=30)
    client.get(f"/r/{credential.latest_message.token}", headers=PERSON)
    response = client.get(f"/v/{credential.public_id}", headers=PERSON)
    assert response.status_code == 200
    page = response.text
    assert "Jane Doe" in page and "Course A" in page and "Acme Academy" in page
    for secret in (credential.token, credential.latest_message.token, "jane@example.com",
                   "/c/", "/r/", "/t/", "Email is", "email_status", "Log out"):
        assert secret not in page
    tags = dict(re.findall(r'<meta property="(og:\w+)" content="([^"]*)"', page))
    assert tags["og:title"] == "Jane Doe: Course A"
    assert "Acme Academy" in tags["og:description"]
    assert tags["og:url"] == f"{BASE}/v/{credential.public_id}"
    assert tags["og:type"] == "website"
    assert kinds(credential)[-1] == "share_viewed" and credential.share_views == 1


def test_link_previews_and_head_requests_are_not_share_views(client, issuer):
    credential = delivered(issuer, minutes_ago=30)
    for agent in ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
                  "facebookexternalhit/1.1", "Slackbot-LinkExpanding 1.0", "Mozilla/5.0", ""):
        assert client.get(f"/v/{credential.public_id}",
                          headers={"User-Agent": agent}).status_code == 200
    assert client.head(f"/v/{credential.public_id}", headers=PERSON).status_code == 200
    assert client.head(f"/c/{credential.token}.pdf", headers=PERSON).status_code == 200
    assert kinds(credential) == ["queued"] and credential.share_views == 0
    assert credential.downloaded_at is None


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_a_link_scanner_seconds_after_delivery_is_not_a_view_and_a_person_later_is(client,
                                                                                  issuer):
    credential = delivered(issuer, minutes_ago=0)
    link = f"/r/{credential.latest_message.token}"
    # A security gateway: a browser's agent, but seconds after delivery and no language.
    scanned = client.get(link, headers={"User-Agent": CHROME})
    assert scanned.status_code == 302 and scanned.location == f"/c/{credential.token}"
    assert client.get(f"/c/{credential.token}.pdf", headers={"User-Agent": CHROME}
                      ).status_code == 200
    assert kinds(credential) == ["queued", "auto_opened"]  # noted, counted nowhere
    assert credential.events()[-1].detail == "by a link scanner (Chrome)"
    assert credential.email_status == "not_opened" and credential.viewed_at is None
    assert credential.downloaded_at is None and credential.latest_message.open_count == 0
    # The person, minutes later.
    credential.latest_message.sent_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert client.get(link, headers=PERSON).status_code == 302
    assert kinds(credential) == ["queued", "auto_opened", "viewed"]
    assert credential.email_status == "opened" and credential.viewed_at is not None


def test_a_program_that_says_so_is_no_person_an_hour_later_either(client, issuer):
    credential = delivered(issuer, minutes_ago=60)
    agent = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE)) Chrome/126.0"
    response = client.get(f"/r/{credential.latest_message.token}",
                          headers={"User-Agent": agent, "Accept-Language": "en"})
    assert response.status_code == 302
    assert kinds(credential) == ["queued", "auto_opened"]
    assert credential.events()[-1].detail == "by a program, not a person (Chrome)"
    assert credential.email_status == "not_opened" and credential.viewed_at is None


def test_a_scanners_follow_takes_no_write_lock(app, client, issuer):
    """A scanner's follow is noted and written with the opens, so scanners (anyone with a
    link, seconds after delivery) never wait for the write lock, nor take it."""
    credential = delivered(issuer, minutes_ago=0)
    blocker = db.engine.connect().execution_options(sqlite_immediate=True)
    blocker.begin()  # the write lock, held: a write in the request would wait for it
    try:
        scanned = client.get(f"/r/{credential.latest_message.token}",
                             headers={"User-Agent": CHROME})
        assert scanned.status_code == 302 and scanned.location == f"/c/{credential.token}"
    finally:
        blocker.rollback()
        blocker.close()
    assert kinds(credential) == ["queued", "auto_opened"]


def test_a_person_at_their_inbox_counts_at_once(client, issuer):
    credential = delivered(issuer, minutes_ago=0)
    assert client.get(f"/r/{credential.latest_message.token}", headers=PERSON
                      ).status_code == 302
    assert kinds(credential) == ["queued", "viewed"]


NOW = utcnow()


@pytest.mark.parametrize("method, agent, language, sent_minutes_ago, automated", [
    ("GET", CHROME, "en", 0, False),  # a person at their inbox
    ("GET", CHROME, None, 0, True),  # a link scanner, seconds after delivery
    ("GET", CHROME, None, 10, False),  # later: a person whose browser sends no language
    ("GET", CHROME, None, None, False),  # the public page: no delivery to compare with
    ("HEAD", CHROME, "en", 10, True),  # asks only whether the page exists
    ("GET", "", "en", 10, True),
    ("GET", "Mozilla/5.0", "en", 10, True),  # a privacy proxy's bare agent
    ("GET", "Googlebot/2.1 (+http://www.google.com/bot.html)", "en", 10, True),
    ("GET", "python-requests/2.32", "en", 10, True),
    ("GET", "Mozilla/5.0 (compatible; BingPreview/1.0b)", "en", 10, True),
    ("GET", "WhatsApp/2.23", None, None, True),
])
def test_what_counts_as_a_person(method, agent, language, sent_minutes_ago, automated):
    sent_at = None if sent_minutes_ago is None else NOW - timedelta(minutes=sent_minutes_ago)
    assert is_automated(method, agent, language, sent_at, NOW) is automated


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_events_api_and_the_engagement_object(client, issuer, rival):
    credential = delivered(issuer, minutes_ago=30)
    api = api_for(client, issuer)
    assert api.get(f"/api/v1/credentials/{credential.id}").json["engagement"] == {
        "viewed_at": None, "downloaded_at": None, "linkedin_clicked_at": None,
        "share_views": 0}
    for path in (f"/r/{credential.latest_message.token}", f"/c/{credential.token}.pdf",
                 f"/c/{credential.token}/linkedin", f"/v/{credential.public_id}",
                 f"/v/{credential.public_id}"):
        client.get(path, headers=PERSON)
    shares(client.application).flush()
    engagement = api.get(f"/api/v1/credentials/{credential.id}").json["engagement"]
    assert engagement["share_views"] == 2
    assert all(engagement[key] for key in ("viewed_at", "downloaded_at",
                                           "linkedin_clicked_at"))
    listed = api.get("/api/v1/credentials").json["items"][0]
    assert listed["engagement"] == engagement
    events = api.get(f"/api/v1/credentials/{credential.id}/events").json
    assert [e["type"] for e in events] == ["queued", "viewed", "downloaded", "linkedin_clicked",
                                           "share_viewed", "share_viewed"]
    assert events[2]["detail"] == "downloaded the certificate as a PDF (Chrome)"
    # Another organization's key sees none of it.
    other = api_for(client, rival)
    assert other.get(f"/api/v1/credentials/{credential.id}/events").status_code == 404


def test_the_recipient_page_offers_download_linkedin_and_share(client, issuer):
    credential = delivered(issuer, minutes_ago=30)
    page = client.get(f"/c/{credential.token}", headers=PERSON).text
    assert f'href="/c/{credential.token}.pdf"' in page
    assert f'href="/c/{credential.token}/linkedin"' in page
    assert f'value="{BASE}/v/{credential.public_id}"' in page and 'data-copy="#share-url"' in page
    assert "Acme Academy" in page and "Issued" in page
    assert kinds(credential) == ["queued"]  # the page itself counts nothing twice


def test_unknown_and_unpublished_are_404_and_write_nothing(client, issuer):
    draft = issue(issuer, name="Draft Person")
    for path in ("/v/forged", f"/v/{draft.public_id}", f"/c/{draft.token}.pdf",
                 f"/c/{draft.token}/linkedin", "/c/forged.pdf", "/c/forged/linkedin",
                 f"/v/{'x' * 65}"):
        assert client.get(path, headers=PERSON).status_code == 404
    assert kinds(draft) == []


def test_the_help_page_explains_engagement(client):
    page = client.get("/help/").text
    assert 'id="engagement"' in page and "Views and engagement" in page
    assert "Opened but never viewed?" in page and "Viewed but not shared?" in page


def test_the_recipients_own_visits_to_the_public_page_are_not_share_views(app, issuer):
    credential = delivered(issuer, minutes_ago=30)
    recipient, friend = app.test_client(), app.test_client()
    assert recipient.get(f"/c/{credential.token}", headers=PERSON).status_code == 200
    cookie = recipient.get_cookie("recipient", path=f"/v/{credential.public_id}")
    assert cookie.value == "1" and cookie.http_only and cookie.same_site == "Lax"
    assert recipient.get(f"/v/{credential.public_id}", headers=PERSON).status_code == 200
    assert "share_viewed" not in kinds(credential)
    assert friend.get(f"/v/{credential.public_id}", headers=PERSON).status_code == 200
    assert kinds(credential).count("share_viewed") == 1
    # The flag is for that one page: another credential's public page counts as usual.
    other = delivered(issuer, name="Someone Else", minutes_ago=30)
    recipient.get(f"/v/{other.public_id}", headers=PERSON)
    assert kinds(other).count("share_viewed") == 1
