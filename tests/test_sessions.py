"""Web sessions end on the server: logging out, a new password and deactivation end every session of the user,
in every browser and on every host (a copied session cookie stops working), as they end the API tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agents.departure import deactivate_agent
from insurecrm.auth import _load_user, issue_token
from insurecrm.db import db
from insurecrm.models import ApiToken, AuditLog, Role, User
from insurecrm.passwords import verify_password
from tests.api_client import csrf_token
from tests.factories import PASSWORD
from tests.helpers import counted_queries

NEW_PASSWORD = "a-new-password-1"


def log_in(client, username: str, password: str = PASSWORD) -> None:
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def logged_in(client) -> bool:
    """Whether ``client``'s session cookie still opens a page (anonymous visitors are sent to the login page)."""
    response = client.get("/account")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_of(app, client):
    """Another browser (or another host's view of it) carrying a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def audit_rows(user: User) -> list[dict]:
    return [entry.changes for entry in db.session.scalars(
        select(AuditLog).where(AuditLog.entity_type == "users", AuditLog.entity_id == user.id).order_by(AuditLog.id))]


@pytest.fixture
def agent_user(make):
    user = make.user(Role.AGENT, username="wang", agent_id=make.agent().id)
    db.session.commit()
    return user


def test_the_cookie_carries_a_session_token_not_the_user_id(app, client, agent_user):
    log_in(client, "wang")
    with client.session_transaction() as session:
        assert session["_user_id"] == agent_user.session_token
    assert len(agent_user.session_token) >= 40 and agent_user.session_token != str(agent_user.id)


def test_logging_out_ends_every_session_of_the_user_a_copied_cookie_too(app, client, agent_user):
    other_browser = app.test_client()
    log_in(client, "wang")
    log_in(other_browser, "wang")
    copied = copy_of(app, client)
    assert logged_in(copied) and logged_in(other_browser)
    before = agent_user.session_token
    audited = audit_rows(agent_user)

    assert client.post("/logout", data={"csrf_token": csrf_token(client)}).status_code == 302

    assert not logged_in(client) and not logged_in(copied) and not logged_in(other_browser)
    assert db.session.scalar(select(User.session_token).where(User.id == agent_user.id)) != before
    assert audit_rows(agent_user) == audited  # logging out is no change of the user's record
    log_in(client, "wang")  # and the user may come back
    assert logged_in(client)


def test_an_admin_resetting_the_password_ends_the_users_sessions(app, client, web, make, agent_user):
    log_in(client, "wang")
    admin = web(make.user(Role.ADMIN))
    response = admin.post(f"/admin/users/{agent_user.id}/password",
                          data={"password": NEW_PASSWORD, "csrf_token": csrf_token(admin)})
    assert response.status_code == 302
    assert not logged_in(client)
    assert logged_in(admin)
    log_in(client, "wang", NEW_PASSWORD)


def test_an_admin_resetting_their_own_password_stays_logged_in_there_only(app, client, make):
    make.user(Role.ADMIN, username="root")
    db.session.commit()
    log_in(client, "root")
    elsewhere = copy_of(app, client)
    root = db.session.scalar(select(User).where(User.username == "root"))
    response = client.post(f"/admin/users/{root.id}/password",
                           data={"password": NEW_PASSWORD, "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert logged_in(client) and not logged_in(elsewhere)


@pytest.mark.parametrize("change", [{"password": NEW_PASSWORD}, {"active": False}],
                         ids=["new-password", "deactivated"])
def test_the_api_changing_the_password_or_deactivating_ends_web_sessions_and_tokens(
        app, client, api, make, agent_user, change):
    log_in(client, "wang")
    token, _row = issue_token(agent_user)
    db.session.commit()
    response = api(make.user(Role.ADMIN)).patch(f"/api/v1/users/{agent_user.id}", json=change)
    assert response.status_code == 200, response.json
    assert not logged_in(client)
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_reactivated_user_must_log_in_again(app, client, api, make, agent_user):
    log_in(client, "wang")
    admin = api(make.user(Role.ADMIN))
    assert admin.patch(f"/api/v1/users/{agent_user.id}", json={"active": False}).status_code == 200
    assert admin.patch(f"/api/v1/users/{agent_user.id}", json={"active": True}).status_code == 200
    assert not logged_in(client)  # the old cookie does not come back to life with the login


def test_an_agents_departure_ends_their_web_sessions(app, client, make, agent_user):
    log_in(client, "wang")
    deactivate_agent(agent_user.agent, rule="pool", actor=make.user(Role.ADMIN))
    db.session.commit()
    assert not logged_in(client)


def test_the_user_is_loaded_by_one_query(app, agent_user):
    with counted_queries() as statements:
        assert _load_user(agent_user.session_token).id == agent_user.id
    assert len(statements) == 1
    assert _load_user("not-a-token") is None


# -- My account: changing one's own password ---------------------------------------------------------------

def change_password(client, current: str, new: str, again: str | None = None):
    return client.post("/account", data={"current_password": current, "new_password": new,
                                         "new_password_again": new if again is None else again,
                                         "csrf_token": csrf_token(client)})


def test_my_account_is_reachable_from_the_top_bar_in_both_languages(app, client, agent_user):
    log_in(client, "wang")
    page = client.get("/my-day").get_data(as_text=True)
    assert 'href="/account"' in page
    assert "My account" in client.get("/account").get_data(as_text=True)
    client.post("/language", data={"lang": "zh", "next": "/account", "csrf_token": csrf_token(client)})
    chinese = client.get("/account").get_data(as_text=True)
    assert "我的账户" in chinese and "修改我的密码" in chinese


def test_changing_my_password_ends_my_other_sessions_and_tokens_but_not_this_one(app, client, agent_user):
    log_in(client, "wang")
    elsewhere = copy_of(app, client)
    token, _row = issue_token(agent_user)
    db.session.commit()

    response = change_password(client, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert logged_in(client) and not logged_in(elsewhere)
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert db.session.scalar(select(ApiToken.revoked_at)) is not None
    user = db.session.get(User, agent_user.id)
    db.session.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    audit = db.session.scalars(select(AuditLog).where(AuditLog.entity_type == "users", AuditLog.entity_id == user.id,
                                                      AuditLog.action == "update")).all()
    assert [(entry.actor_user_id, entry.changes["password_hash"]) for entry in audit
            if "password_hash" in entry.changes] == [(user.id, ["***", "***"])]


@pytest.mark.parametrize(("current", "new", "again", "field", "message"), [
    ("wrong-password", NEW_PASSWORD, None, "current_password", "This is not your current password."),
    (PASSWORD, "short", None, "new_password", "Use at least 10 characters."),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "new_password_again", "The two new passwords differ."),
    (PASSWORD, PASSWORD, None, "new_password", "Choose a password different from the current one."),
    ("", NEW_PASSWORD, None, "current_password", "This field is required."),
    (PASSWORD, "x" * 257, None, "new_password", "Field cannot be longer than 256 characters."),
])
def test_a_refused_password_change_shows_the_form_again_and_changes_nothing(
        app, client, agent_user, current, new, again, field, message):
    log_in(client, "wang")
    elsewhere = copy_of(app, client)
    before = (agent_user.password_hash, agent_user.session_token)

    response = change_password(client, current, new, again)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="f-{field}-error"><p>{re.escape(message)}</p>', html), html
    user = db.session.get(User, agent_user.id)
    db.session.refresh(user)
    assert (user.password_hash, user.session_token) == before
    assert logged_in(client) and logged_in(elsewhere)


def test_refused_password_change_messages_are_in_chinese_for_a_chinese_user(app, client, agent_user):
    log_in(client, "wang")
    client.post("/language", data={"lang": "zh", "next": "/account", "csrf_token": csrf_token(client)})
    html = change_password(client, "wrong-password", NEW_PASSWORD).get_data(as_text=True)
    assert "这不是您当前的密码。" in html
    html = change_password(client, "", NEW_PASSWORD, "").get_data(as_text=True)
    assert 'id="f-current_password-error"><p>该字段是必填字段。</p>' in html


def test_my_account_needs_a_login(client):
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
