"""Errors become the contract's JSON on API paths, and a plain page elsewhere."""

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from tessera.errors import TesseraError

API_PREFIX = "/api/"


def error_response(status: int, code: str, message: str):
    """The contract's error body: {"error": {"code", "message"}} with a 4xx/5xx status."""
    return jsonify({"error": {"code": code, "message": message}}), status


def register_error_handlers(app: Flask) -> None:
    """Errors become the contract's JSON on API paths, and a plain page elsewhere."""

    @app.errorhandler(TesseraError)
    def domain_error(error: TesseraError):
        if not request.path.startswith(API_PREFIX):
            return render_template("error.html", message=error.message), error.status
        return jsonify(error.as_dict()), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not request.path.startswith(API_PREFIX):
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        response, status = error_response(error.code or 500, code,
                                          error.description or error.name)
        # The error's own headers stay (a 405's Allow, ...); only the body becomes JSON.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status
