"""Errors as DESIGN.md's JSON body under /api/, the usual pages elsewhere."""

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

bp = Blueprint("errors", __name__)


class ApiError(Exception):
    """An error answered as DESIGN.md's JSON error body."""

    def __init__(self, status, message, fields=None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def json_error(status, message, fields=None):
    """{"error": {"message", "fields"}} with the status."""
    return jsonify({"error": {"message": message, "fields": fields or {}}}), status


def wants_json():
    """True for a request to the JSON API."""
    return request.path.startswith("/api/")


@bp.app_errorhandler(ApiError)
def api_error(error):
    return json_error(error.status, error.message, error.fields)


@bp.app_errorhandler(HTTPException)
def http_error(error):
    """JSON errors under /api/, the usual pages elsewhere."""
    return json_error(error.code, error.description) if wants_json() else error
