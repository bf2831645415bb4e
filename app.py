"""Application factory: the settings (configuration.py), extensions, blueprints, CLI."""

import os
from pathlib import Path

import click
from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

import branding
import cli
import headers
import jobs
import languages
from configuration import ConfigError, check_settings, config_from_env
from extensions import csrf, htmx, limiter, login_manager, mail, migrate
from mailer import catcher
from models import User, db, search, write_lock
from team import roles
from typos import suggest_address


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with JSON nested too deeply to parse refused like any other bad JSON
    (ValueError: get_json answers 400, or None when silent) instead of a RecursionError."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None


def create_app(test_config=None):
    """Build the app; test_config overrides the environment."""
    app = Flask(__name__, instance_relative_config=True)
    app.json = JSONProvider(app)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(config_from_env(app.instance_path))
    if test_config:
        app.config.update(test_config)
    check_settings(app.config)
    # The development catcher stands in for a mail server only when asked (make run): a
    # production process with no MAIL_SERVER must not start and quietly catch all mail.
    if app.config["MAIL_SERVER"]:
        app.config["DEV_MAIL_CATCHER"] = False
    elif app.config["DEV_MAIL_CATCHER"]:
        app.config["MAIL_SERVER"] = "127.0.0.1"
    else:
        raise ConfigError(
            "MAIL_SERVER is not set. Set MAIL_SERVER (with MAIL_PORT, MAIL_USE_TLS, "
            "MAIL_USERNAME and MAIL_PASSWORD as your mail server needs) to send real mail, or "
            "DEV_MAIL_CATCHER=1 to catch all mail locally for development (make run sets it).")

    db.init_app(app)
    with app.app_context():
        search.warn_if_unindexed(db.engine)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"),
                    render_as_batch=True, compare_type=True)
    # Before the CSRF check, which reads the body: the upload route's larger limit.
    app.before_request(_body_limit)
    csrf.init_app(app)
    htmx.init_app(app)
    mail.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    languages.init_app(app)
    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    headers.init_app(app)

    app.jinja_env.globals["suggest_address"] = suggest_address

    login_manager.user_loader(User.from_session_id)

    from views import (
        access,
        analytics,
        api,
        api_groups,
        api_people,
        api_sender,
        api_webhooks,
        apikeys,
        audit_log,
        auth,
        brand,
        bulk,
        corrections,
        credentials,
        email_template,
        errors,
        export,
        groups,
        health,
        help,
        imports,
        issuing,
        openbadges,
        outbox,
        passwords,
        people,
        provider_events,
        settings,
        sso,
        tracking,
        unsubscribe,
        webhook_settings,
    )

    for module in (errors, auth, credentials, corrections, bulk, export, issuing, imports, help,
                   api, api_webhooks, tracking, outbox, settings, provider_events, health,
                   apikeys, webhook_settings, analytics, openbadges, groups, email_template,
                   api_groups, brand, people, passwords, audit_log, api_people, sso, unsubscribe,
                   api_sender):
        app.register_blueprint(module.bp)
    # Areas that authenticate each request themselves, not with the session's cookie: the API
    # with bearer keys, provider events with their providers' signatures, unsubscribes with
    # their signed links. No CSRF token; the API locks once a key is checked, the others
    # write in transactions of their own after their checks.
    self_authenticated = {api.bp.name, api_webhooks.bp.name, api_groups.bp.name,
                          api_people.bp.name, api_sender.bp.name, provider_events.bp.name,
                          unsubscribe.bp.name}
    for name in self_authenticated:
        csrf.exempt(app.blueprints[name])

    app.before_request(access.check)  # who may use each route: one table, for every request
    app.jinja_env.globals["can"] = roles.can

    @app.before_request
    def take_write_lock_for_changes():
        # An issuer's change reads, then writes: on SQLite, lock first so it cannot fail
        # half-way. Only once logged in: a stranger's request (a login attempt, a forged
        # form) must not queue behind writers or make them wait.
        if (request.method not in ("GET", "HEAD", "OPTIONS")
                and request.blueprint not in self_authenticated
                and current_user.is_authenticated):
            db.session.rollback()  # end the read that loaded the user; begin with the lock
            write_lock()

    sso.init_app(app)
    cli.register(app)
    if _runs_background_services(app):
        _start_background_services(app)
    return app


LOGO_UPLOADS = {"settings.brand", "api_groups.organization_logo", "groups.edit"}


def _body_limit():
    """The spreadsheet upload may be as large as IMPORT_MAX_BYTES and its form around it."""
    if request.endpoint == "imports.upload":
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"] + (1 << 20)
    elif request.endpoint in LOGO_UPLOADS:
        # Room to say "at most 1 MB" of a larger logo, rather than answer 413.
        request.max_content_length = 4 * branding.LOGO_MAX_BYTES + (64 << 10)


def _runs_background_services(app):
    """Only the web process runs the scheduler: not tests, not other CLI commands, not the
    reloader's watching parent."""
    if not app.config["SCHEDULER_ENABLED"] or app.testing:
        return False
    context = click.get_current_context(silent=True)
    if context is None:
        return True  # imported by a WSGI server
    if context.info_name != "run":
        return False
    return not context.params.get("reload") or os.environ.get("WERKZEUG_RUN_MAIN") == "true"


def _start_background_services(app):
    """The queue scheduler and, without MAIL_SERVER, the development mail catcher."""
    if app.config.get("DEV_MAIL_CATCHER"):
        try:
            app.extensions["catcher"] = catcher.start(app)
            app.logger.warning("Development mail catcher on 127.0.0.1:%s; caught mail is at "
                               "/outbox", app.config["MAIL_PORT"])
        except OSError as error:
            app.logger.warning("No mail catcher (port %s busy?): %s", app.config["MAIL_PORT"],
                               error)
    jobs.start(app)
