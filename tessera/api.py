"""Shared plumbing of the JSON API under /api/v1: errors in the contract's shape, input checks."""

from functools import cache
from importlib import resources

import yaml
from flask import Blueprint, Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from tessera.errors import InvalidInput, TesseraError
from tessera.extensions import csrf

API_PREFIX = "/api/"
blueprint = Blueprint("api", __name__)


@cache
def openapi_document() -> dict:
    """The contract of /api/v1, kept as readable YAML beside the code."""
    text = resources.files("tessera").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@blueprint.get("/api/v1/openapi.json")
def openapi():
    """The OpenAPI document of the public API."""
    return jsonify(openapi_document())


def error_response(status: int, code: str, message: str):
    """The contract's error body: {"error": {"code", "message"}} with a 4xx/5xx status."""
    return jsonify({"error": {"code": code, "message": message}}), status


def is_id(value) -> bool:
    """Whether a JSON value is a record id (an integer; JSON's true is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def json_object() -> dict:
    """The request's JSON body, which must be an object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(_("Send a JSON object with Content-Type: application/json."),
                           "invalid_json")
    return body


def public(view):
    """Mark a view that anyone may call without a session: it needs no CSRF token.

    Such views act on no signed-in identity (issuing a ticket, a visitor leaving
    with their unguessable token), so a forged cross-site request gains nothing.
    """
    view.public = True
    return view


def protect_from_csrf(app: Flask) -> None:
    """Check the CSRF token on every state-changing request made with a signed-in session.

    Bearer-token requests carry no cookie, so a browser cannot be tricked into
    sending them; public views act on no identity; the sign-in form checks its
    own token (Flask-WTF).
    """

    @app.before_request
    def check_csrf():
        if request.method in ("GET", "HEAD", "OPTIONS") or request.routing_exception:
            return  # reading changes nothing; a request that matched no route fails anyway
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return
        if not current_user.is_authenticated:
            return  # no identity to abuse; views that need one answer 401
        view = app.view_functions.get(request.endpoint)
        if getattr(view, "public", False):
            return
        csrf.protect()


def register_error_handlers(app: Flask) -> None:
    """Errors become the contract's JSON on API paths, and a plain page elsewhere."""

    @app.errorhandler(TesseraError)
    def domain_error(error: TesseraError):
        if not request.path.startswith(API_PREFIX):
            return render_template("error.html", message=error.message), error.status
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not request.path.startswith(API_PREFIX):
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, code, error.description or error.name)
