"""Helpers for the browser tests: a live server thread and Debian's Chromium."""

import os
import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def closing(app):
    """The app, with each response closed however its sending ends: werkzeug's development
    server leaves a file response open when the browser drops the connection mid-way (a
    page left while app.js loads), and the test run turns that ResourceWarning into an
    error."""
    def serve(environ, start_response):
        response = app(environ, start_response)
        try:
            yield from response
        finally:
            if hasattr(response, "close"):
                response.close()
    return serve


class LiveServer:
    """The app served on a free loopback port from a background thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, closing(app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=10)


def chromium(playwright):
    """Launch Debian's Chromium, or skip saying how to get it."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Browser tests need Debian's Chromium: sudo apt-get install -y chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(page, server, email="issuer@acme.test"):
    """Log in through the login form, as an issuer would."""
    from conftest import PASSWORD

    page.goto(server.url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@contextmanager
def served_with_jobs(app):
    """The app live on loopback, its mail and import jobs run by APScheduler as in make run."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from jobs import add_jobs

    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, app)
    scheduler.start()
    try:
        with LiveServer(app) as server:
            yield server
    finally:
        scheduler.shutdown()


REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => window.cspViolation({
  directive: event.violatedDirective, blocked: event.blockedURI, sample: event.sample,
  source: event.sourceFile, line: event.lineNumber, page: location.href}));
"""


class Watch:
    """What went wrong in the browser: policy violations and console errors, all frames."""

    def __init__(self, context, page):
        self.violations, self.errors = [], []
        context.expose_binding("cspViolation", lambda source, found: self.violations.append(found))
        context.add_init_script(REPORT_VIOLATIONS)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def assert_clean(self, where):
        assert self.violations == [], where
        assert self.errors == [], where
