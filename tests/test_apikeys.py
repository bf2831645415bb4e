"""API keys: listed and revoked from the CLI and Settings, their last use noted."""

import re
from datetime import timedelta

import sqlalchemy as sa
from conftest import Api, Auth

from models import ApiKey, db
from models.types import utcnow


def new_key(runner, email="issuer@acme.test"):
    result = runner.invoke(args=["apikeys", "create", email])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_list_and_revoke_from_the_cli(runner, client, issuer, rival):
    first, second = new_key(runner), new_key(runner)
    new_key(runner, "issuer@rival.test")
    Api(client, first).get("/api/v1/credentials")
    listed = runner.invoke(args=["apikeys", "list", "issuer@acme.test"]).output
    lines = listed.strip().splitlines()
    assert len(lines) == 2 and all(line.endswith("active") for line in lines)
    assert lines[0].startswith(first[:12] + "…") and lines[1].startswith(second[:12] + "…")
    assert re.search(r"last used \d{4}-\d\d-\d\d \d\d:\d\d UTC", lines[0])
    assert "last used never" in lines[1]
    assert first[12:] not in listed  # never more than the prefix

    revoked = runner.invoke(args=["apikeys", "revoke", first[:12] + "…"])
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    assert Api(client, first).get("/api/v1/credentials").status_code == 401
    assert Api(client, second).get("/api/v1/credentials").status_code == 200
    assert "revoked" in runner.invoke(args=["apikeys", "list", "issuer@acme.test"]).output
    unknown = runner.invoke(args=["apikeys", "revoke", "cmt_nothing"])
    assert unknown.exit_code != 0 and "apikeys list" in unknown.output


def test_last_use_is_written_at_most_once_a_minute(runner, client, issuer):
    key = new_key(runner)
    api = Api(client, key)
    api.get("/api/v1/credentials")
    row = db.session.scalar(sa.select(ApiKey))
    first = row.last_used_at
    assert first is not None and utcnow() - first < timedelta(seconds=30)
    api.get("/api/v1/credentials")
    db.session.refresh(row)
    assert row.last_used_at == first  # within the minute: not written again
    row.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    api.post("/api/v1/credentials", json={"recipient_name": "A", "recipient_email": None,
                                          "group": "G", "action": "draft"})
    db.session.refresh(row)
    assert row.last_used_at > first


def test_settings_create_show_once_and_revoke_within_the_organization(app, client, issuer,
                                                                       rival, runner):
    theirs = new_key(runner, "issuer@rival.test")
    Auth(client).login()
    created = client.post("/settings/api-keys/")
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    key = re.search(r'<pre id="new-key">(cmt_[\w-]+)</pre>', created.text).group(1)
    assert Api(client, key).get("/api/v1/credentials").status_code == 200
    page = client.get("/settings/api-keys/").text
    assert key[:12] + "…" in page and key not in page  # shown once, then only its prefix
    assert theirs[:12] not in page  # another organization's keys are not listed

    ours = db.session.scalar(sa.select(ApiKey).where(ApiKey.prefix == key[:12]))
    other = db.session.scalar(sa.select(ApiKey).where(ApiKey.prefix == theirs[:12]))
    assert client.post(f"/settings/api-keys/{other.id}/revoke").status_code == 404
    assert Api(client, theirs).get("/api/v1/credentials").status_code == 200
    revoked = client.post(f"/settings/api-keys/{ours.id}/revoke", follow_redirects=True)
    assert f"Key {key[:12]}… revoked" in revoked.text
    assert Api(client, key).get("/api/v1/credentials").status_code == 401
    assert 'href="/settings/api-keys/"' in client.get("/settings/").text


def test_api_keys_page_needs_a_login(client):
    assert client.get("/settings/api-keys/").status_code == 302
    assert client.post("/settings/api-keys/").status_code == 302
