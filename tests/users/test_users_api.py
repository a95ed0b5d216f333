"""Users API (admins): logins, the links each role needs, deactivation, the audit of password changes."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from agents.models import AgentChannel
from insurecrm.models import ApiToken, AuditLog, Role, User
from insurecrm.users import create_user

PASSWORD = "a long enough password"


def count_users(session) -> int:
    return session.scalar(select(func.count(User.id)))


def new_user(role: str, **links) -> dict:
    return {"username": f"new.{role}", "display_name": "New User", "email": "new@example.com", "role": role,
            "password": PASSWORD, **links}


@pytest.fixture
def admin(api, make):
    return api(make.user(Role.ADMIN))


def test_admin_creates_a_login_for_every_role_with_its_link(admin, make, session):
    agent, unit, referrer = make.agent(), make.org_unit(), make.referrer()
    specialist = make.agent(channel=AgentChannel.BANCASSURANCE)
    for role, links in (("admin", {}), ("actuary", {}), ("agent", {"agent_id": agent.id}),
                        ("bancassurance_specialist", {"agent_id": specialist.id}),
                        ("branch_manager", {"org_unit_id": unit.id}), ("bank_referrer", {"referrer_id": referrer.id})):
        response = admin.post("/api/v1/users", json=new_user(role, **links))
        assert response.status_code == 201, (role, response.json)
        assert "password" not in response.json and "password_hash" not in response.json
        assert {key: response.json[key] for key in links} == links
    listed = admin.get("/api/v1/users?role=bank_referrer").json
    assert [item["referrer_id"] for item in listed["items"]] == [referrer.id]
    assert "password_hash" not in str(admin.get("/api/v1/users").json)


def test_a_new_login_can_authenticate(admin, make, client):
    admin.post("/api/v1/users", json=new_user("actuary"))
    response = client.post("/api/v1/auth/token", json={"username": "new.actuary", "password": PASSWORD})
    assert response.status_code == 201, response.json


def test_user_creation_is_audited_without_the_password_hash(admin, make, session):
    response = admin.post("/api/v1/users", json=new_user("actuary"))
    row = session.scalar(select(AuditLog).where(AuditLog.entity_type == "users",
                                                AuditLog.entity_id == response.json["id"]))
    assert row.action == "create"
    assert row.changes["password_hash"] == [None, "***"]
    assert PASSWORD not in str(row.changes)


@pytest.mark.parametrize(("role", "links", "fields"), [
    ("agent", {}, {"agent_id"}),
    ("agent", {"agent_id": "AGENT", "org_unit_id": "UNIT"}, {"org_unit_id"}),
    ("bancassurance_specialist", {"agent_id": "AGENT"}, {"agent_id"}),
    ("branch_manager", {"referrer_id": "REFERRER"}, {"org_unit_id", "referrer_id"}),
    ("bank_referrer", {}, {"referrer_id"}),
    ("bank_referrer", {"referrer_id": 999999}, {"referrer_id"}),
    ("admin", {"agent_id": "AGENT"}, {"agent_id"}),
    ("actuary", {"org_unit_id": "UNIT"}, {"org_unit_id"}),
    ("agent", {"agent_id": 999999}, {"agent_id"}),
])
def test_role_links_are_required_and_consistent(admin, make, session, role, links, fields):
    records = {"AGENT": make.agent(channel=AgentChannel.AGENCY).id, "UNIT": make.org_unit().id,
               "REFERRER": make.referrer().id}
    before = count_users(session)
    body = new_user(role, **{key: records.get(value, value) for key, value in links.items()})
    response = admin.post("/api/v1/users", json=body)
    assert response.status_code == 422
    assert set(response.json["errors"]) == fields
    assert count_users(session) == before


def test_bad_user_is_refused_field_by_field_and_nothing_is_written(admin, make, session):
    make.user(Role.ACTUARY, username="taken")
    before = count_users(session)
    response = admin.post("/api/v1/users", json={"username": "x", "role": "pilot", "password": "short",
                                                 "email": "not-an-email"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"username", "display_name", "role", "password", "email"}
    response = admin.post("/api/v1/users", json={**new_user("actuary"), "username": "taken"})
    assert set(response.json["errors"]) == {"username"}
    assert count_users(session) == before


def test_an_agent_or_referrer_has_one_login(admin, make, session):
    agent, referrer = make.agent(), make.referrer()
    make.user(Role.AGENT, agent_id=agent.id)
    make.user(Role.BANK_REFERRER, referrer_id=referrer.id)
    before = count_users(session)
    assert set(admin.post("/api/v1/users", json=new_user("agent", agent_id=agent.id)).json["errors"]) == {"agent_id"}
    response = admin.post("/api/v1/users", json=new_user("bank_referrer", referrer_id=referrer.id))
    assert set(response.json["errors"]) == {"referrer_id"}
    assert count_users(session) == before


def test_deactivating_a_user_revokes_all_their_tokens(admin, api, make, session):
    user = make.user(Role.ACTUARY)
    their_client = api(user)
    api(user)  # a second token, revoked as well
    assert their_client.get("/api/v1/agents").status_code == 200
    response = admin.patch(f"/api/v1/users/{user.id}", json={"active": False})
    assert (response.status_code, response.json["active"]) == (200, False)
    live = session.scalar(select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id,
                                                                ApiToken.revoked_at.is_(None)))
    assert live == 0
    assert their_client.get("/api/v1/agents").status_code == 401


def test_a_new_password_replaces_the_old_one_and_its_tokens(admin, api, make, client, session):
    user = make.user(Role.ACTUARY, username="analyst")
    their_client = api(user)
    response = admin.patch(f"/api/v1/users/{user.id}", json={"password": "short"})
    assert set(response.json["errors"]) == {"password"}
    assert admin.patch(f"/api/v1/users/{user.id}", json={"password": "another long password"}).status_code == 200
    assert their_client.get("/api/v1/agents").status_code == 401
    login = client.post("/api/v1/auth/token", json={"username": "analyst", "password": "another long password"})
    assert login.status_code == 201
    updates = session.scalars(select(AuditLog).where(AuditLog.entity_type == "users", AuditLog.entity_id == user.id,
                                                     AuditLog.action == "update")).all()
    # the login itself is an update too (last_login_at): find the password change among them
    assert [row.changes["password_hash"] for row in updates if "password_hash" in row.changes] == [["***", "***"]]


def test_changing_the_role_checks_the_links_as_they_will_be(admin, make, session):
    agent, unit = make.agent(), make.org_unit()
    user = make.user(Role.AGENT, agent_id=agent.id)
    response = admin.patch(f"/api/v1/users/{user.id}", json={"role": "branch_manager"})
    assert set(response.json["errors"]) == {"agent_id", "org_unit_id"}
    response = admin.patch(f"/api/v1/users/{user.id}", json={"role": "bancassurance_specialist"})
    assert set(response.json["errors"]) == {"agent_id"}  # an agency agent cannot be a specialist
    session.expire_all()
    assert session.get(User, user.id).role == Role.AGENT
    response = admin.patch(f"/api/v1/users/{user.id}", json={"role": "branch_manager", "agent_id": None,
                                                             "org_unit_id": unit.id, "display_name": "Boss"})
    assert response.status_code == 200, response.json
    assert (response.json["role"], response.json["agent_id"], response.json["org_unit_id"]) == (
        "branch_manager", None, unit.id)


def test_an_admin_cannot_demote_or_deactivate_themselves(api, make, session):
    me = make.user(Role.ADMIN)
    client = api(me)
    response = client.patch(f"/api/v1/users/{me.id}", json={"role": "actuary", "active": False})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"role", "active"}
    session.expire_all()
    assert (session.get(User, me.id).role, session.get(User, me.id).active) == (Role.ADMIN, True)


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.ACTUARY,
                                  Role.BANK_REFERRER])
def test_only_admins_manage_users(api, make, session, role):
    target = make.user(Role.ACTUARY)
    client = api(make.user(role))
    before = count_users(session)
    assert client.get("/api/v1/users").status_code == 403
    assert client.get(f"/api/v1/users/{target.id}").status_code == 403
    assert client.post("/api/v1/users", json=new_user("actuary")).status_code == 403
    assert client.patch(f"/api/v1/users/{target.id}", json={"active": False}).status_code == 403
    assert count_users(session) == before
    session.expire_all()
    assert session.get(User, target.id).active is True


def test_missing_user_is_404(admin):
    assert admin.get("/api/v1/users/999999").status_code == 404


def test_the_cli_names_linked_records_by_code(make, session):
    agent, unit = make.agent(code="A-77"), make.org_unit(code="BR-9")
    user = create_user({"username": "cli.agent", "role": "agent", "display_name": "Cli Agent", "password": PASSWORD,
                        "agent_code": "A-77", "org_unit_code": None})
    assert (user.role, user.agent_id, user.org_unit_id) == (Role.AGENT, agent.id, None)
    manager = create_user({"username": "cli.manager", "role": "branch_manager", "display_name": "Cli Manager",
                           "password": PASSWORD, "agent_code": None, "org_unit_code": "BR-9"})
    assert manager.org_unit_id == unit.id
    with pytest.raises(ValidationError) as refused:
        create_user({"username": "cli.other", "role": "agent", "display_name": "X", "password": PASSWORD,
                     "agent_code": "NOPE", "org_unit_code": None})
    assert set(refused.value.messages) == {"agent_code", "agent_id"}
