"""The reputation guard: an organization whose recent emails bounce for good or are reported
as spam too often pauses by itself while the others send, shows why, and an owner resumes."""

import itertools
import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from browser import LiveServer, Watch, chromium, log_in
from conftest import PASSWORD, Auth, api_for, make_app
from test_browser_lifecycle import assert_accessible

import issuing
import reputation
from accounts import create_user
from bounces.apply import apply_all
from bounces.reports import Finding
from mailer.claim import HeldBatch, claim
from mailer.queue import send_due
from models import AuditEntry, Credential, EmailMessage, Organization, db, write_transaction
from models.states import MessagePurpose
from models.types import utcnow

ADDRESSES = (f"h{n}@example.com" for n in itertools.count())
REFUSED = "550 5.1.1 No such user here"


def publish(user, addresses):
    """Publish a credential to each address, queued in this order; committed. Returns
    their ids."""
    news = [issuing.NewCredential(f"Recipient {n}", address, "Course A", "publish")
            for n, address in enumerate(addresses)]
    ids = issuing.issue_new(db.session.connection(), user.org_id, user.id, news)
    db.session.commit()
    return ids


def handed(user, count, bounced=0, at=None):
    """count emails of the user's organization handed to the mail server at at (default
    now) and accepted, the first bounced of them bounced for good instead; committed.
    Returns their row ids."""
    ids = publish(user, [next(ADDRESSES) for _ in range(count)])
    rows = db.session.scalars(sa.select(EmailMessage.id).where(
        EmailMessage.credential_id.in_(ids)).order_by(EmailMessage.id)).all()
    at = at or utcnow()
    db.session.execute(sa.update(EmailMessage).where(EmailMessage.id.in_(rows)).values(
        state="sent", handed_at=at, sent_at=at, attempts=1))
    db.session.execute(sa.update(EmailMessage).where(EmailMessage.id.in_(rows[:bounced]))
                       .values(state="bounced", bounce_kind="hard",
                               bounce_code="mailbox_unknown"))
    db.session.commit()
    return rows


def judge(user):
    with write_transaction() as connection:
        return reputation.judge(connection, [user.org_id])


def org_of(user):
    db.session.rollback()  # a new transaction sees what the others committed
    return db.session.get(Organization, user.org_id)


def person(email, role):
    """A person of Acme Academy with this role; committed."""
    user = create_user(email, "Acme Academy", PASSWORD)
    user.role = role
    db.session.commit()
    return user


def pause(user, reason="21 of the last 200 emails bounced for good (10.5%, above 8%)."):
    org = org_of(user)
    org.paused_at, org.paused_reason = utcnow(), reason
    db.session.commit()


@pytest.mark.parametrize("judged, bounced, complained, reason", [
    (49, 49, 49, None),  # too few to judge: one bounce would be a large share
    (50, 4, 0, None),  # 8% exactly: not above
    (200, 16, 0, None),
    (50, 5, 0, "5 of the last 50 emails bounced for good (10%, above 8%)."),
    (200, 17, 0, "17 of the last 200 emails bounced for good (8.5%, above 8%)."),
    (1000, 0, 3, None),  # 0.3% exactly
    (200, 0, 1, "1 of the last 200 emails was reported as spam (0.5%, above 0.3%)."),
    (200, 20, 2, "20 of the last 200 emails bounced for good (10%, above 8%). 2 of the last "
                 "200 emails were reported as spam (1%, above 0.3%)."),
    (0, 0, 0, None),
])
def test_the_thresholds(app, judged, bounced, complained, reason):
    assert reputation.verdict(judged, bounced, complained) == reason


def test_only_the_last_emails_handed_over_since_the_resume_count(app, issuer):
    handed(issuer, 100, bounced=100, at=utcnow() - timedelta(hours=2))
    handed(issuer, 200, bounced=10, at=utcnow() - timedelta(hours=1))  # 5% of the last 200
    assert judge(issuer) == []
    handed(issuer, 40, bounced=40)  # and the 160 newest of the hour before, all accepted
    org = org_of(issuer)
    assert judge(issuer) == [org.id] and org_of(issuer).paused_reason == (
        "40 of the last 200 emails bounced for good (20%, above 8%).")

    assert reputation.resume(org).startswith("40 of the last 200")
    db.session.commit()  # only what is handed over from now on counts
    assert judge(issuer) == []  # nothing since
    handed(issuer, 49, bounced=10)
    assert judge(issuer) == []  # too few yet
    handed(issuer, 1)
    assert judge(issuer) == [org.id]
    assert org_of(issuer).paused_reason == (
        "10 of the last 50 emails bounced for good (20%, above 8%).")


def test_late_bounces_and_complaints_pause_through_the_one_door(app, issuer, rival):
    rows = handed(issuer, 200)
    late = [[(f"bounce-{n}", Finding("failed", None, REFUSED, row_id=row))]
            for n, row in enumerate(rows[:16])]
    assert apply_all("file", late) == ["applied"] * 16
    assert org_of(issuer).paused_at is None  # 16 of 200: 8%, not above
    complaint = Finding("complained", None, row_id=rows[-1])
    assert apply_all("file", [[("complaint-1", complaint)]]) == ["applied"]
    assert org_of(issuer).paused_reason == (
        "1 of the last 200 emails was reported as spam (0.5%, above 0.3%).")
    assert org_of(rival).paused_at is None


def test_a_paused_organization_s_mail_is_not_claimed_but_its_own_people_s_is(app, issuer,
                                                                              rival):
    publish(issuer, ["a@example.com"])
    publish(rival, ["r@example.com"])
    with write_transaction() as connection:
        invitation = issuing.queue_system_email(connection, issuer.org_id, issuer.id,
                                                "new@acme.test", MessagePurpose.INVITATION,
                                                utcnow())
    pause(issuer)
    ids, held = claim(10, "w1")
    assert (len(ids), held) == (2, 0)
    orgs = dict(db.session.execute(sa.select(EmailMessage.id, EmailMessage.org_id)
                                   .where(EmailMessage.id.in_(ids))).all())
    assert invitation in ids and sorted(orgs.values()) == sorted([issuer.org_id,
                                                                  rival.org_id])
    assert claim(10, "w2") == ([], 0)


def test_mail_a_connection_holds_goes_back_when_its_organization_pauses_elsewhere(app, issuer,
                                                                                  rival):
    publish(issuer, ["a@example.com", "b@example.com"])
    publish(rival, ["r@example.com"])
    claimed = time.monotonic()
    ids, _ = claim(10, "w1")
    batch = HeldBatch(ids, "w1", claimed)
    assert not any(batch.paused(row_id) for row_id in ids)
    pause(issuer)  # by another process: this one reads it from the database
    batch.pauses.read_at = None  # as if a second went by
    orgs = dict(db.session.execute(sa.select(EmailMessage.id, EmailMessage.org_id)).all())
    assert [batch.paused(row_id) for row_id in ids] == [orgs[i] == issuer.org_id for i in ids]
    # A batch claimed after the pause could not hold its mail: nothing of it goes back.
    later = HeldBatch(ids, "w2", time.monotonic())
    assert not any(later.paused(row_id) for row_id in ids)


@pytest.fixture(params=["sqlite", "postgres"])
def one_connection(request, tmp_path, sink):
    """One SMTP connection that claims 100 messages at a time; judged from 10 emails."""
    app = make_app(tmp_path, request.param, MAIL_PORT=sink.port, SMTP_TIMEOUT_SECONDS=5,
                   SMTP_CONCURRENCY=1, BATCH_SIZE=100, REPUTATION_MIN_SAMPLE=10)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_a_connection_gives_back_what_it_holds_once_its_organization_pauses(one_connection,
                                                                            sink):
    acme = create_user("owner@acme.test", "Acme Academy", PASSWORD)
    rival = create_user("issuer@rival.test", "Rival Institute", PASSWORD)
    first = [f"a{n}@example.com" for n in range(20)]
    for address in first[::10]:
        sink.answer(address, REFUSED)
    publish(acme, first)
    publish(rival, [f"r{n}@example.com" for n in range(10)])
    publish(acme, [f"b{n}@example.com" for n in range(40)])
    # The 11th bounces the second: 2 of 11 (18%). The other 49 of Acme in the batch go back
    # unsent; the rival's in the same batch go.
    assert send_due() == {"claimed": 70, "bounced": 2, "sent": 19, "paused": 49}
    assert sorted(to for to, *_ in sink.received)[-10:] == [f"r{n}@example.com"
                                                            for n in range(10)]
    waiting = db.session.scalars(sa.select(EmailMessage).where(
        EmailMessage.org_id == acme.org_id, EmailMessage.state == "queued")).all()
    assert len(waiting) == 49 and all(m.lease_owner is None and m.attempts == 0
                                      for m in waiting)


@pytest.fixture(params=["sqlite", "postgres"])
def guarded(request, tmp_path, sink):
    """An app sending to the sink as in production: 8 connections claiming 20 each."""
    app = make_app(tmp_path, request.param, MAIL_PORT=sink.port, SMTP_TIMEOUT_SECONDS=5)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def messages_of(user):
    return db.session.scalars(sa.select(EmailMessage).where(
        EmailMessage.org_id == user.org_id).order_by(EmailMessage.id)).all()


@pytest.mark.slow
def test_a_list_that_bounces_pauses_its_organization_the_other_sends_an_owner_resumes(
        guarded, sink):
    owner = create_user("owner@acme.test", "Acme Academy", PASSWORD)
    viewer, issuer = person("viewer@acme.test", "viewer"), person("issuer@acme.test", "issuer")
    rival = create_user("issuer@rival.test", "Rival Institute", PASSWORD)
    addresses = [f"a{n}@example.com" for n in range(250)]
    for address in addresses[::10]:  # 10% of them do not exist
        sink.answer(address, REFUSED)
    publish(owner, addresses)  # the oldest: claimed first
    publish(rival, [f"r{n}@example.com" for n in range(30)])

    send_due()
    db.session.expire_all()
    org = org_of(owner)
    found = re.fullmatch(r"(\d+) of the last (\d+) emails bounced for good \(([\d.]+)%, "
                         r"above 8%\)\.", org.paused_reason or "")
    bounced, judged = int(found[1]), int(found[2])
    assert judged >= 50 and bounced / judged > 0.08
    mail = messages_of(owner)
    gone = [m for m in mail if m.state in ("sent", "bounced")]
    rest = [m for m in mail if m not in gone]
    assert len(gone) < 250 and rest
    assert all(m.state == "queued" and m.lease_owner is None for m in rest)
    statuses = db.session.scalars(sa.select(Credential.email_status).where(
        Credential.id.in_([m.credential_id for m in rest]))).all()
    assert set(statuses) == {"sending"}
    assert [m.state for m in messages_of(rival)] == ["sent"] * 30
    assert send_due() == {"claimed": 0}  # nothing more of it goes

    # Every issuer page says so with the figures; an owner sees the way back.
    pages = {}
    for user in (owner, viewer):
        client = guarded.test_client()
        Auth(client).login(user.email)
        pages[user.role] = " ".join(client.get("/credentials").text.split())
    for page in pages.values():
        assert "Sending is paused" in page and org.paused_reason in page
    assert 'action="/queue/resume-sending"' in pages["owner"]
    assert "resume-sending" not in pages["viewer"]
    metrics = guarded.test_client().get("/metrics").text
    assert f'mail_org_paused{{org="{owner.org_id}"}} 1.0' in metrics
    assert f'org="{rival.org_id}"' not in metrics
    assert guarded.test_client().get("/healthz").json["queue"]["due"] == 0  # not due: held

    # Only an owner resumes: then only what is handed over from now on counts.
    for user in (viewer, issuer):
        client = guarded.test_client()
        Auth(client).login(user.email)
        assert client.post("/queue/resume-sending").status_code == 403
        assert api_for(client, user).post(
            "/api/v1/organization/resume-sending").status_code == 403
    assert org_of(owner).paused_at is not None
    client = guarded.test_client()
    Auth(client).login(owner.email)
    answer = client.post("/queue/resume-sending")
    assert answer.status_code == 302 and answer.location == "/queue"
    org = org_of(owner)
    assert org.paused_at is None and org.paused_reason is None and org.guard_since
    assert "Sending is paused" not in client.get("/credentials").text
    entry = db.session.scalar(sa.select(AuditEntry).filter_by(
        action="settings.resume_sending"))
    assert entry.actor == owner.email and entry.changes == {
        "paused_reason": [found[0], None]}

    sink.rcpt_replies.clear()  # the list was cleaned: the addresses left all exist
    assert send_due()["sent"] == len(rest)
    assert {m.state for m in messages_of(owner)} == {"sent", "bounced"}
    assert org_of(owner).paused_at is None


def test_an_owner_key_resumes_once(app, issuer):
    viewer = person("viewer@acme.test", "viewer")
    pause(issuer)
    assert reputation.paused_state(org_of(issuer))["reason"].startswith("21 of the last 200")
    client = app.test_client()
    assert api_for(client, viewer).post(
        "/api/v1/organization/resume-sending").status_code == 403
    owner = api_for(client, issuer)
    for _ in range(2):  # the second changes nothing
        answer = owner.post("/api/v1/organization/resume-sending")
        assert answer.status_code == 200 and answer.json == {"paused": None}
    assert org_of(issuer).paused_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).filter_by(
        action="settings.resume_sending")) == 1


@pytest.mark.browser
@pytest.mark.slow
def test_the_banner_in_chromium_under_the_policy_accessible_and_its_button(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        owner = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        pause(owner)
        with LiveServer(app) as server, sync_api.sync_playwright() as playwright:
            browser = chromium(playwright)
            reader = browser.new_context(bypass_csp=True).new_page()  # axe is an inline script
            log_in(reader, server)
            expect(reader.get_by_role("region", name="Sending is paused")).to_contain_text(
                "21 of the last 200 emails bounced for good (10.5%, above 8%).")
            assert_accessible(reader, "credentials, paused")

            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(15_000)
            watch = Watch(context, page)
            log_in(page, server)
            banner = page.get_by_role("region", name="Sending is paused")
            banner.get_by_role("link", name="see the recipients whose email bounced").click()
            expect(page).to_have_url(re.compile(r"/credentials\?status=bounced$"))
            page.get_by_role("button", name="Resume sending").click()  # with its CSRF token
            expect(page.get_by_role("status")).to_contain_text("Sending resumed")
            expect(page.get_by_role("region", name="Sending is paused")).to_have_count(0)
            watch.assert_clean("paused, then resumed")
        assert org_of(owner).paused_at is None
