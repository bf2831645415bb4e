"""The app factory and its configuration from the environment."""

import pytest
from conftest import make_app

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


def test_defaults_use_sqlite_and_the_development_catcher(monkeypatch):
    for name in ("DATABASE_URL", "SECRET_KEY", "MAIL_SERVER", "MAIL_PORT"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert (app.config["MAIL_SERVER"], app.config["MAIL_PORT"]) == ("127.0.0.1", 1025)
    assert app.config["DEV_MAIL_CATCHER"] is True
    # The generated secret key is kept, so sessions survive a restart.
    assert len(app.config["SECRET_KEY"]) == 64
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]


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
