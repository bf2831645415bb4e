"""Attacks on logins, sessions, keys and public routes, made as a stranger would."""

import http.client
import json
import os
import re
import sqlite3
import statistics
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest
import redis
import sqlalchemy as sa
from browser import served_with_jobs
from conftest import PASSWORD, WORKER, Auth, api_for, issue, make_app

import models.user
from accounts import create_user
from extensions import limiter
from models import ApiKey, Credential, EmailEvent, db
from tracking import opens

WRONG = "not the password"


def attempt(client, email, password=WRONG, ip="203.0.113.7"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_ten_failures_for_an_address_then_429_whatever_the_password(client, issuer, still_clock):
    for n in range(10):
        assert attempt(client, "issuer@acme.test", ip=f"198.51.100.{n}").status_code == 422
    refused = attempt(client, "ISSUER@acme.test ", password=PASSWORD, ip="198.51.100.99")
    assert refused.status_code == 429
    # The next attempt is freed when the limiter's current window ends, so Retry-After
    # can be anything up to the 15-minute window.
    seconds = int(refused.headers["Retry-After"])
    assert 0 < seconds <= 900
    words = " ".join(refused.text.split())
    wait = re.search(r"Too many failed attempts to log in\. Wait (\d+) (minutes|seconds?)", words)
    assert wait, words
    said = int(wait.group(1)) * (60 if wait.group(2) == "minutes" else 1)
    assert seconds <= said < seconds + 60
    # Another address from the same addresses still logs in: the limit is the address's.
    create_user("other@acme.test", "Acme Academy", PASSWORD)
    assert attempt(client, "other@acme.test", PASSWORD, ip="198.51.100.1").status_code == 302


def test_thirty_failures_from_one_ip_then_429_for_every_address(client, issuer, still_clock):
    for n in range(30):
        assert attempt(client, f"guess{n}@acme.test").status_code == 422
    assert attempt(client, "issuer@acme.test", PASSWORD).status_code == 429
    assert attempt(client, "issuer@acme.test", PASSWORD, ip="192.0.2.1").status_code == 302


def test_strangers_cannot_lock_out_a_browser_that_logged_in_before(app, client, issuer,
                                                                   still_clock):
    owner = app.test_client()
    assert attempt(owner, "issuer@acme.test", PASSWORD, ip="192.0.2.10").status_code == 302
    owner.post("/logout")
    forged = app.test_client()  # a cookie of its own making is no device cookie
    forged.set_cookie("device", "eyJhZGRyZXNzIjoiaXNzdWVyQGFjbWUudGVzdCJ9.forged", path="/login")
    for n in range(10):
        stranger = forged if n % 2 else client
        assert attempt(stranger, "issuer@acme.test", ip=f"198.51.100.{n}").status_code == 422
    assert attempt(client, "issuer@acme.test", PASSWORD, ip="198.51.100.50").status_code == 429
    assert attempt(forged, "issuer@acme.test", PASSWORD, ip="198.51.100.51").status_code == 429
    # The browser that logged in before is not stopped by them...
    assert attempt(owner, "issuer@acme.test", PASSWORD, ip="192.0.2.10").status_code == 302
    owner.post("/logout")
    # ...and its own failures count on their own.
    for _ in range(10):
        assert attempt(owner, "issuer@acme.test", ip="192.0.2.10").status_code == 422
    assert attempt(owner, "issuer@acme.test", PASSWORD, ip="192.0.2.10").status_code == 429


def test_logins_that_work_do_not_count(client, issuer):
    for _ in range(12):
        assert attempt(client, "issuer@acme.test", PASSWORD).status_code == 302
        client.post("/logout")
    assert attempt(client, "issuer@acme.test", PASSWORD).status_code == 302


def test_unknown_addresses_get_the_same_answer_in_about_the_same_time(client, issuer,
                                                                     monkeypatch):
    hashes = []
    checked = models.user.check_password_hash
    monkeypatch.setattr(models.user, "check_password_hash",
                        lambda *args: hashes.append(args[0]) or checked(*args))

    def timed(email):
        start = time.perf_counter()
        response = attempt(client, email, ip=f"192.0.2.{len(email)}")
        return time.perf_counter() - start, response

    # Alternating, so that a burst of load elsewhere (a parallel test worker) falls on both.
    pairs = [(timed("issuer@acme.test"), timed("nobody@acme.test")) for _ in range(5)]
    known, unknown = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
    assert len(hashes) == 10 and len(set(hashes)) == 2  # a hash checked for each, a dummy one
    assert {r.status_code for _, r in known + unknown} == {422}
    def page(response, email):  # the page, but the address typed and the CSRF token
        return re.sub(r"[\w.-]{60,}", "token", response.text.replace(email, "X"))

    assert page(known[0][1], "issuer@acme.test") == page(unknown[0][1], "nobody@acme.test")
    # The password hash dominates both (a dummy hash for unknown addresses): without it an
    # unknown address answered in a hundredth of the time.
    ratio = statistics.median(t for t, _ in unknown) / statistics.median(t for t, _ in known)
    assert ratio > 0.3, ratio


def test_login_starts_a_fresh_session(client, issuer):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker before the login"
    assert Auth(client).login().status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session and session["_user_id"].startswith(f"{issuer.id}:")


def test_a_copied_cookie_stops_working_at_logout(app, client, issuer):
    Auth(client).login()
    stolen = client.get_cookie("session").value
    assert client.get("/credentials").status_code == 200
    elsewhere = app.test_client()
    elsewhere.set_cookie("session", stolen)
    assert elsewhere.get("/credentials").status_code == 200  # the copy works while logged in
    client.post("/logout")
    replay = elsewhere.get("/credentials")
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/login")
    Auth(client).login()  # a new login works, with a new cookie
    assert client.get("/credentials").status_code == 200
    assert elsewhere.get("/credentials").status_code == 302


@pytest.mark.parametrize("key", [
    "cmt_forged_0123456789abcdefghijklmnopqrstuv",  # the right shape, never issued
    "Basic dXNlcjpwYXNz", "", "x" * 5000,
])
def test_forged_keys_get_401(client, issuer, key):
    response = client.get("/api/v1/credentials", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401 and "API key" in response.json["error"]["message"]


def test_the_api_is_limited_per_key(app, api, still_clock):
    app.config["API_RATE_LIMIT"] = "5 per minute"
    for _ in range(5):
        assert api.get("/api/v1/credentials").status_code == 200
    refused = api.get("/api/v1/credentials")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 60
    assert refused.json["error"]["message"].startswith("Too many requests: try again in")


def test_the_api_limit_counts_the_key_however_its_header_is_spelled(app, client, issuer,
                                                                   still_clock):
    app.config["API_RATE_LIMIT"] = "5 per minute"
    _, key = ApiKey.issue(issuer)
    db.session.commit()
    spellings = [f"Bearer {key}", f"bearer {key}", f"bEaReR   {key}", f"Bearer {key}   ",
                 f"  BEARER {key}"]
    for spelling in spellings:
        assert client.get("/api/v1/credentials",
                          headers={"Authorization": spelling}).status_code == 200
    for spelling in spellings:  # no spelling gets a counter of its own
        assert client.get("/api/v1/webhooks",
                          headers={"Authorization": spelling}).status_code == 429


def test_wrong_keys_are_limited_per_ip(app, client, api, still_clock):
    app.config["API_BAD_KEY_RATE_LIMIT"] = "3 per minute"
    wrong = {"Authorization": "Bearer cmt_forged_0123456789abcdefghijklmnopqrstuv"}
    for _ in range(3):
        assert client.get("/api/v1/credentials", headers=wrong).status_code == 401
    refused = client.get("/api/v1/credentials", headers=wrong)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert client.get("/api/v1/webhooks").status_code == 429  # no key at all: the same
    assert api.get("/api/v1/credentials").status_code == 200  # a real key still works
    elsewhere = {"REMOTE_ADDR": "192.0.2.44"}
    assert client.get("/api/v1/credentials", headers=wrong,
                      environ_base=elsewhere).status_code == 401


def test_public_routes_are_limited_per_ip(app, client, still_clock):
    app.config["PUBLIC_RATE_LIMIT"] = "5 per minute"
    for _ in range(5):
        assert client.get("/t/unknown.gif").status_code == 200
    assert client.get("/t/unknown.gif").status_code == 429
    assert client.get("/r/unknown").status_code == 429
    other = {"REMOTE_ADDR": "192.0.2.44"}
    assert client.get("/t/unknown.gif", environ_base=other).status_code == 200


@pytest.fixture
def locked(app):
    """Another process holding SQLite's write lock (BEGIN IMMEDIATE) until released."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    yield holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()


def test_strangers_take_no_write_lock(app, client, issuer, locked):
    # While a writer holds the lock, what a stranger sends is answered at once: nothing of
    # it waits for the lock (a wait would end in "database is locked" and a 500).
    assert attempt(client, "issuer@acme.test").status_code == 422
    assert attempt(client, "nobody@acme.test").status_code == 422
    bad_key = client.post("/api/v1/credentials", json={},
                          headers={"Authorization": "Bearer cmt_wrong"})
    assert bad_key.status_code == 401
    assert client.get("/r/not-a-token").status_code == 404
    assert client.get("/t/not-a-token.gif").status_code == 200


def test_share_views_wait_for_no_lock_and_are_written_once_it_is_free(app, client, issuer):
    """The public page is a stranger's: its views are noted, not written in the request."""
    credential = issue(issuer, action="publish")
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for as long as it likes
    person = {"User-Agent": "Mozilla/5.0 Chrome/130.0", "Accept-Language": "en"}
    for _ in range(3):
        started = time.monotonic()
        assert client.get(f"/v/{credential.public_id}", headers=person).status_code == 200
        assert time.monotonic() - started < 5  # far less than the lock's 10 s wait
    holder.execute("ROLLBACK")
    holder.close()

    def shared():
        db.session.rollback()
        return db.session.get(Credential, credential.id).share_views

    wait_until(lambda: shared() == 3)
    assert [e.type for e in credential.events()].count("share_viewed") == 3


def test_opens_are_kept_when_their_write_fails(app, issuer, caplog):
    token = issue(issuer, action="publish").latest_message.token
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)  # another process, breaking writes
    other.execute("ALTER TABLE email_events RENAME TO email_events_away")
    opens.note_open(app, token, "Thunderbird")
    wait_until(lambda: "could not write the noted opens" in caplog.text)  # a write failed
    opens.note_open(app, token, "Outlook")
    other.execute("ALTER TABLE email_events_away RENAME TO email_events")
    other.close()

    def written():
        db.session.rollback()
        return db.session.scalars(sa.select(EmailEvent.data).where(
            EmailEvent.type == "opened").order_by(EmailEvent.id)).all()

    wait_until(lambda: len(written()) == 2)
    assert [data["agent"] for data in written()] == ["Thunderbird", "Outlook"]


def wait_until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.05)


def test_failed_logins_are_counted_across_processes_in_redis(tmp_path):
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis tests need TEST_REDIS_URL (see README, Test)")
    if WORKER:  # under xdist, a database number of this worker's own
        url = f"{url.rsplit('/', 1)[0]}/{1 + int(WORKER.removeprefix('gw'))}"
    redis.Redis.from_url(url).flushdb()
    # Two gunicorn workers: two apps on one database and one Redis.
    first, second = (make_app(tmp_path, RATELIMIT_STORAGE_URI=url) for _ in range(2))
    with first.app_context():
        create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    for n in range(10):
        app = (first, second)[n % 2]
        assert attempt(app.test_client(), "issuer@acme.test").status_code == 422
    assert attempt(second.test_client(), "issuer@acme.test", PASSWORD).status_code == 429
    assert attempt(first.test_client(), "issuer@acme.test", PASSWORD).status_code == 429
    assert limiter.storage.check()


@pytest.mark.slow
def test_a_login_flood_does_not_slow_issuing_or_sending(tmp_path, sink, capsys):
    # Limits high enough that every attempt costs a password hash, as from many addresses.
    app = make_app(tmp_path, MAIL_PORT=sink.port, LOGIN_RATE_LIMIT="100000 per minute",
                   LOGIN_IP_RATE_LIMIT="100000 per minute", QUEUE_INTERVAL_SECONDS=0.5)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        key = api_for(app.test_client(), user).headers["Authorization"]
    flood_codes, stop = [], threading.Event()
    with served_with_jobs(app) as server:
        host, port = urlsplit(server.url).hostname, urlsplit(server.url).port

        def flood(n):
            connection = http.client.HTTPConnection(host, port, timeout=30)
            while not stop.is_set():
                connection.request("POST", "/login", urlencode(
                    {"email": f"guess{n}@acme.test", "password": WRONG}),
                    {"Content-Type": "application/x-www-form-urlencoded"})
                response = connection.getresponse()
                response.read()
                flood_codes.append(response.status)

        attackers = [threading.Thread(target=flood, args=(n,)) for n in range(6)]
        for thread in attackers:
            thread.start()
        wait_until(lambda: len(flood_codes) >= 6, timeout=30)
        api, took, codes = http.client.HTTPConnection(host, port, timeout=60), [], []
        for n in range(20):
            start = time.perf_counter()
            api.request("POST", "/api/v1/credentials", json.dumps({
                "recipient_name": f"Person {n}", "recipient_email": f"p{n}@example.com",
                "group": "Course A", "action": "publish"}),
                {"Authorization": key, "Content-Type": "application/json"})
            response = api.getresponse()
            response.read()
            took.append(time.perf_counter() - start)
            codes.append(response.status)
        sink.wait_for(20, timeout=60)
        stop.set()
        for thread in attackers:
            thread.join(timeout=30)
    assert codes == [201] * 20
    assert set(flood_codes) == {422}, set(flood_codes)  # wrong passwords, never a 5xx
    assert len(set(sink.message_ids())) == 20
    with capsys.disabled():  # the figure for the closing note, not an assertion
        print(f"\n  API issue under a login flood: median {statistics.median(took) * 1000:.0f} "
              f"ms, max {max(took) * 1000:.0f} ms; {len(flood_codes)} failed logins")
