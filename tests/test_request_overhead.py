"""What every request pays before and after its view, cut without changing an answer: the security headers applied
in one pass, the session cookie's signing serializer built only when a cookie is read or written, no limiter hooks
(the login views check their own limits), and the NUL check decoding a query or form only when it may hold a NUL.
The answers themselves are held by tests/test_security_headers.py, test_sessions.py, test_auth.py (429),
test_rate_limit.py and test_hostile_input.py (NUL)."""

from __future__ import annotations

import io

from flask import request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.test import Client

from insurecrm.extensions import limiter
from insurecrm.web import LazyCookieSessionInterface, security_headers
from tests.api_client import csrf_token

# -- the limiter ------------------------------------------------------------------------------------------------


def test_the_limiter_hooks_no_request_while_every_limit_is_on_a_view(app):
    """If this fails, a limit or setting now needs Flask-Limiter's request hooks (a default, application, meta or
    blueprint limit, ``deduct_when``, the headers, the in-memory fallback): insurecrm.extensions.Limiter registers
    them only when it sees that at ``init_app``, before the views are imported, so look there."""
    assert not limiter.needs_request_hooks()
    hooks = [*app.before_request_funcs.get(None, ()), *app.after_request_funcs.get(None, ()),
             *app.teardown_request_funcs.get(None, ())]
    assert not [hook for hook in hooks if "flask_limiter" in repr(hook) or "Limiter" in repr(hook)]


def test_a_get_of_the_login_page_is_not_counted(client, app):
    for _ in range(12):  # more than the limit of 10 per minute
        assert client.get("/login").status_code == 200


# -- the session cookie -----------------------------------------------------------------------------------------


def test_the_app_uses_the_lazy_cookie_session(app):
    assert isinstance(app.session_interface, LazyCookieSessionInterface)


def test_a_request_without_a_cookie_that_touches_no_session_sets_none(client):
    response = client.get("/api/v1/products")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    assert response.headers["Vary"] == "Cookie"  # Flask-Login looks at the session of every response, as before


def test_the_cookie_is_flasks_own(app, client):
    """Same name, flags and signature as Flask's interface: Flask's reads what ours wrote."""
    client.get("/login")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    with app.test_request_context("/", headers={"Cookie": f"session={cookie.value}"}):
        assert "csrf_token" in SecureCookieSessionInterface().open_session(app, request)


def test_the_serializer_is_built_once_per_secret_key(app):
    interface = LazyCookieSessionInterface()
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first
    old_key = app.secret_key
    signed = first.dumps({"a": 1})
    try:
        app.secret_key = "another-secret"
        changed = interface.get_signing_serializer(app)
        assert changed is not first
        assert changed.loads(changed.dumps({"a": 1})) == {"a": 1}
        app.config["SECRET_KEY_FALLBACKS"] = [old_key]
        assert interface.get_signing_serializer(app).loads(signed) == {"a": 1}  # the old key, as a fallback
    finally:
        app.secret_key = old_key
        app.config["SECRET_KEY_FALLBACKS"] = []


def test_a_bad_cookie_is_an_empty_session_and_a_good_one_is_read(app):
    with app.test_request_context("/", headers={"Cookie": "session=garbage"}):
        assert dict(app.session_interface.open_session(app, request)) == {}
    signed = app.session_interface.get_signing_serializer(app).dumps({"lang": "zh"})
    with app.test_request_context("/", headers={"Cookie": f"session={signed}"}):
        assert app.session_interface.open_session(app, request)["lang"] == "zh"


def test_emptying_the_session_deletes_the_cookie(app):
    client = Client(app)
    client.post("/language", data={"lang": "zh", "csrf_token": csrf_token(client)})
    assert client.get_cookie("session") is not None
    with app.test_request_context("/"):
        opened = app.session_interface.open_session(app, request)
        opened.clear()
        response = app.response_class("x")
        app.session_interface.save_session(app, opened, response)
    assert "session=;" in response.headers["Set-Cookie"]
    assert response.headers["Vary"] == "Cookie"


def test_no_secret_key_no_session(app):
    old_key = app.secret_key
    try:
        app.secret_key = None
        with app.test_request_context("/"):
            assert app.session_interface.open_session(app, request) is None
    finally:
        app.secret_key = old_key


def test_a_session_written_by_a_view_is_sent(app):
    with app.test_request_context("/"):
        session["lang"] = "zh"
        response = app.response_class("x")
        app.session_interface.save_session(app, session._get_current_object(), response)
    assert response.headers["Set-Cookie"].startswith("session=")


# -- the security headers ---------------------------------------------------------------------------------------


def test_a_header_the_view_set_is_kept_whatever_its_case(app):
    with app.test_request_context("/login"):
        response = app.response_class("x", headers={"x-frame-options": "SAMEORIGIN", "Cache-Control": "max-age=60"})
        response = security_headers(app)(response)
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("Cache-Control") == ["no-store"]  # personal data: the view's own is replaced
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_static_file_keeps_its_cache_control(client):
    response = client.get("/static/css/app.css")
    assert response.headers.getlist("Cache-Control") == ["no-cache"]
    assert response.headers["X-Frame-Options"] == "DENY"
    response.close()


# -- NUL characters ---------------------------------------------------------------------------------------------


def test_nul_in_a_query_key_or_value_is_422(client):
    assert client.get("/api/v1/products?q=%00").status_code == 422
    assert client.get("/api/v1/products?%00=1").status_code == 422
    assert client.get("/login?next=a%00").status_code == 422


def test_an_encoded_percent_sign_is_not_a_nul(client):
    assert client.get("/login?next=%2500").status_code == 200


def test_nul_in_a_multipart_field_is_refused_but_not_in_an_uploaded_file(client):
    token = csrf_token(client)
    refused = client.post("/login", data={"username": "a\x00", "password": "b", "csrf_token": token})
    assert refused.status_code == 422 and b"NUL" in refused.data
    multipart = client.post("/login", content_type="multipart/form-data", data={
        "username": "a\x00", "password": "b", "csrf_token": token})
    assert multipart.status_code == 422 and b"NUL" in multipart.data
    upload = client.post("/login", data={"username": "a", "password": "b", "csrf_token": token,
                                         "file": (io.BytesIO(b"a\x00b"), "a.csv")})
    assert b"NUL" not in upload.data


def test_a_json_body_is_not_read_as_a_form(client):
    # a NUL in JSON is the schemas' to refuse (tests/test_hostile_input.py); the form check leaves the body alone
    response = client.post("/api/v1/auth/token", data='{"username": "root", "password": "%00"}',
                           content_type="application/json")
    assert response.status_code == 401


def test_flask_asks_once_per_function_whether_it_runs_synchronously(app, monkeypatch):
    from flask import Flask

    asked = []
    monkeypatch.setattr(Flask, "ensure_sync", lambda self, func: asked.append(func) or func)

    def hook():
        return None

    assert app.ensure_sync(hook) is hook and app.ensure_sync(hook) is hook
    assert asked == [hook]  # the second answer came from memory
    unhashable = type("Unhashable", (), {"__hash__": None, "__call__": lambda self: None})()
    assert app.ensure_sync(unhashable) is unhashable and app.ensure_sync(unhashable) is unhashable
    assert asked == [hook, unhashable, unhashable]  # asked each time, as Flask does


# -- the signed-in user -------------------------------------------------------------------------------------------


def test_a_static_file_costs_no_query_and_a_page_loads_its_user(web, make):
    """A page's stylesheet, scripts and plotly.js are fetched with the user's cookie, yet hold no one's data: they
    do not load the user (a query per file, and on SQLite a transaction to end) — a page still does."""
    from insurecrm.models import Role
    from tests.helpers import counted_queries

    browser = web(make.user(Role.ADMIN))
    for path in ("/static/css/app.css", "/static/js/app.js", "/vendor/plotly.min.js"):
        with counted_queries() as statements:
            response = browser.get(path)
        assert response.status_code == 200
        response.close()
        assert statements == [], path
    with counted_queries() as statements:
        assert browser.get("/account").status_code == 200
    assert any("FROM users" in statement for statement in statements)
