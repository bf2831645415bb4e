"""No input makes any route answer 500: a corpus of malformed bodies and queries sent over
HTTP to a running app, to every route that takes a body (and the query of every GET), as a
stranger, as a logged-in issuer and with an API key."""

import http.client
import itertools
import json
from urllib.parse import urlencode

import pytest
from browser import LiveServer
from conftest import PASSWORD, issue, make_app

from accounts import create_user
from models import ApiKey, ImportJob, WebhookEndpoint, db

JSON_BODIES = [
    b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b'"\\ud800"', b"[]", b"null",
    b"1e999999", b"\xff\xfe\x00\x80", b"", b'{"credentials": [[1], "x", null]}',
    b'{"credentials": "all"}', b'{"credentials": [{"recipient_name": []}]}',
    json.dumps({"recipient_name": "\ud800", "recipient_email": "a@example.com",
                "group": "\udfff", "action": "publish"}).encode(),
    json.dumps({"recipient_name": "Ada", "recipient_email": "ada@example.com",
                "group": "G", "action": "schedule", "scheduled_at": "\ud800"}).encode(),
    json.dumps({"recipient_email": {"a": 1}, "send_email": [], "force": "\ud800",
                "url": [], "events": {"*": 1}, "reason": 7}).encode(),
    json.dumps({"Type": [], "TopicArn": {}, "signature": [], "event-data": "x",
                "RecordType": [], "event": []}).encode(),
    json.dumps([{"event": [], "email": {}}, [], "x"]).encode(),
    json.dumps({"recipient_name": [], "expires_at": "\ud800", "group": 5,
                "reason": "x" * 5000}).encode(),
    json.dumps({"expires_at": "99999-01-01T00:00:00+00:00", "reason": "\ud800"}).encode(),
]
FORM_BODIES = [
    {"recipient_name": "\ud800", "recipient_email": "a@example.com", "group_id": "new",
     "new_group": "\udfff", "action": "publish", "send_email": "y", "utc_offset": "x"},
    {"recipient_name": "A" * 5000, "group_id": "99999999999999999999999", "action": "[]",
     "scheduled_at": "9999-99-99T99:99", "utc_offset": "1e999"},
    {"ids": ["abc", "1e999", "-1", "99999999999999999999"], "mode": "[]", "days": "\ud800",
     "line": "99999999999999999999", "name_col": "-5", "email_col": "1e9", "page": "x"},
    {"email": "\ud800", "password": "\udfff", "recipient_email": "\x00", "url": "\ud800",
     "events": ["\ud800", "*"], "reminder_after_days": "1e999", "reminder_max": "-1",
     "sender_address": "a@[127.0.0.1]", "force": "y"},
    {"reason": "\ud800", "expires_on": "9999-99-99", "validity_months": "1e999",
     "description": "\x00", "criteria": "\ud800", "group_id": "-1", "revoked": "[]"},
]
QUERIES = ["page=-1&per_page=1e999&status=%ED%A0%80&q=%00&engaged=[]",
           "per_page=0&page=99999999999999999999999&email_status=x&id=a&id=-1",
           "q=" + "%ED%A0%80" * 50 + "&edit=1&row=1"]


def fill(rule, values):
    """A URL of the rule, its parameters taken from values."""
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<int:{name}>", str(values.get(name, 1)))
        path = path.replace(f"<{name}>", str(values.get(name, "x")))
        path = path.replace(f"<path:{name}>", str(values.get(name, "x")))
    return path


@pytest.fixture
def served(tmp_path):
    """The app with every provider switched on, live on loopback, with one of each thing
    a route can be about."""
    app = make_app(
        tmp_path, MAILGUN_WEBHOOK_SIGNING_KEY="key-x", POSTMARK_WEBHOOK_USER="u",
        POSTMARK_WEBHOOK_PASSWORD="p", SES_WEBHOOK=True,
        SES_TOPIC_ARNS="arn:aws:sns:us-east-1:123456789012:ses-bounces",
        SENDGRID_WEBHOOK_PUBLIC_KEY="MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + "A" * 88)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        credential = issue(user, action="publish")
        endpoint = WebhookEndpoint(org_id=user.org_id, url="https://hooks.example/x",
                                   events=["*"])
        job = ImportJob(org_id=user.org_id, user_id=user.id, filename="x.csv", kind="csv",
                        columns=["name"], sample=[])
        api_key, key = ApiKey.issue(user)
        colleague = create_user("colleague@acme.test", "Acme Academy", PASSWORD)
        db.session.add_all([endpoint, job])
        db.session.commit()
        values = {"credential_id": credential.id, "endpoint_id": endpoint.id,
                  "import_id": job.id, "key_id": api_key.id, "prefix": api_key.prefix,
                  "token": credential.token,
                  "public_id": credential.public_id, "provider": "ses",
                  "group_id": credential.group_id, "number": 0, "user_id": colleague.id,
                  "text": "not-a-link"}
        with LiveServer(app) as server:
            yield app, server, values, key
        db.session.remove()
        db.engine.dispose()


def ask(server, method, path, body=b"", headers=None):
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Set-Cookie")
    finally:
        connection.close()


def logged_in_cookie(server):
    status, cookie = ask(server, "POST", "/login",
                         urlencode({"email": "issuer@acme.test", "password": PASSWORD}),
                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 302 and cookie
    return cookie.split(";", 1)[0]


@pytest.mark.slow
def test_no_malformed_input_gets_a_500(served):
    app, server, values, key = served
    callers = {"stranger": {}, "issuer": {"Cookie": logged_in_cookie(server)},
               "api key": {"Authorization": f"Bearer {key}"}}
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in ("static", "auth.logout"):
            continue
        paths = {fill(rule, values)} | ({fill(rule, {"provider": p}) for p in (
            "sendgrid", "mailgun", "postmark", "ses")} if "provider" in rule.arguments else set())
        for path, (who, headers) in itertools.product(paths, callers.items()):
            if "GET" in rule.methods:
                for query in QUERIES:
                    status, _ = ask(server, "GET", f"{path}?{query}", headers=headers)
                    if status >= 500:
                        failures.append((status, who, "GET", f"{path}?{query[:40]}"))
            for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
                sent = [(body, "application/json") for body in JSON_BODIES] + [
                    (urlencode(form, doseq=True, errors="surrogatepass").encode(),
                     "application/x-www-form-urlencoded")
                    for form in FORM_BODIES]
                for body, kind in sent:
                    status, _ = ask(server, method, path, body,
                                    {**headers, "Content-Type": kind})
                    if status >= 500:
                        failures.append((status, who, method, path, body[:60]))
    assert not failures, "\n".join(map(str, failures))


def test_the_corpus_reaches_every_route_that_takes_a_body(served):
    """Each such route has a parameter the fixture fills (else a 404 would hide it)."""
    app, _, values, _ = served
    for rule in app.url_map.iter_rules():
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            assert set(rule.arguments) <= set(values), rule.rule
