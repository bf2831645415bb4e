"""The Settings page of outbound webhooks, with CSRF protection on as in production."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, make_app, queue_test
from standardwebhooks import Webhook
from webhook_receiver import Receiver

from accounts import create_user
from models import WebhookEndpoint, db
from models.types import utcnow
from outbound.deliver import deliver_due

PAGE = "/settings/webhooks/"


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def csrf_app(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True, WEBHOOK_ALLOW_HTTP=True,
                   WEBHOOK_ALLOW_PRIVATE=True)
    with app.app_context():
        create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        yield app
        db.session.remove()
        db.engine.dispose()


def _token(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def client(csrf_app):
    client = csrf_app.test_client()
    client.post("/login", data={"email": "issuer@acme.test", "password": PASSWORD,
                                "csrf_token": _token(client.get("/login").text)})
    return client


def test_settings_link_to_the_webhooks_page(client):
    assert f'href="{PAGE}"' in client.get("/settings/").text
    assert client.get(PAGE).status_code == 200


def test_add_test_and_delete_an_endpoint(client, receiver):
    token = _token(client.get(PAGE).text)
    form = {"url": receiver.url, "events": ["email.sent", "credential.viewed"]}
    assert client.post(PAGE, data=form).status_code == 400  # no CSRF token
    response = client.post(PAGE, data={**form, "csrf_token": token})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<pre id="new-secret">(whsec_[^<]+)</pre>', response.text).group(1)
    (endpoint,) = db.session.scalars(sa.select(WebhookEndpoint)).all()
    assert endpoint.events == ["credential.viewed", "email.sent"]
    page = client.get(PAGE).text
    assert secret not in page and "Nothing sent yet" in page

    test = f"{PAGE}{endpoint.id}/test"
    assert client.post(test).status_code == 400
    assert client.post(test, data={"csrf_token": token}).status_code == 302
    assert receiver.requests == []  # queued for the workers, not sent by the request
    assert deliver_due()["delivered"] == 1
    ((_, headers, body),) = receiver.wait_for(1)
    assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"
    page = client.get(PAGE).text
    assert "webhook.test" in page and "answer 200" in page and headers["webhook-id"] in page

    delete = f"{PAGE}{endpoint.id}/delete"
    assert client.post(delete).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 1
    assert client.post(delete, data={"csrf_token": token}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


@pytest.mark.parametrize("form, words", [
    ({"url": "ftp://x.example.com/", "events": ["*"]}, "https"),
    ({"url": "https://hooks.example.com/"}, "list of event types"),
])
def test_a_wrong_endpoint_is_explained_on_the_form(client, form, words):
    response = client.post(PAGE, data={**form, "csrf_token": _token(client.get(PAGE).text)})
    assert response.status_code == 422
    assert words in response.text and 'aria-invalid="true"' in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_all_events_ticked_beside_some_means_all(client):
    form = {"url": "http://127.0.0.1:9/x", "events": ["*", "email.sent"],
            "csrf_token": _token(client.get(PAGE).text)}
    assert client.post(PAGE, data=form).status_code == 201
    assert db.session.scalars(sa.select(WebhookEndpoint.events)).one() == ["*"]


def test_another_organizations_endpoint_is_not_found(client):
    rival = create_user("issuer@rival.test", "Rival Institute", PASSWORD)
    theirs = WebhookEndpoint(org_id=rival.org_id, url="https://hooks.example.com/x",
                             events=["*"])
    db.session.add(theirs)
    db.session.commit()
    token = _token(client.get(PAGE).text)
    assert "hooks.example.com" not in client.get(PAGE).text
    for action in ("test", "delete", "enable"):
        response = client.post(f"{PAGE}{theirs.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404, action
    assert db.session.get(WebhookEndpoint, theirs.id) is not None


def test_a_switched_off_endpoint_can_be_switched_on_again(client):
    endpoint = WebhookEndpoint(org_id=1, url="https://hooks.example.com/x", events=["*"],
                               disabled_at=utcnow(), failing_since=utcnow())
    db.session.add(endpoint)
    db.session.commit()
    assert "Switch on again" in client.get(PAGE).text
    response = client.post(f"{PAGE}{endpoint.id}/enable",
                           data={"csrf_token": _token(client.get(PAGE).text)})
    assert response.status_code == 302
    db.session.refresh(endpoint)
    assert endpoint.disabled_at is None and endpoint.failing_since is None
    assert "switched off" not in client.get("/credentials").text


def test_a_failing_endpoint_says_when_it_is_tried_and_a_test_event_tries_it_now(client):
    endpoint = WebhookEndpoint(org_id=1, url="https://hooks.example.com/x", events=["*"],
                               failing_since=utcnow(), paused_until=utcnow() + timedelta(hours=1))
    db.session.add(endpoint)
    db.session.flush()
    for _ in range(2):
        queue_test(endpoint)
    db.session.commit()
    words = " ".join(client.get(PAGE).text.split())
    clock = endpoint.paused_until.strftime("%H:%M")
    assert re.search(rf"Failing since [^<]*:</span> 2 events waiting; next try [^.]*{clock}",
                     words)
    response = client.post(f"{PAGE}{endpoint.id}/test",
                           data={"csrf_token": _token(client.get(PAGE).text)})
    assert response.status_code == 302
    db.session.refresh(endpoint)
    assert endpoint.paused_until is None and endpoint.failing_since is not None
