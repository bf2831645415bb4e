"""The public rate limit on the tracking image, counted apart from Flask-Limiter's own check,
and the memory storage the limits are kept in."""

import threading
import time

import limits
from conftest import issue, mark_latest
from limits.strategies import SlidingWindowCounterRateLimiter

from extensions import SweptMemoryStorage, limiter
from models import db
from tracking import opens

STRANGER = {"REMOTE_ADDR": "203.0.113.9"}
BROWSER = {"User-Agent": "Mozilla/5.0 Chrome/130", "Accept-Language": "en"}


def test_the_image_shares_the_public_limit_and_is_refused_past_it(app, client, issuer,
                                                                  still_clock):
    app.config["PUBLIC_RATE_LIMIT"] = "5 per minute"
    message = mark_latest(issue(issuer, action="publish"), "sent").latest_message
    token = message.token
    for _ in range(3):
        assert client.get(f"/t/{token}.gif", headers=BROWSER,
                          environ_base=STRANGER).status_code == 200
    for _ in range(2):  # the link and the image count together
        assert client.get("/r/unknown", environ_base=STRANGER).status_code == 404
    refused = client.get(f"/t/{token}.gif", headers=BROWSER, environ_base=STRANGER)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 61  # the window's end, rounded up
    assert refused.text.startswith("Too many requests: try again in")
    assert client.get("/v/unknown", environ_base=STRANGER).status_code == 429  # and the pages
    opens.recorder(app).flush()
    db.session.refresh(message)
    assert message.open_count == 3  # the refused one was not noted
    other = {"REMOTE_ADDR": "192.0.2.45"}
    assert client.get(f"/t/{token}.gif", environ_base=other).status_code == 200


def test_the_app_keeps_limits_in_the_swept_memory_storage(app):
    assert isinstance(limiter.storage, SweptMemoryStorage)


def test_hits_start_no_thread(monkeypatch):
    storage = SweptMemoryStorage()
    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start",
                        lambda thread: started.append(thread.name) or start(thread))
    counter, item = SlidingWindowCounterRateLimiter(storage), limits.parse("100 per minute")
    for _ in range(10):  # limits' own storage starts a timer thread after each of these
        assert counter.hit(item, "203.0.113.9", "public")
        time.sleep(0.02)
    assert started == []


def test_expired_counters_are_dropped_from_memory(monkeypatch):
    monkeypatch.setattr(SweptMemoryStorage, "SWEEP_SECONDS", 0.05)
    storage = SweptMemoryStorage()
    storage.incr("gone", expiry=0.1)
    storage.incr("kept", expiry=60)
    deadline = time.monotonic() + 5
    while "gone" in storage.storage:  # the counters themselves, not read through get()
        assert time.monotonic() < deadline, "not dropped within the deadline"
        time.sleep(0.05)
    assert storage.storage["kept"] == 1
