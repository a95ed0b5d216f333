"""Login on the web (session + CSRF) and on the API (bearer tokens: expiry, revocation, rate limit)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from insurecrm import auth
from insurecrm.db import utcnow
from insurecrm.models import ApiToken, Role
from tests.factories import PASSWORD


def login_form_token(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    match = re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    return match.group(1)


def test_web_login_then_home_then_logout(client, make):
    user = make.user(Role.AGENT, username="wang", display_name="Wang Fang")
    assert client.get("/").status_code == 302  # anonymous → login page
    response = client.post("/login", data={"username": "wang", "password": PASSWORD,
                                           "csrf_token": login_form_token(client)})
    assert response.status_code == 302
    landing = client.get("/")
    assert landing.status_code == 302 and landing.headers["Location"] == "/my-day"  # an agent lands on their day
    home = client.get("/my-day").get_data(as_text=True)
    assert "Wang Fang" in home
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    assert user.last_login_at is not None


def test_web_login_without_csrf_token_is_refused(client, make):
    make.user(Role.AGENT, username="li")
    response = client.post("/login", data={"username": "li", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_web_login_wrong_password_shows_error(client, make):
    make.user(Role.AGENT, username="zhao")
    response = client.post("/login", data={"username": "zhao", "password": "nope",
                                           "csrf_token": login_form_token(client)})
    assert response.status_code == 422
    assert "wrong password" in response.get_data(as_text=True)


def test_login_redirect_stays_on_site(client, make):
    make.user(Role.AGENT, username="chen")
    response = client.post("/login?next=//evil.example/", data={
        "username": "chen", "password": PASSWORD, "csrf_token": login_form_token(client)})
    assert response.headers["Location"] == "/"


def test_api_token_flow(client, make, api):
    make.user(Role.ADMIN, username="root")
    response = client.post("/api/v1/auth/token", json={"username": "root", "password": PASSWORD})
    assert response.status_code == 201
    token = response.json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/products", headers=headers).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/products", headers=headers).status_code == 401


def test_api_token_bad_credentials_and_bad_input(client, make):
    make.user(Role.ADMIN, username="root")
    assert client.post("/api/v1/auth/token", json={"username": "root", "password": "x"}).status_code == 401
    response = client.post("/api/v1/auth/token", json={"username": "root"})
    assert response.status_code == 422
    assert response.json["errors"] == {"password": ["Missing data for required field."]}


def test_expired_token_is_refused(client, make, session):
    make.user(Role.ADMIN, username="root")
    token = client.post("/api/v1/auth/token", json={"username": "root", "password": PASSWORD}).json["access_token"]
    row = session.scalar(select(ApiToken))
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_inactive_user_cannot_log_in_or_use_token(client, make, session):
    user = make.user(Role.ADMIN, username="gone")
    token = client.post("/api/v1/auth/token", json={"username": "gone", "password": PASSWORD}).json["access_token"]
    user.active = False
    session.commit()
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"username": "gone", "password": PASSWORD}).status_code == 401


def test_api_ignores_session_cookie(client, make):
    make.user(Role.ADMIN, username="root")
    client.post("/login", data={"username": "root", "password": PASSWORD, "csrf_token": login_form_token(client)})
    assert client.get("/dashboard").status_code == 200
    assert client.get("/api/v1/products").status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/login"])
def test_login_attempts_are_rate_limited(client, make, app, path):
    make.user(Role.ADMIN, username="root")
    statuses = []
    for _ in range(12):
        if path == "/login":
            statuses.append(client.post(path, data={"username": "root", "password": "wrong",
                                                    "csrf_token": login_form_token(client)}).status_code)
        else:
            statuses.append(client.post(path, json={"username": "root", "password": "wrong"}).status_code)
    assert statuses[:10].count(429) == 0
    assert statuses[-1] == 429


def test_passwords_are_stored_as_argon2_hashes(make):
    user = make.user(Role.AGENT)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """The hashes the login verifies a password against, in order (the real verification still runs)."""
    calls: list[str] = []
    real = auth.verify_password

    def spy(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", spy)
    return calls


@pytest.mark.parametrize("who", ["unknown", "inactive", "wrong-password"])
def test_a_refused_login_always_costs_one_password_verification(client, make, verifications, who):
    """The same work, so the same time, whether the user exists or not: the answer's delay tells nothing."""
    real_hash = make.user(Role.AGENT, username="known", active=who != "inactive").password_hash
    username = "nobody" if who == "unknown" else "known"
    password = "wrong" if who == "wrong-password" else PASSWORD
    assert client.post("/api/v1/auth/token", json={"username": username, "password": password}).status_code == 401
    assert len(verifications) == 1
    if who == "unknown":
        # a dummy hash made with the same Argon2 parameters as the real ones (same cost)
        assert verifications[0] != real_hash
        assert verifications[0].rsplit("$", 2)[0] == real_hash.rsplit("$", 2)[0]
    else:
        assert verifications[0] == real_hash


def test_the_web_login_verifies_unknown_users_too(client, make, verifications):
    response = client.post("/login", data={"username": "nobody", "password": "whatever",
                                           "csrf_token": login_form_token(client)})
    assert response.status_code == 422
    assert len(verifications) == 1 and verifications[0].startswith("$argon2id$")
