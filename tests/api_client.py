"""The ``api`` fixture: a JSON client acting as a given user through a real bearer token."""

from __future__ import annotations

import re

import pytest

from insurecrm.auth import issue_token
from insurecrm.db import db


class ApiClient:
    def __init__(self, client, token: str | None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, **kw):
        return self.client.open(path, method=method, headers=self.headers, **kw)

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self._call("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self._call("PATCH", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self._call("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self._call("DELETE", path, **kw)


@pytest.fixture
def api(app, client):
    """``api(user)`` → a client authenticated as ``user``; ``api(None)`` → anonymous."""

    def for_user(user):
        if user is None:
            return ApiClient(client, None)
        token, _row = issue_token(user)
        # committed to the test's outer transaction: a refused (rolled-back) request must not take it along
        db.session.commit()
        return ApiClient(client, token)

    return for_user


@pytest.fixture
def web(app):
    """``web(user)`` → a test client with ``user`` logged in (a real Flask-Login session)."""

    def for_user(user):
        client = app.test_client()
        db.session.commit()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return client

    return for_user


def csrf_token(client) -> str:
    """A CSRF token valid for ``client``'s session (every page carries one in its <body>)."""
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
