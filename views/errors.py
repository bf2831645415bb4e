"""Errors as DESIGN.md's JSON body under /api/, the usual pages elsewhere."""

import math
import time

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from extensions import limiter
from forms import LoginForm
from models.words import ROLE_WORDS

bp = Blueprint("errors", __name__)


class ApiError(Exception):
    """An error answered as DESIGN.md's JSON error body."""

    def __init__(self, status, message, fields=None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def json_object():
    """The request's JSON body, which must be an object, or a 400 saying so."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return data


def json_error(status, message, fields=None):
    """{"error": {"message", "fields"}} with the status."""
    return jsonify({"error": {"message": message, "fields": fields or {}}}), status


def wants_json():
    """True for a request to the JSON API."""
    return request.path.startswith("/api/")


@bp.app_errorhandler(ApiError)
def api_error(error):
    return json_error(error.status, error.message, error.fields)


@bp.app_errorhandler(403)
def forbidden(error):
    """A role that may not use the route: what it needs, as JSON or a page."""
    needed = g.get("refused_role")
    if needed is None:  # a route without a rule, or a 403 of the route's own
        return http_error(error)
    if wants_json():
        return json_error(403, f"Your role may not do this: it needs {needed}.")
    return render_template("forbidden.html", needed=needed, words=ROLE_WORDS), 403


@bp.app_errorhandler(HTTPException)
def http_error(error):
    """JSON errors under /api/, the usual pages elsewhere."""
    return json_error(error.code, error.description) if wants_json() else error


@bp.app_errorhandler(RateLimitExceeded)
def too_many_requests(error):
    """429 saying when to try again: on the login page, as JSON under /api/, else text."""
    limit = limiter.current_limit
    seconds = max(1, math.ceil(limit.reset_at - time.time())) if limit else 60
    minutes = math.ceil(seconds / 60)
    wait = f"{minutes} minute{'s' if minutes > 1 else ''}" if seconds > 60 else \
        f"{seconds} second{'s' if seconds > 1 else ''}"
    headers = {"Retry-After": str(seconds)}
    if wants_json():
        body, status = json_error(429, f"Too many requests: try again in {wait}.")
        return body, status, headers
    if request.endpoint == "auth.login":
        return render_template("auth/login.html", form=LoginForm(), too_many=wait,
                               sso_name=None), 429, headers
    if request.endpoint == "settings.check_sender_domain":
        flash(f"Checked several times just now: DNS changes take a while to show. "
              f"Check again in {wait}.")
        return redirect(url_for("settings.index", _anchor="sender-domain"))
    return f"Too many requests: try again in {wait}.\n", 429, {
        **headers, "Content-Type": "text/plain; charset=utf-8"}
