"""Helpers of the web pages: role checks, personal data on pages, paging, vendored assets, safe redirects, the
security headers of every response and the session cookie."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from urllib.parse import unquote, urlsplit

import marshmallow as ma
import plotly
from flask import Blueprint, abort, g, redirect, request, send_file, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Select, func, select
from werkzeug.middleware.proxy_fix import ProxyFix

from insurecrm.api import INT_MAX, INT_MIN, Integer
from insurecrm.db import db
from insurecrm.extensions import login_manager
from insurecrm.i18n import LANGUAGES
from insurecrm.models import Role
from insurecrm.pii import must_pseudonymise, pseudonym

bp = Blueprint("web", __name__)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def page_roles(*roles: Role) -> Callable:
    """Page decorator: anonymous users go to the login page; other roles get a 403 page."""
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


ALL_ROLES = tuple(Role)
INTERNAL = (Role.ADMIN, Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.ACTUARY)
WRITERS = (Role.ADMIN, Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST)


def name_of(record, kind: str = "policyholder") -> str:
    """A person's name, or their stable pseudonym for a role that may not see names."""
    if record is None:
        return "—"
    return pseudonym(kind, record.id) if must_pseudonymise() else record.name


def personal(value):
    """Personal data (phone, email, address, ID, free text), hidden from roles that may not see it."""
    if value in (None, ""):
        return "—"
    return "•••" if must_pseudonymise() else value


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def query_int(name: str, default: int | None = None) -> int | None:
    """The integer query argument ``name`` (``default`` when absent or empty); anything but digits within the
    database's INTEGER is a :class:`marshmallow.ValidationError` (a 422 page), never an overflow in SQL."""
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        return _QUERY_INT.deserialize(text)
    except ma.ValidationError as exc:
        raise ma.ValidationError({name: exc.messages}) from None


_QUERY_INT = Integer(strict=False)


def database_id(text: str) -> int:
    """``type=`` of ``request.args.get`` for an optional id filter: a value the database cannot hold is
    ignored like any other invalid one (werkzeug returns the default on ``ValueError``)."""
    value = int(text)
    if not 1 <= value <= INT_MAX:
        raise ValueError(text)
    return value


def id_or_404(name: str, source=None) -> int | None:
    """The record id sent as ``name`` (query or form; ``None`` when absent): anything but an id the database can
    hold is a 404, like an id that does not exist."""
    text = (request.values if source is None else source).get(name, "").strip()
    if not text:
        return None
    try:
        return database_id(text)
    except ValueError:
        abort(404)


def page_number() -> int:
    """The ``page`` query argument: 1 when absent, a 422 page when not a number the database can offset by."""
    return max(1, query_int("page", 1))


def paginate_page(stmt: Select, per_page: int = 25) -> Page:
    """One page of ``stmt`` by the ``page`` query argument: two queries, whatever the size of the book."""
    page = page_number()
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(items), total, page, per_page)


def load_form(schema: ma.Schema, *, clearing: bool = False, keep_if_empty: tuple[str, ...] = ()) -> dict:
    """Load the posted form through ``schema`` (the API's schemas: one set of rules for both).

    An empty input counts as not given, except with ``clearing`` (edit forms), where emptying a field is a
    change like any other: an optional field is set to none, a required one is refused with its field's
    "required" message (never kept silently). Fields named in ``keep_if_empty`` keep their value when left
    empty (an edit form that does not show the value back, such as a full ID number). List fields read every
    value of the name; ids arrive from a ``<select>`` as text, so the API's strict integers accept digits
    here. Raises :class:`marshmallow.ValidationError`, which the view answers by showing the form again with
    the messages next to their fields (422).
    """
    _accept_digits(schema)
    data: dict = {}
    emptied: dict[str, list[str]] = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if isinstance(field, ma.fields.List):
            values = [v for v in request.form.getlist(key) if v.strip()]
            if values or key in request.form:
                data[key] = values
        elif key in request.form and request.form[key].strip() != "":
            data[key] = request.form[key].strip()
        elif key in request.form and clearing and key not in keep_if_empty:
            if field.allow_none:
                data[key] = None
            else:
                emptied[key] = field.make_error("required").messages  # worded in the language of the request
        elif isinstance(field, ma.fields.Boolean) and f"{key}__present" in request.form:
            data[key] = False  # an unticked checkbox sends nothing; the hidden marker says it was on the form
    try:
        loaded = schema.load(data)
    except ma.ValidationError as exc:
        raise ma.ValidationError({**exc.normalized_messages(), **emptied}) from None
    if emptied:
        raise ma.ValidationError(emptied)
    return loaded


#: the range of the database's INTEGER columns: a number typed beyond it is refused (422), never sent to the database
DB_INTEGER = ma.validate.Range(min=INT_MIN, max=INT_MAX)


def _accept_digits(schema: ma.Schema) -> None:
    # the schema instance's fields are its own copies: the API's schemas stay strict
    for field in schema.load_fields.values():
        for candidate in (field, getattr(field, "inner", None)):
            if isinstance(candidate, ma.fields.Integer):
                candidate.strict = False
                candidate.validators = [*candidate.validators, DB_INTEGER]


@bp.get("/vendor/plotly.min.js")
def plotly_js():
    """plotly.js exactly as the installed plotly package ships it: no CDN, no second copy to keep in step."""
    return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=86400)


@bp.post("/language")
def set_language():
    """Switch the interface language; saved for the user when logged in."""
    lang = request.form.get("lang")
    if lang not in LANGUAGES:
        abort(422)
    session["lang"] = lang
    if current_user.is_authenticated and current_user.preferred_language != lang:
        current_user.preferred_language = lang
        db.session.commit()
    return redirect(safe_redirect_target(request.form.get("next")))


# -- redirects ------------------------------------------------------------------------------------------

MAX_REDIRECT_LENGTH = 2048


def is_safe_redirect(target: str | None) -> bool:
    """Whether ``target`` is a path on this site, as a browser would read it.

    Browsers drop tabs and newlines anywhere in a URL, trim spaces and control characters, read ``\\`` as ``/`` and
    ``//host`` as another host; so a target that is not plainly ``/path`` is refused: any control character,
    whitespace or backslash (also percent-encoded in the path, e.g. ``/%09/evil.example/``), a scheme, a host,
    or a leading ``//``.
    """
    if not target or len(target) > MAX_REDIRECT_LENGTH or _has_tricky_characters(target):
        return False
    path = target.split("?", 1)[0].split("#", 1)[0]
    decoded = unquote(path)
    if _has_tricky_characters(decoded):
        return False
    for candidate in (target, decoded):
        parts = urlsplit(candidate)
        if not candidate.startswith("/") or candidate.startswith("//") or parts.scheme or parts.netloc:
            return False
    return True


def _has_tricky_characters(text: str) -> bool:
    return any(char == "\\" or char.isspace() or unicodedata.category(char)[0] in "CZ" for char in text)


def safe_redirect_target(target: str | None) -> str:
    """``target`` if it is a path on this site (see :func:`is_safe_redirect`), else the user's start page."""
    return target if is_safe_redirect(target) else url_for("auth.home")


# -- security headers -----------------------------------------------------------------------------------

#: nothing from elsewhere, no inline script (plotly and the language switch run from static files), no framing;
#: inline *styles* stay allowed: plotly.js sets them on the charts it draws
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
#: files that hold no personal data and may be cached: the static folder and the vendored plotly.js
CACHEABLE_ENDPOINTS = frozenset({"static", "web.plotly_js"})


def security_headers(app) -> Callable:
    """The ``after_request`` of every response (pages, API, exports, errors, static files).

    The headers are settled once, when the app is built. Each response's headers are then read once, for the names
    they already carry: a header the view set itself is kept (as ``setdefault`` would), the others are appended.
    Six ``setdefault`` calls and a set scanned the headers once each: 16 µs, a quarter of the framework's time on a
    short API answer, now 4 µs.
    """
    headers = dict(SECURITY_HEADERS)
    if app.config["ENV_NAME"] == "production":
        # production serves HTTPS only (its cookies are Secure): browsers should never try plain HTTP
        headers["Strict-Transport-Security"] = "max-age=31536000"
    # header names are case-insensitive: compared in lower case; the values are checked by werkzeug as they are added
    defaults = tuple((name.lower(), (name, value)) for name, value in headers.items())

    def set_headers(response):
        response_headers = response.headers
        present = {name.lower() for name, _ in response_headers}
        for lower, (name, value) in defaults:
            if lower not in present:
                response_headers.add(name, value)
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            # pages, exports and API answers carry personal data: no browser or proxy may keep a copy
            if "cache-control" in present:
                response_headers["Cache-Control"] = "no-store"  # replaces the view's own
            else:
                response_headers.add("Cache-Control", "no-store")  # what setting it does when absent, without a scan
        return response

    return set_headers


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, unchanged (same cookie, signature, flags and ``Vary: Cookie``), that does no
    work a request does not need: Flask's own builds the signing serializer on every request, with or without a
    cookie, and reads seven cookie settings when saving a session nobody touched. Here the serializer is built when
    a cookie is read or written, and once per secret key; an API call with a bearer token or a static file pays for
    neither."""

    def __init__(self) -> None:
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None] = ((), None)

    def get_signing_serializer(self, app) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        # the keys Flask signs with, compared at each use: a key changed at run time is honoured as by Flask
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        built_for, serializer = self._serializer
        if built_for != keys:
            serializer = super().get_signing_serializer(app)
            self._serializer = (keys, serializer)
        return serializer

    def open_session(self, app, request) -> SecureCookieSession | None:
        if not app.secret_key:
            return None  # as Flask: no secret key, no session (Flask's null session explains why on use)
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if not session and not session.modified:
            # Flask's method would set and delete no cookie, only say that the answer depends on the cookie when the
            # session was looked at (Flask-Login looks at it on every response)
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def behind_proxies(wsgi_app, count: int):
    """``wsgi_app`` believing the last ``count`` proxies' X-Forwarded-For and -Proto (none when 0: a client could
    otherwise claim any address, and escape its rate limit)."""
    return ProxyFix(wsgi_app, x_for=count, x_proto=count) if count > 0 else wsgi_app


def init_app(app) -> None:
    app.wsgi_app = behind_proxies(app.wsgi_app, app.config["TRUSTED_PROXIES"])
    app.session_interface = LazyCookieSessionInterface()
    app.jinja_env.globals.update(name_of=name_of, personal=personal, Role=Role)
    app.after_request(security_headers(app))

    @app.context_processor
    def _user():
        return {"user": g.get("user")}
