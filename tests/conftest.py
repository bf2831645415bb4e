"""Fixtures: an app per test on a fresh SQLite file (or PostgreSQL), clients and helpers."""

import base64
import contextvars
import functools
import hashlib
import itertools
import os
import re
import time
from datetime import timedelta

import jinja2
import psycopg
import psycopg.sql
import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

import issuing
import models.user
from accounts import create_user
from app import create_app
from models import ApiKey, Credential, CredentialGroup, EmailEvent, EmailMessage, StatusCount, db
from models.status import email_status
from models.status_count import sync_statuses
from models.types import utcnow
from timeline.webhooks import announce_test

PASSWORD = "correct horse battery"


def _fixture_password_hashed_once(function):
    """The password hash function, its answer for the fixtures' PASSWORD worked out once per
    process and given again: scrypt costs 0.1 s and 32 MB a call, paid for the issuer of
    nearly every test and again at each login. The answer is the function's own (a salted
    hash, and whether a hash matches), and every other password (a wrong one, a new one, the
    timing test's) is hashed and checked for real on every call."""
    answers = {}

    @functools.wraps(function)
    def hashed(*args, **kwargs):
        if PASSWORD not in args or kwargs:
            return function(*args, **kwargs)
        if args not in answers:
            answers[args] = function(*args)
        return answers[args]

    return hashed


models.user.generate_password_hash = _fixture_password_hashed_once(
    models.user.generate_password_hash)
models.user.check_password_hash = _fixture_password_hashed_once(models.user.check_password_hash)


class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates kept in memory for every app of the test process: an app
    per test compiled each template it rendered again (0.1 s for a page). Jinja compiles a
    template again whenever its source's checksum differs from the kept one's."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


# The pytest-xdist worker running this process ("gw0", "gw1", …), or "" without xdist.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def pytest_collection_modifyitems(items):
    """The slow tests run first, those marked slow(first=True) (a minute or more) before
    the others; the order is otherwise the collection's. Under xdist a worker that runs out
    takes tests from the end of another's queue, so the run ends on quick tests rather than
    on one worker waiting a minute for a long test that started last."""
    def order(item):
        slow = item.get_closest_marker("slow")
        return slow is None, not (slow and slow.kwargs.get("first"))

    items.sort(key=order)


@functools.cache
def postgres_url():
    """TEST_DATABASE_URL, or under xdist a database of this worker's own on its server
    (made once), so that workers never empty each other's tables."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (see README, Test)")
    if WORKER:
        name = f"test_{WORKER}"
        with psycopg.connect(url, autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 (name,)).fetchone():
                admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(
                    psycopg.sql.Identifier(name)))
        url = make_url(url).set(database=name).render_as_string(hide_password=False)
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _database_url(kind, tmp_path):
    if kind == "postgres":
        return postgres_url()
    return f"sqlite:///{tmp_path / 'test.db'}"


class RequestClient(FlaskClient):
    """A test client whose requests run as in production: each in an app context (and so a
    database session) of its own, never in the test's; the response is read in full there,
    after the request ended, as a server would stream it."""

    def open(self, *args, buffered=True, **kwargs):
        if has_app_context():
            # The test's own session ends its transaction, as nothing in production holds
            # one across requests: the request sees what the test wrote, and the test's
            # next read sees what the request wrote.
            db.session.commit()
        return contextvars.Context().run(super().open, *args, buffered=buffered, **kwargs)


@pytest.fixture
def still_clock(monkeypatch):
    """Stop the clock for a rate-limit test: the limiter's windows are aligned to it, and a
    test crossing a window's end would see the older window's hits weigh less (a hit freed)."""
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)


def empty_postgres():
    """Empties PostgreSQL's public schema, tables an older or newer tree left there included."""
    with db.engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
        # The search's extension outside public, so that emptying it keeps the extension
        # (installing it again for every test cost 0.2 s); models.search finds it there.
        connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA pg_catalog"))


def make_app(tmp_path, kind="sqlite", **config):
    """A configured app whose database has empty tables."""
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": _database_url(kind, tmp_path),
        "WTF_CSRF_ENABLED": False,
        "SCHEDULER_ENABLED": False,
        "MAIL_DEFAULT_SENDER": "credentials@issuer.test",
        "MAIL_SERVER": "127.0.0.1",  # a "real" server; tests that send start one
        "IMPORT_FOLDER": str(tmp_path / "imports"),
        **config,
    })
    app.test_client_class = RequestClient
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    with app.app_context():
        if kind == "postgres":
            empty_postgres()
        db.create_all()
    return app


@pytest.fixture(params=["sqlite"])
def app(request, tmp_path):
    """The app on SQLite; parametrize indirectly with "postgres" to run on PostgreSQL too."""
    app = make_app(tmp_path, request.param)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def sink():
    """A real SMTP server on loopback (tests/smtp_server.py), programmed by the test."""
    from smtp_server import Sink

    server = Sink().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite"])
def mail_app(request, tmp_path, sink):
    """An app sending to the sink, in its app context (test_queue has its own, stricter);
    parametrize indirectly with "postgres" to run on PostgreSQL too."""
    app = make_app(tmp_path, request.param, MAIL_PORT=sink.port, SMTP_TIMEOUT_SECONDS=5)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def issuer(app):
    """An issuer of the organization "Acme Academy"."""
    return create_user("issuer@acme.test", "Acme Academy", PASSWORD)


@pytest.fixture
def rival(app):
    """An issuer of another organization, whose data the first must never see."""
    return create_user("issuer@rival.test", "Rival Institute", PASSWORD)


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, email="issuer@acme.test", password=PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password})


@pytest.fixture
def auth(client, issuer):
    """Login helper; the issuer exists already."""
    return Auth(client)


@pytest.fixture
def logged_in(auth, client):
    """A client logged in as the issuer."""
    auth.login()
    return client


class Api:
    """A JSON client with a bearer key of one user."""

    def __init__(self, client, key):
        self.client, self.headers = client, {"Authorization": f"Bearer {key}"}

    def __getattr__(self, method):
        def call(path, **kwargs):
            return getattr(self.client, method)(path, headers=self.headers, **kwargs)
        return call


def api_for(client, user):
    _, key = ApiKey.issue(user)
    db.session.commit()
    return Api(client, key)


@pytest.fixture
def api(client, issuer):
    return api_for(client, issuer)


def statuses_on_page(html):
    """The data-email-status of each recipient row, top to bottom."""
    return re.findall(r'<tr id="credential-\d+" data-email-status="(\w+)"', html)


def issue(user, name="Jane Doe", email="jane@example.com", action="draft", group="Course A",
          send_email=True, scheduled_at=None):
    """Issue one credential for the user's organization through the issuing service,
    committed."""
    new = issuing.NewCredential(name, email, group, action, scheduled_at, send_email)
    (credential_id,) = issuing.issue_new(db.session.connection(), user.org_id, user.id,
                                         [new])
    db.session.commit()
    return db.session.get(Credential, credential_id)


def mark_latest(credential, state, opened=False, bounce_kind="hard", code="mailbox_unknown"):
    """Put the latest message in a queue state (bounced with a reason code; opened), as
    the mail pipeline would, with the stored status re-derived; committed."""
    message = credential.latest_message
    message.state = state
    if state == "bounced":
        message.bounce_kind, message.bounce_code = bounce_kind, code
    if opened:
        message.opened_at = utcnow()
    db.session.flush()
    sync_statuses(db.session.connection(), [credential.id])
    db.session.commit()
    return credential


def derived_status(credential):
    """The one rule applied to the credential as it stands (models.status.email_status)."""
    latest = credential.latest_message
    return email_status(bool(credential.recipient_email), latest.state if latest else None,
                        bool(latest and latest.opened_at))


def recount_statuses(org_id):
    """Count the organization's stored statuses again from the credentials."""
    db.session.execute(sa.delete(StatusCount).where(StatusCount.org_id == org_id))
    db.session.execute(sa.insert(StatusCount).from_select(
        ["org_id", "status", "n"],
        sa.select(Credential.org_id, Credential.email_status, sa.func.count())
        .where(Credential.org_id == org_id)
        .group_by(Credential.org_id, Credential.email_status)))


def new_group(org_id, name):
    """A group of the organization with no credential yet (to be committed)."""
    group = CredentialGroup(org_id=org_id, name=name)
    db.session.add(group)
    return group


def queue_test(endpoint):
    """A test event for the endpoint, as Settings → Webhooks queues it (to be committed)."""
    announce_test(db.session.connection(), endpoint.id)


def ago(minutes):
    """The time that many minutes ago (negative: ahead)."""
    return utcnow() - timedelta(minutes=minutes)


_ADDRESSES = (f"r{n}@example.com" for n in itertools.count())


def message_with(user, **columns):
    """A published credential's queued message with these columns set (state, times);
    committed. Returns the message."""
    credential = issue(user, email=next(_ADDRESSES), action="publish")
    row = credential.latest_message
    if columns:
        db.session.execute(sa.update(EmailMessage).where(EmailMessage.id == row.id)
                           .values(**columns))
        db.session.commit()
    return row


def add_event(row, kind, at, reply, **data):
    """A timeline event of the message with the mail server's reply, as the queue or a
    bounce report writes it; committed."""
    db.session.execute(sa.insert(EmailEvent).values(
        credential_id=row.credential_id, email_message_id=row.id, type=kind, at=at,
        data={"reply": reply, **data}))
    db.session.commit()


# Configured senders (MAIL_DEFAULT_SENDER), the organization's name, and the From line
# the mail server must receive.
SENDER_CASES = [
    pytest.param("certificates@acme.example", "Acme Academy",
                 b"From: Acme Academy <certificates@acme.example>", id="bare"),
    pytest.param("Acme Academy <certificates@acme.example>", "Acme Academy",
                 b"From: Acme Academy <certificates@acme.example>", id="display-name"),
    pytest.param('"Acme, Inc." <certificates@acme.example>', "Acme, Inc.",
                 b'From: "Acme, Inc." <certificates@acme.example>', id="quoted-comma"),
    pytest.param("Académie Zoë <certificates@acme.example>", "Académie Zoë",
                 b"From: =?utf-8?b?" + base64.b64encode("Académie Zoë".encode()) +
                 b"?= <certificates@acme.example>",
                 id="non-ascii"),
]


def assert_sender_parts(raw, from_line):
    """The raw headers carry the From line, the Reply-To address and one Message-ID in the
    sender's domain, each exactly as sent (no parser to repair them)."""
    headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert from_line in headers
    assert b"Reply-To: office@acme.example" in headers
    ids = [header for header in headers if header.lower().startswith(b"message-id:")]
    assert len(ids) == 1
    assert re.fullmatch(rb"Message-ID: <[^<>@\s]+@acme\.example>", ids[0]), ids[0]


@pytest.fixture(scope="session")
def dovecot():
    """A real Dovecot IMAP server for the session (tests/imap_server.py)."""
    from imap_server import Dovecot, unavailable

    why = unavailable()
    if why:
        pytest.skip(why)
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def imap_user(request):
    """A mailbox of this test's own on the session's Dovecot."""
    return "u" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]


@pytest.fixture
def site(tmp_path, sink, dns_server):
    """(app, logged-in client, issuer) sending to the sink, asking the local DNS server
    (the sender domain tests)."""
    app = make_app(tmp_path, MAIL_PORT=sink.port, DNS_RESOLVER=dns_server.address,
                   DNS_TIMEOUT_SECONDS=5)
    with app.app_context():
        user = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
        client = app.test_client()
        Auth(client).login()
        yield app, client, user
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def dns_server():
    """A real DNS server on loopback answering TXT queries (mailer/dev_dns.py)."""
    from mailer.dev_dns import DnsServer

    server = DnsServer().start()
    yield server
    server.stop()
