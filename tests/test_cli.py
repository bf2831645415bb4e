"""CLI: users create, apikeys create, demo."""

import hashlib

import sqlalchemy as sa

from models import ApiKey, Credential, User, db
from models.status import EmailStatus


def test_users_create_and_apikeys_create(runner, client):
    result = runner.invoke(args=["users", "create", "Ann@Acme.test", "--org", "Acme",
                                 "--password", "long enough"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User))
    assert user.email == "ann@acme.test" and user.org.name == "Acme"
    assert user.password_hash != "long enough" and user.check_password("long enough")

    result = runner.invoke(args=["apikeys", "create", "ann@acme.test"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    # Only a digest of the key is stored, never the key itself.
    stored = [k.key_hash for k in db.session.scalars(sa.select(ApiKey))]
    assert key.startswith("cmt_") and stored == [hashlib.sha256(key.encode()).hexdigest()]
    response = client.get("/api/v1/email-statuses", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_users_create_refuses_bad_input(runner):
    cases = [
        ["users", "create", "not-an-address", "--org", "A", "--password", "long enough"],
        ["users", "create", "a@acme.test", "--org", "A", "--password", "short"],
        ["users", "create", "a@acme.test", "--org", "", "--password", "long enough"],
        ["users", "create", "a@acme.test", "--org", "A\nB", "--password", "long enough"],
    ]
    for args in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "Error" in result.output, args
    runner.invoke(args=["users", "create", "a@acme.test", "--org", "A", "--password", "12345678"])
    again = runner.invoke(args=["users", "create", "a@acme.test", "--org", "A",
                                "--password", "12345678"])
    assert again.exit_code != 0 and "exists already" in again.output
    assert runner.invoke(args=["apikeys", "create", "nobody@acme.test"]).exit_code != 0


def test_demo_creates_every_status_once_in_development_only(app, runner, client):
    refused = runner.invoke(args=["demo"])  # a deployment with a real mail server
    assert refused.exit_code != 0 and "development only" in refused.output
    assert db.session.scalar(sa.select(sa.func.count(Credential.id))) == 0
    app.config["DEV_MAIL_CATCHER"] = True
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0 and "demo@example.com" in result.output
    statuses = {c.email_status for c in db.session.scalars(sa.select(Credential))}
    assert statuses == {s.value for s in EmailStatus}
    response = client.post("/login", data={"email": "demo@example.com",
                                           "password": "demo-issuer"})
    assert response.status_code == 302
    count = db.session.scalar(sa.select(sa.func.count(Credential.id)))
    assert "exists already" in runner.invoke(args=["demo"]).output
    assert db.session.scalar(sa.select(sa.func.count(Credential.id))) == count
