"""Error responses: JSON for the API, readable pages for the web.

API errors have one shape: ``422 {"errors": {"field": ["message"]}}`` for invalid input, and
``{"error": "Not Found", "message": "..."}`` with the right status otherwise. Services raise
:class:`marshmallow.ValidationError` for rule violations (422) and :class:`VersionConflict` (409).
"""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Conflict, HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from insurecrm.db import db

log = logging.getLogger(__name__)


class VersionConflict(Conflict):
    description = "The record was changed by someone else since you loaded it; reload and try again."


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def flatten_messages(messages) -> dict[str, list[str]]:
    """webargs nests errors by location (``{"json": {...}}``); clients want them by field."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "form", "files", "headers", "view_args"}:
        merged: dict = {}
        for location_errors in messages.values():
            merged.update(location_errors if isinstance(location_errors, dict) else {"_schema": location_errors})
        return merged
    if isinstance(messages, list):
        return {"_schema": messages}
    return messages


def _text_keys(messages):
    """Messages with every key as text: a list's errors are keyed by index (``{2: [...], "_schema": [...]}``), and
    JSON with sorted keys cannot order ints among strings."""
    if isinstance(messages, dict):
        return {str(key): _text_keys(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [_text_keys(value) for value in messages]
    return messages


def error_response(status: int, *, message: str | None = None, errors: dict | None = None):
    body: dict = {"error": HTTP_STATUS_CODES.get(status, "Error")}
    if errors is not None:
        body["errors"] = _text_keys(errors)
    if message:
        body["message"] = message
    return jsonify(body), status


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    if status == 400 and (getattr(exc, "data", None) or {}).get("messages"):
        status = 422  # unparseable input (e.g. broken JSON) is bad input like any other: 422 with messages
    if status == 422:
        messages = (getattr(exc, "data", None) or {}).get("messages") or {"_schema": [exc.description]}
        errors = flatten_messages(messages)
    else:
        errors = None
    if wants_json():
        return error_response(status, message=None if errors else exc.description, errors=errors)
    return render_template("error.html", status=status, exc=exc, errors=errors), status


ERROR_PAGES = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    401: (_l("Please log in"), _l("You need to log in to see this page.")),
    403: (_l("Not allowed"), _l("Your role may not open this page.")),
    404: (_l("Not found"), _l("This page or record does not exist, or it is not in your book.")),
    405: (_l("Not allowed"), _l("This action is not possible here.")),
    409: (_l("Changed meanwhile"), _l("Someone changed this record since you opened it. Reload it and try again.")),
    422: (_l("Please check your input"), _l("Some fields need your attention.")),
    429: (_l("Too many attempts"), _l("Please wait a minute before trying again.")),
    500: (_l("Something went wrong"), _l("The error has been logged. Please try again later.")),
}


def error_title(status: int) -> str:
    return str(ERROR_PAGES.get(status, ERROR_PAGES[500])[0])


def error_text(status: int) -> str:
    return str(ERROR_PAGES.get(status, ERROR_PAGES[500])[1])


NUL_MESSAGE = "Must not contain the NUL character."


#: the only bodies werkzeug parses into ``request.form``; any other leaves it empty
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def refuse_nul_characters() -> None:
    """``before_request``: a NUL in a query argument or a form field is refused (422) before any view runs —
    PostgreSQL cannot store or even compare text holding one, and no person types it.

    It runs on every request, and almost none holds a NUL: the query is decoded only when its raw text holds one
    (a query argument gets a NUL from ``%00`` alone, or a raw NUL byte), the form only when the body is a form
    (which the view and the CSRF check parse anyway)."""
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    sources = [request.args] if "%00" in query or "\x00" in query else []
    if environ.get("CONTENT_TYPE") and request.mimetype in FORM_MIMETYPES:
        sources.append(request.form)
    for source in sources:
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                raise ValidationError({key.replace("\x00", "\\x00"): [NUL_MESSAGE]})


def rollback() -> None:
    """Roll back the request's database session, if it has one: an error answered before any query (an unknown
    path, a refused input) would otherwise create a session only to roll back nothing, and close it at teardown."""
    if db.session.registry.has():
        db.session.rollback()


def init_app(app) -> None:
    app.jinja_env.globals.update(error_title=error_title, error_text=error_text)
    app.before_request(refuse_nul_characters)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        rollback()
        errors = flatten_messages(exc.normalized_messages())
        if wants_json():
            return error_response(422, errors=errors)
        return render_template("error.html", status=422, exc=exc, errors=errors), 422

    @app.errorhandler(UnicodeError)
    def _unicode(exc: UnicodeError):
        # text that no encoding can carry (a lone surrogate) which a schema did not catch: bad input, not a crash
        rollback()
        log.info("unicode error answered 422: %s", exc)
        errors = {"_schema": ["The input must be valid Unicode text."]}
        if wants_json():
            return error_response(422, errors=errors)
        return render_template("error.html", status=422, exc=exc, errors=errors), 422

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError):
        rollback()
        return handle_http_exception(VersionConflict())

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError):
        # services check uniqueness first (422 with the field); this is two writers racing past that check
        rollback()
        log.info("integrity error answered 409: %s", exc.orig)
        return handle_http_exception(Conflict("The change conflicts with a record written at the same time; retry."))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code and exc.code >= 400:
            rollback()
        return handle_http_exception(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        rollback()
        return handle_http_exception(InternalServerError())
