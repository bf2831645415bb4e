"""The tracking image, the link in the email and the recipient's credential page."""

from datetime import timedelta

import pytest
from conftest import issue, mark_latest

from models import EmailEvent, db
from models.types import utcnow
from tracking import opens
from views.tracking import PIXEL

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
# What a person's browser sends, images too (a scanner's fetch lacks the language:
# engagement).
LANGUAGE = "en-GB,en;q=0.9"
PERSON = {"User-Agent": CHROME, "Accept-Language": LANGUAGE}
GOOGLE_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
                "(via ggpht.com GoogleImageProxy)")


@pytest.fixture
def delivered(issuer):
    """A credential whose email the server accepted a moment ago."""
    credential = mark_latest(issue(issuer, action="publish"), "sent")
    credential.latest_message.sent_at = utcnow()
    db.session.commit()
    return credential


def pixel(client, token, agent=CHROME, language=LANGUAGE):
    """Load the image, then have the open recorder write what it noted (it would within
    a fraction of a second on its own)."""
    headers = {"User-Agent": agent, **({"Accept-Language": language} if language else {})}
    response = client.get(f"/t/{token}.gif", headers=headers)
    assert response.status_code == 200 and response.data == PIXEL
    assert response.headers["Content-Type"] == "image/gif"
    assert "no-store" in response.headers["Cache-Control"]
    opens.recorder(client.application).flush()
    return response


def timeline(credential):
    return [(e.type, e.detail) for e in db.session.scalars(
        db.select(EmailEvent).filter_by(credential_id=credential.id).order_by(EmailEvent.id))]


def test_the_recorder_writes_noted_opens_by_itself(client, delivered):
    import time

    client.get(f"/t/{delivered.latest_message.token}.gif", headers=PERSON)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        db.session.rollback()
        if delivered.email_status == "opened":
            break
        time.sleep(0.05)
    assert delivered.email_status == "opened"


def test_a_flush_waits_for_the_write_in_progress(client, delivered, app):
    """The exit's flush (atexit) must not return while the background thread still holds
    opens it is writing: the process would end and they with it."""
    import threading
    import time

    import sqlalchemy as sa

    recorder, engine = opens.recorder(app), db.engine
    blocker = engine.connect().execution_options(sqlite_immediate=True)
    blocker.begin()  # the write lock: the thread's write waits for it
    client.get(f"/t/{delivered.latest_message.token}.gif", headers=PERSON)
    deadline = time.monotonic() + 10
    while recorder.pending:  # the thread has taken the open and is writing it
        assert time.monotonic() < deadline, "the recorder's thread did not take the open"
        time.sleep(0.01)
    seen_after_flush = []

    def exit_flush():
        recorder.flush()
        with engine.connect() as reader:
            seen_after_flush.append(reader.scalar(
                sa.select(sa.func.count()).select_from(EmailEvent)
                .where(EmailEvent.type == "opened")))

    exiting = threading.Thread(target=exit_flush)
    exiting.start()
    exiting.join(timeout=0.5)  # with the fix it waits for the lock, without it returns
    blocker.rollback()
    blocker.close()
    exiting.join(timeout=15)
    assert seen_after_flush == [1]


def test_a_person_opening_makes_it_opened(client, delivered):
    pixel(client, delivered.latest_message.token)
    db.session.rollback()  # end our snapshot to see what the request committed
    assert delivered.email_status == "opened"
    assert delivered.latest_message.open_count == 1
    assert timeline(delivered)[-1] == ("opened", "by a person (Chrome)")


@pytest.mark.parametrize("token", ["forged-token", "x" * 65, "%00", "' OR 1=1 --"])
def test_forged_tokens_get_the_same_image_and_change_nothing(client, delivered, token):
    pixel(client, token)
    db.session.rollback()  # end our snapshot to see what the request committed
    assert delivered.email_status == "not_opened" and delivered.latest_message.open_count == 0


def test_empty_token(client, delivered):
    response = client.get("/t/.gif")
    assert response.status_code == 404
    db.session.rollback()  # end our snapshot to see what the request committed
    assert delivered.email_status == "not_opened"


def test_replayed_token_counts_again_but_stays_opened(client, delivered):
    for _ in range(3):
        pixel(client, delivered.latest_message.token)
    db.session.rollback()  # end our snapshot to see what the request committed
    assert delivered.latest_message.open_count == 3
    assert delivered.email_status == "opened"
    assert [t for t, _ in timeline(delivered)].count("opened") == 3


def test_opens_noted_together_are_written_together(client, delivered, issuer):
    other = mark_latest(issue(issuer, name="Other", action="publish"), "sent")
    tokens = [delivered.latest_message.token, other.latest_message.token]
    for token in tokens + tokens + ["forged"]:
        client.get(f"/t/{token}.gif", headers=PERSON)
    opens.recorder(client.application).flush()
    db.session.rollback()
    assert [c.latest_message.open_count for c in (delivered, other)] == [2, 2]
    assert delivered.email_status == other.email_status == "opened"


def test_privacy_proxy_prefetch_is_recorded_but_not_an_open(client, delivered):
    pixel(client, delivered.latest_message.token, agent="Mozilla/5.0", language=None)
    db.session.rollback()  # end our snapshot to see what the request committed
    assert delivered.email_status == "not_opened"
    assert timeline(delivered)[-1] == ("auto_opened", "by Apple Mail Privacy Protection")
    # The same bare agent long after delivery is a person reading through the proxy.
    delivered.latest_message.sent_at = utcnow() - timedelta(hours=3)
    db.session.commit()
    pixel(client, delivered.latest_message.token, agent="Mozilla/5.0", language=None)
    db.session.rollback()  # end our snapshot to see what the request committed
    assert delivered.email_status == "opened"


def test_google_image_proxy_counts_as_a_person(client, delivered):
    """Seconds after delivery, with no language (a proxy sends none), and an agent that
    pretends to be an old Firefox: still the person reading their mail in Gmail."""
    pixel(client, delivered.latest_message.token, agent=GOOGLE_PROXY, language=None)
    db.session.rollback()  # end our snapshot to see what the request committed
    assert delivered.email_status == "opened"
    assert timeline(delivered)[-1] == ("opened", "by a person (Gmail (Google image proxy))")


PREVIEW = "Mozilla/5.0 (compatible; BingPreview/1.0b)"
APPLE_MAIL = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
              "like Gecko)")
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"


@pytest.mark.parametrize("agent, language, minutes_ago, kind, detail", [
    # A person at their inbox: webmail in a browser (which sends its languages), mail
    # programs and image proxies (which send none).
    (CHROME, LANGUAGE, 0, "opened", "by a person (Chrome)"),
    (APPLE_MAIL, None, 0, "opened", "by a person (Apple Mail)"),
    (OUTLOOK, None, 0, "opened", "by a person (Outlook)"),
    # A scanner rendering the email seconds after delivery: a browser's agent, no language.
    (CHROME, None, 0, "auto_opened", "by a link scanner (Chrome)"),
    (CHROME, None, 60, "opened", "by a person (Chrome)"),  # not a scanner's hour
    # A program that says so is one whenever it comes.
    (PREVIEW, LANGUAGE, 60, "auto_opened", "by a program, not a person (unknown program)"),
    ("python-requests/2.32.3", None, 60, "auto_opened",
     "by a program, not a person (unknown program)"),
])
def test_who_loaded_the_image(client, delivered, agent, language, minutes_ago, kind, detail):
    delivered.latest_message.sent_at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.commit()
    pixel(client, delivered.latest_message.token, agent=agent, language=language)
    db.session.rollback()  # end our snapshot to see what the request committed
    assert timeline(delivered)[-1] == (kind, detail)
    person = kind == "opened"
    assert delivered.email_status == ("opened" if person else "not_opened")
    assert delivered.latest_message.open_count == int(person)
    assert (delivered.first_opened_at is not None) is person


def test_machines_fetching_again_and_again_keep_a_short_timeline(client, delivered):
    for _ in range(25):
        client.get(f"/t/{delivered.latest_message.token}.gif",
                   headers={"User-Agent": "python-requests/2.32.3"})
    opens.recorder(client.application).flush()
    db.session.rollback()
    assert [t for t, _ in timeline(delivered)].count("auto_opened") == 20
    assert delivered.email_status == "not_opened"


def test_following_the_link_is_a_view_and_an_open(client, delivered):
    response = client.get(f"/r/{delivered.latest_message.token}", headers=PERSON)
    assert response.status_code == 302
    assert response.location == f"/c/{delivered.token}"
    db.session.rollback()  # end our snapshot to see what the request committed
    assert delivered.email_status == "opened"
    assert timeline(delivered)[-1][0] == "viewed"
    page = client.get(response.location).text
    assert delivered.recipient_name in page and "Course A" in page and "Acme Academy" in page
    assert "Log out" not in page


def test_unknown_links_and_unpublished_credentials_are_404(client, issuer, delivered):
    assert client.get("/r/forged").status_code == 404
    assert client.get("/c/forged").status_code == 404
    draft = issue(issuer, name="Draft Person")
    assert client.get(f"/c/{draft.token}").status_code == 404
    assert client.get(f"/c/{delivered.id}").status_code == 404  # ids are not tokens


def test_recipient_page_escapes_names(client, issuer):
    credential = issue(issuer, name="<script>x()</script>", action="publish", send_email=False)
    page = client.get(f"/c/{credential.token}").text
    assert "<script>x()" not in page and "&lt;script&gt;x()" in page


def test_links_to_an_old_address_stop_working_and_the_new_one_gets_its_own(client, issuer,
                                                                            delivered):
    from conftest import api_for

    old_email, old_page = delivered.latest_message.token, delivered.token
    assert client.get(f"/r/{old_email}").status_code == 302
    api = api_for(client, issuer)
    changed = api.patch(f"/api/v1/credentials/{delivered.id}",
                        json={"recipient_email": "new.person@example.org"})
    assert changed.status_code == 200
    assert client.get(f"/r/{old_email}").status_code == 404  # the email to the old address
    assert client.get(f"/c/{old_page}").status_code == 404  # a page the old address saw
    assert api.post(f"/api/v1/credentials/{delivered.id}/resend", json={}).status_code == 202
    db.session.rollback()
    db.session.refresh(delivered)
    new_email = delivered.latest_message
    assert new_email.to_address == "new.person@example.org" and new_email.token != old_email
    response = client.get(f"/r/{new_email.token}")
    assert response.status_code == 302 and response.location == f"/c/{delivered.token}"
    assert delivered.token != old_page
    assert client.get(response.location).status_code == 200
