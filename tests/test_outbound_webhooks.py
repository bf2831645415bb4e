"""Outbound webhooks: registration rules, the outbox written with events, delivery with
standardwebhooks signatures, retries, SSRF checks and the switch-off."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import api_for, issue, make_app, queue_test
from standardwebhooks import Webhook
from webhook_receiver import Receiver

from accounts import create_user
from mailer.queue import send_due
from models import WebhookAttempt, WebhookEndpoint, WebhookMessage, db
from models.types import utcnow
from outbound.deliver import claim, deliver_due
from tracking.opens import record_opens

LOCAL = {"WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_ALLOW_PRIVATE": True}


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def local_app(mail_app):
    """The mail app, allowed to post to loopback over http (a test receiver); parametrize
    mail_app indirectly with "postgres" to run on PostgreSQL too."""
    mail_app.config.update(LOCAL)
    return mail_app


@pytest.fixture
def user(local_app):
    return create_user("issuer@acme.test", "Acme Academy", "correct horse battery")


def register(client, user, url, events=("*",)):
    response = api_for(client, user).post("/api/v1/webhooks",
                                          json={"url": url, "events": list(events)})
    assert response.status_code == 201, response.json
    return response.json


def messages():
    db.session.commit()  # a fresh read: the workers wrote in transactions of their own
    return db.session.scalars(sa.select(WebhookMessage).order_by(WebhookMessage.id)).all()


def endpoint_with_events(user, count, **columns):
    """An endpoint of the user's organization (never contacted) with count test events."""
    endpoint = WebhookEndpoint(org_id=user.org_id, url="https://hooks.example.com/x",
                               events=["*"], **columns)
    db.session.add(endpoint)
    db.session.flush()
    for _ in range(count):
        queue_test(endpoint)
    db.session.commit()
    return endpoint


def make_due():
    """Time passes: every waiting message is due now, and no endpoint's pause lasts."""
    db.session.execute(sa.update(WebhookMessage).values(next_attempt_at=utcnow()))
    db.session.execute(sa.update(WebhookEndpoint).values(paused_until=None))
    db.session.commit()


@pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)
def test_a_sent_email_is_announced_signed_and_retried_under_one_id(local_app, user, receiver):
    hook = register(local_app.test_client(), user, receiver.url, ["email.sent"])
    assert hook["secret"].startswith("whsec_")
    receiver.answers = [(500, {}), (500, {})]
    credential = issue(user, action="publish")
    send_due()
    (message,) = messages()
    assert message.type == "email.sent" and message.credential_id == credential.id
    for expected, wait in ((1, 30), (2, 60)):
        before = utcnow()
        assert deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}
        db.session.refresh(message)
        assert message.attempts == expected
        delay = (message.next_attempt_at - before).total_seconds()
        assert wait - 5 <= delay <= wait + 5  # growing delay, WEBHOOK_RETRY_BASE_SECONDS
        assert deliver_due()["retry"] == 0  # not due yet: nothing sent
        make_due()
    assert deliver_due() == {"delivered": 1, "retry": 0, "failed": 0}
    requests = receiver.wait_for(3)
    assert len(requests) == 3
    assert len({headers["webhook-id"] for _, headers, _ in requests}) == 1
    for path, headers, body in requests:
        assert path == "/hooks"
        payload = Webhook(hook["secret"]).verify(body, headers)
        assert payload["type"] == "email.sent"
        assert payload["data"]["credential"]["id"] == credential.id
        assert payload["data"]["credential"]["recipient_email"] == "jane@example.com"
        assert payload["data"]["email"]["to_address"] == "jane@example.com"
        assert "timestamp" in payload
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 44).verify(requests[0][2], requests[0][1])
    db.session.refresh(message)
    assert message.state == "delivered"
    log = db.session.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [attempt.status for attempt in log] == [500, 500, 200]
    assert log[-1].answer == "answer 200"


def test_only_subscribed_events_of_the_organization_are_queued(local_app, user, receiver):
    client = local_app.test_client()
    register(client, user, receiver.url, ["email.opened"])
    rival = create_user("issuer@rival.test", "Rival Institute", "correct horse battery")
    register(client, rival, receiver.url + "/rival", ["*"])
    credential = issue(user, action="publish")
    send_due()
    assert messages() == []  # sent, but nobody of Acme asked for email.sent
    token = credential.latest_message.token
    with db.engine.begin() as connection:
        record_opens(connection, [(token, "Mozilla/5.0 Chrome/120", utcnow(), "image", "en")])
    (message,) = messages()
    assert (message.type, message.endpoint.org_id) == ("email.opened", user.org_id)
    deliver_due()
    ((path, _, body),) = receiver.wait_for(1)
    assert path == "/hooks" and json.loads(body)["type"] == "email.opened"


def test_a_complaint_and_a_suppressed_address_are_announced(local_app, user, receiver):
    from bounces.apply import apply_all
    from bounces.reports import Finding

    register(local_app.test_client(), user, receiver.url,
             ["email.complained", "email.bounced"])
    credential = issue(user, action="publish")
    send_due()
    finding = Finding(kind="complained", recipient="jane@example.com")
    assert apply_all("file", [[("report-1", finding)]]) == ["applied"]
    (message,) = messages()
    assert (message.type, message.credential_id) == ("email.complained", credential.id)
    again = issue(user, action="publish")  # the address is suppressed: bounced at once
    assert [(m.type, m.credential_id) for m in messages()] == [
        ("email.complained", credential.id), ("email.bounced", again.id)]


@pytest.mark.parametrize("body, field, words", [
    ({"url": "ftp://hooks.example.com/x", "events": ["*"]}, "url", "https"),
    ({"url": "", "events": ["*"]}, "url", "required"),
    ({"url": "https://", "events": ["*"]}, "url", "host"),
    ({"url": "https://hooks.example.com/x", "events": []}, "events", "list"),
    ({"url": "https://hooks.example.com/x", "events": "email.sent"}, "events", "list"),
    ({"url": "https://hooks.example.com/x", "events": ["email.lost"]}, "events", "Unknown"),
    ({"url": "https://hooks.example.com/x", "events": ["*", "email.sent"]}, "events", "alone"),
    ({"url": "https://hooks.example.com/x", "events": [3]}, "events", "text"),
])
def test_registration_is_validated(client, api, body, field, words):
    response = api.post("/api/v1/webhooks", json=body)
    assert response.status_code == 400
    assert words in response.json["error"]["fields"][field]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_a_body_that_is_not_an_object_is_a_clear_400(api):
    response = api.post("/api/v1/webhooks", data="[1]", content_type="application/json")
    assert response.status_code == 400 and "JSON object" in response.json["error"]["message"]


def test_http_needs_the_setting(tmp_path):
    app = make_app(tmp_path, WEBHOOK_ALLOW_PRIVATE=True)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", "correct horse battery")
        response = api_for(app.test_client(), user).post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["*"]})
        assert response.status_code == 400
        assert "https://" in response.json["error"]["fields"]["url"]
        db.session.remove()
        db.engine.dispose()


def test_endpoints_are_scoped_to_the_organization(local_app, user):
    client = local_app.test_client()
    rival = create_user("issuer@rival.test", "Rival Institute", "correct horse battery")
    mine = register(client, user, "http://127.0.0.1:9/mine", ["email.sent", "email.bounced"])
    theirs = register(client, rival, "http://127.0.0.1:9/theirs")
    api = api_for(client, user)
    listed = api.get("/api/v1/webhooks").json["items"]
    assert [(e["id"], e["url"], e["events"]) for e in listed] == [
        (mine["id"], mine["url"], ["email.bounced", "email.sent"])]
    assert "secret" not in listed[0]
    assert api.delete(f"/api/v1/webhooks/{theirs['id']}").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{mine['id']}").status_code == 204
    assert api.get("/api/v1/webhooks").json["items"] == []
    assert [e["id"] for e in api_for(client, rival).get("/api/v1/webhooks").json["items"]] \
        == [theirs["id"]]
    assert client.get("/api/v1/webhooks").status_code == 401


def test_a_private_receiver_is_refused_at_registration_and_at_delivery(local_app, user,
                                                                         receiver):
    client = local_app.test_client()
    hook = register(client, user, receiver.url)  # allowed while WEBHOOK_ALLOW_PRIVATE=1
    local_app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    api = api_for(client, user)
    for url in (receiver.url, f"http://localhost:{receiver.port}/hooks",
                "http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/x", "http://0.0.0.0/x"):
        response = api.post("/api/v1/webhooks", json={"url": url, "events": ["*"]})
        assert response.status_code == 400, url
        assert "private network" in response.json["error"]["fields"]["url"], url
    endpoint = db.session.get(WebhookEndpoint, hook["id"])
    queue_test(endpoint)
    db.session.commit()
    assert deliver_due()["retry"] == 1
    assert receiver.requests == []
    (attempt,) = db.session.scalars(sa.select(WebhookAttempt)).all()
    assert attempt.status is None and "private network" in attempt.answer


def test_redirects_are_not_followed(local_app, user, receiver):
    hook = register(local_app.test_client(), user, receiver.url)
    receiver.answers = [(302, {"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"})]
    queue_test(db.session.get(WebhookEndpoint, hook["id"]))
    db.session.commit()
    assert deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}
    assert [path for path, _, _ in receiver.requests] == ["/hooks"]
    (attempt,) = db.session.scalars(sa.select(WebhookAttempt)).all()
    assert attempt.status == 302 and "not followed" in attempt.answer


@pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)
def test_an_endpoint_failing_for_3_days_is_switched_off(local_app, user, receiver):
    client = local_app.test_client()
    hook = register(client, user, receiver.url)
    endpoint = db.session.get(WebhookEndpoint, hook["id"])
    receiver.answers = [(503, {}), (503, {})]
    endpoint.failing_since = utcnow() - timedelta(days=2, hours=23)
    queue_test(endpoint)
    db.session.commit()
    deliver_due()
    db.session.refresh(endpoint)
    assert endpoint.disabled_at is None  # not yet 3 days
    endpoint.failing_since = utcnow() - timedelta(days=3, minutes=1)
    db.session.commit()
    make_due()
    deliver_due()
    db.session.refresh(endpoint)
    assert endpoint.disabled_at is not None
    make_due()
    assert deliver_due()["delivered"] == 0 and len(receiver.requests) == 2  # no more tries
    client.post("/login", data={"email": "issuer@acme.test",
                                "password": "correct horse battery"})
    for page in ("/credentials", "/settings/webhooks/"):
        html = client.get(page).text
        assert "switched off" in html and receiver.url in html, page
    assert api_for(client, user).get("/api/v1/webhooks").json["items"][0]["enabled"] is False


def test_a_success_ends_the_failing_period(local_app, user, receiver):
    hook = register(local_app.test_client(), user, receiver.url)
    endpoint = db.session.get(WebhookEndpoint, hook["id"])
    endpoint.failing_since = utcnow() - timedelta(days=3, minutes=1)
    queue_test(endpoint)
    db.session.commit()
    assert deliver_due()["delivered"] == 1
    db.session.refresh(endpoint)
    assert endpoint.failing_since is None and endpoint.disabled_at is None


def test_tries_run_out(local_app, user, receiver):
    local_app.config["WEBHOOK_MAX_ATTEMPTS"] = 5
    hook = register(local_app.test_client(), user, receiver.url)
    receiver.answers = [(500, {})] * 5
    queue_test(db.session.get(WebhookEndpoint, hook["id"]))
    db.session.commit()
    for _ in range(5):
        deliver_due()
        make_due()
    (message,) = messages()
    assert (message.state, message.attempts) == ("failed", 5)
    assert deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}


@pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)
def test_workers_claiming_at_once_never_share_a_message(local_app, user):
    from concurrent.futures import ThreadPoolExecutor

    endpoint_with_events(user, 40)

    def worker(_):
        """Claim until nothing is left (rows another worker has locked are its own)."""
        with local_app.app_context():
            mine = []
            while ids := claim(5, f"worker-{_}"):
                mine += ids
            return mine

    with ThreadPoolExecutor(4) as pool:
        claimed = list(pool.map(worker, range(4)))
    every = [message_id for ids in claimed for message_id in ids]
    assert len(every) == len(set(every)) == 40


def test_a_receiver_that_does_not_answer_in_time_is_tried_again(local_app, user, receiver):
    local_app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.5
    hook = register(local_app.test_client(), user, receiver.url)
    receiver.answers = [("hold", {})]
    queue_test(db.session.get(WebhookEndpoint, hook["id"]))
    db.session.commit()
    assert deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}
    receiver.release.set()
    (attempt,) = db.session.scalars(sa.select(WebhookAttempt)).all()
    assert attempt.status is None and "no answer within 0.5 s" in attempt.answer
    make_due()
    assert deliver_due()["delivered"] == 1
    first, second = receiver.wait_for(2)
    assert first[1]["webhook-id"] == second[1]["webhook-id"] and first[2] == second[2]


def test_a_slow_receiver_does_not_hold_the_others_back(local_app, user, receiver):
    """Tries go out side by side: four held answers all arrive before any is released,
    which one try at a time could never do."""
    import threading
    local_app.config.update(WEBHOOK_CONCURRENCY=4, WEBHOOK_TIMEOUT_SECONDS=25)
    hook = register(local_app.test_client(), user, receiver.url)
    receiver.answers = [("hold", {})] * 4
    for _ in range(6):
        queue_test(db.session.get(WebhookEndpoint, hook["id"]))
    db.session.commit()
    counts = {}

    def deliver():
        with local_app.app_context():
            counts.update(deliver_due())
    worker = threading.Thread(target=deliver)
    worker.start()
    assert len(receiver.wait_for(4, timeout=20)) >= 4  # all four held at once
    receiver.release.set()
    worker.join(timeout=30)
    assert counts == {"delivered": 6, "retry": 0, "failed": 0}
    assert len(receiver.requests) == 6
    assert {m.state for m in messages()} == {"delivered"}


def test_the_host_is_resolved_once_and_named_in_the_request(local_app, user, receiver):
    hook = register(local_app.test_client(), user, f"http://localhost:{receiver.port}/x?a=1")
    queue_test(db.session.get(WebhookEndpoint, hook["id"]))
    db.session.commit()
    assert deliver_due()["delivered"] == 1
    ((path, headers, _),) = receiver.wait_for(1)
    assert path == "/x?a=1" and headers["Host"] == f"localhost:{receiver.port}"


def test_an_endpoint_deleted_during_its_delivery_leaves_nothing_behind(local_app, user,
                                                                       receiver):
    from outbound.deliver import deliver, prepare
    hook = register(local_app.test_client(), user, receiver.url)
    queue_test(db.session.get(WebhookEndpoint, hook["id"]))
    db.session.commit()
    (message_id,) = claim(5, "worker")
    delivery = prepare(db.session.get(WebhookMessage, message_id), "worker")
    assert api_for(local_app.test_client(), user).delete(
        f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert deliver(delivery) == "lease_lost"  # sent, but nothing left to record it on
    assert messages() == [] and db.session.scalars(sa.select(WebhookAttempt)).all() == []


def test_a_try_that_outlasted_its_lease_leaves_the_message_to_its_new_holder(local_app, user,
                                                                          receiver):
    from outbound.deliver import deliver, prepare
    endpoint = endpoint_with_events(user, 1)
    endpoint.url = receiver.url
    db.session.commit()
    (message_id,) = claim(1, "slow-worker")
    slow = prepare(db.session.get(WebhookMessage, message_id), "slow-worker")
    db.session.rollback()
    db.session.execute(sa.update(WebhookMessage).values(lease_until=utcnow()))  # ran out
    db.session.commit()
    assert claim(1, "next-worker") == [message_id]
    assert deliver(slow) == "lease_lost"  # the receiver got it; its answer decides nothing
    (message,) = messages()
    assert (message.state, message.attempts, message.lease_owner) == ("pending", 0,
                                                                      "next-worker")
    assert deliver(prepare(message, "next-worker")) == "delivered"
    (message,) = messages()
    assert (message.state, message.attempts, message.lease_owner) == ("delivered", 1, None)
    (_, first, _), (_, second, _) = receiver.wait_for(2)  # the same event twice, one id
    assert first["webhook-id"] == second["webhook-id"] == message.webhook_id


def test_a_download_is_announced(local_app, user, receiver):
    register(local_app.test_client(), user, receiver.url, ["credential.downloaded"])
    credential = issue(user, action="publish")
    send_due()
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36",
               "Accept-Language": "en"}
    pdf = local_app.test_client().get(f"/c/{credential.token}.pdf", headers=browser)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    (message,) = messages()
    assert (message.type, message.credential_id) == ("credential.downloaded", credential.id)
    deliver_due()
    ((_, _, body),) = receiver.wait_for(1)
    assert json.loads(body)["data"]["credential"]["engagement"]["downloaded_at"]


def pause_over():
    """Time passes for the endpoints (not for the messages' own retries)."""
    db.session.execute(sa.update(WebhookEndpoint).values(paused_until=None))
    db.session.commit()


@pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)
def test_a_dead_receiver_gets_one_try_per_pause_and_holds_back_only_its_own(local_app, user):
    dead, alive = Receiver().start(), Receiver().start()
    try:
        dead.answers = [(503, {})] * 100
        endpoints = {name: db.session.get(WebhookEndpoint, register(
            local_app.test_client(), user, server.url)["id"])
            for name, server in (("dead", dead), ("alive", alive))}
        queue_test(endpoints["dead"])
        db.session.commit()
        assert deliver_due()["retry"] == 1  # an event finds the receiver dead
        db.session.refresh(endpoints["dead"])
        paused = (endpoints["dead"].paused_until - utcnow()).total_seconds()
        assert 20 < paused <= 30  # WEBHOOK_RETRY_BASE_SECONDS at first
        for name in endpoints:
            for _ in range(10):
                queue_test(endpoints[name])
        db.session.commit()
        assert deliver_due() == {"delivered": 10, "retry": 0, "failed": 0}
        assert (len(dead.requests), len(alive.requests)) == (1, 10)  # its ten wait
        pause_over()
        assert deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}  # one probe
        assert deliver_due()["retry"] == 0 and len(dead.requests) == 2  # paused again
        shown = api_for(local_app.test_client(), user).get("/api/v1/webhooks").json["items"]
        assert [hook["failing_since"] is None for hook in shown] == [False, True]
        # Failing for 10 minutes: the next pause is as long.
        endpoints["dead"].failing_since = utcnow() - timedelta(minutes=10)
        pause_over()
        assert deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}
        db.session.refresh(endpoints["dead"])
        paused = (endpoints["dead"].paused_until - utcnow()).total_seconds()
        assert 590 < paused <= 610 and len(dead.requests) == 3
        # Mended: the probe goes through and the seven never tried follow at once; the
        # three tried keep their own next try.
        dead.answers = []
        pause_over()
        assert deliver_due() == {"delivered": 8, "retry": 0, "failed": 0}
        db.session.refresh(endpoints["dead"])
        assert endpoints["dead"].failing_since is None and endpoints["dead"].paused_until is None
        make_due()
        assert deliver_due() == {"delivered": 3, "retry": 0, "failed": 0}
        assert len(dead.requests) == 14 and {m.state for m in messages()} == {"delivered"}
    finally:
        dead.stop()
        alive.stop()


def test_a_failing_endpoints_test_event_is_its_probe(local_app, user):
    endpoint = endpoint_with_events(user, 1, failing_since=utcnow())
    db.session.add(WebhookMessage(endpoint_id=endpoint.id, type="email.sent",
                                  next_attempt_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    (test,) = [m for m in messages() if m.type == "webhook.test"]
    assert claim(5, "worker") == [test.id]


@pytest.mark.parametrize("failing_for, paused", [
    (timedelta(0), timedelta(seconds=30)), (timedelta(minutes=7), timedelta(minutes=7)),
    (timedelta(days=2), timedelta(hours=1))])
def test_the_pause_grows_with_the_failing_time_up_to_an_hour(local_app, failing_for, paused):
    from outbound.deliver import pause
    assert pause(failing_for) == paused


@pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)
def test_workers_at_once_take_one_probe_of_a_failing_endpoint(local_app, user):
    from concurrent.futures import ThreadPoolExecutor

    endpoint_with_events(user, 40, failing_since=utcnow())

    def worker(_):
        with local_app.app_context():
            return [message_id for _ in range(3) for message_id in claim(5, "worker")]

    with ThreadPoolExecutor(4) as pool:
        claimed = [ids for ids in pool.map(worker, range(4)) if ids]
    assert len(claimed) == 1 and len(claimed[0]) == 1
