"""The app factory and its configuration from the environment."""

import multiprocessing

import pytest
from conftest import make_app

import configuration
from app import ConfigError, create_app


def test_environment_is_read(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example:5432/x")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.com")
    monkeypatch.setenv("MAIL_USE_TLS", "1")
    monkeypatch.setenv("SCHEDULER_ENABLED", "0")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://credentials.example.com/")
    monkeypatch.setenv("RETRY_BASE_SECONDS", "2.5")
    monkeypatch.setenv("MAX_ATTEMPTS", "3")
    config = create_app().config
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example:5432/x"
    assert config["SECRET_KEY"] == "from-env"
    assert (config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_USE_TLS"]) == (
        "smtp.example.com", 25, True)
    assert config["SCHEDULER_ENABLED"] is False
    assert config["PUBLIC_BASE_URL"] == "https://credentials.example.com"
    assert (config["RETRY_BASE_SECONDS"], config["MAX_ATTEMPTS"]) == (2.5, 3)
    assert not config.get("DEV_MAIL_CATCHER")


def test_without_a_mail_server_it_refuses_to_start_unless_in_development(monkeypatch):
    for name in ("DATABASE_URL", "SECRET_KEY", "MAIL_SERVER", "MAIL_PORT", "DEV_MAIL_CATCHER"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="MAIL_SERVER is not set.*DEV_MAIL_CATCHER=1"):
        create_app()
    monkeypatch.setenv("DEV_MAIL_CATCHER", "1")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.com")  # a real server: no catcher
    assert create_app().config["DEV_MAIL_CATCHER"] is False
    monkeypatch.delenv("MAIL_SERVER")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert (app.config["MAIL_SERVER"], app.config["MAIL_PORT"]) == ("127.0.0.1", 1025)
    assert app.config["DEV_MAIL_CATCHER"] is True
    # The generated secret key is kept, so sessions survive a restart.
    assert len(app.config["SECRET_KEY"]) == 64
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]


def _key_after(barrier, folder):
    barrier.wait(timeout=30)
    return configuration._secret_key(folder)


def test_processes_starting_together_share_one_private_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        barrier = manager.Barrier(8)
        with context.Pool(8) as pool:
            keys = pool.starmap(_key_after, [(barrier, str(tmp_path))] * 8)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert [path.name for path in tmp_path.iterdir()] == ["secret_key"]  # no spare left
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_test_config_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("SCHEDULER_ENABLED", "1")  # the environment says otherwise
    monkeypatch.setenv("MAIL_DEFAULT_SENDER", "env@example.com")
    app = make_app(tmp_path)
    assert app.config["TESTING"] is True
    assert app.config["SCHEDULER_ENABLED"] is False
    assert app.config["MAIL_DEFAULT_SENDER"] == "credentials@issuer.test"


@pytest.mark.parametrize("configured", [
    "Acme Academy", "Acme Academy <certificates>", "a@acme.example, b@acme.example", "",
    "Acme\r\nBcc: x@evil.example <a@acme.example>",
])
def test_a_sender_without_one_valid_address_stops_the_start(tmp_path, configured):
    with pytest.raises(ConfigError, match=r"MAIL_DEFAULT_SENDER: .* Write it as "
                                          r"certificates@acme\.example or"):
        make_app(tmp_path, MAIL_DEFAULT_SENDER=configured)
