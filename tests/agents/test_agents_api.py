"""Agents API: create and change agents, the rules on links and dates, roles, scope and pseudonyms."""

from __future__ import annotations

import pytest

from agents.models import Agent, AgentChannel, AgentStatus
from insurecrm.models import Role


def valid_agent(unit, **overrides) -> dict:
    return {"code": "A-100", "name": "Wang Fang", "org_unit_id": unit.id, "channel": "agency",
            "hire_date": "2024-03-01", "licence_number": "LIC-0001", "licence_expiry": "2027-03-01",
            "phone": "138 0013 8000", "email": "wang.fang@example.com", **overrides}


def test_admin_creates_an_agent_with_a_normalised_phone(api, make, tree):
    admin = api(make.user(Role.ADMIN))
    manager = make.agent(tree.branch_a)
    response = admin.post("/api/v1/agents", json=valid_agent(tree.team_a1, manager_id=manager.id))
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["phone"], body["status"], body["manager_id"]) == ("+8613800138000", "active", manager.id)
    assert body["bank_partner_ids"] == []


def test_a_bancassurance_specialist_is_stationed_at_bank_partners(api, make, tree):
    admin = api(make.user(Role.ADMIN))
    first, second = make.bank_partner(), make.bank_partner()
    response = admin.post("/api/v1/agents", json=valid_agent(tree.team_a1, channel="bancassurance",
                                                             bank_partner_ids=[second.id, first.id]))
    assert response.status_code == 201, response.json
    assert response.json["bank_partner_ids"] == sorted([first.id, second.id])
    changed = admin.patch(f"/api/v1/agents/{response.json['id']}", json={"bank_partner_ids": [first.id]})
    assert changed.json["bank_partner_ids"] == [first.id]
    assert admin.get("/api/v1/agents?channel=bancassurance").json["items"][0]["bank_partner_ids"] == [first.id]


def test_bad_agent_is_refused_field_by_field_and_nothing_is_written(api, make, count, tree):
    admin = api(make.user(Role.ADMIN))
    existing = make.agent(tree.team_a1, code="A-100")
    before = count(Agent)
    bad = valid_agent(tree.team_a1, org_unit_id=999999, manager_id=999999, licence_expiry="2024-01-01")
    response = admin.post("/api/v1/agents", json=bad)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"code", "org_unit_id", "manager_id", "licence_expiry"}
    response = admin.post("/api/v1/agents", json=valid_agent(tree.team_a1, code="bad code", phone="12",
                                                             channel="carrier pigeon", hire_date="yesterday"))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"code", "phone", "channel", "hire_date"}
    assert count(Agent) == before
    assert existing.name != "Wang Fang"


def test_bank_partners_only_for_the_bancassurance_channel(api, make, count, tree):
    admin = api(make.user(Role.ADMIN))
    partner = make.bank_partner()
    before = count(Agent)
    response = admin.post("/api/v1/agents", json=valid_agent(tree.team_a1, bank_partner_ids=[partner.id]))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"bank_partner_ids"}
    response = admin.post("/api/v1/agents", json=valid_agent(tree.team_a1, channel="bancassurance",
                                                             bank_partner_ids=[999999]))
    assert set(response.json["errors"]) == {"bank_partner_ids"}
    assert count(Agent) == before
    specialist = make.agent(tree.team_a1, channel=AgentChannel.BANCASSURANCE, bank_partners=[partner])
    response = admin.patch(f"/api/v1/agents/{specialist.id}", json={"channel": "agency"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"bank_partner_ids"}
    response = admin.patch(f"/api/v1/agents/{specialist.id}", json={"channel": "agency", "bank_partner_ids": []})
    assert response.status_code == 200, response.json


def test_licence_expiry_is_checked_against_the_stored_hire_date(api, make, tree):
    admin = api(make.user(Role.ADMIN))
    agent = make.agent(tree.team_a1)
    response = admin.patch(f"/api/v1/agents/{agent.id}", json={"licence_expiry": "2019-12-31"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"licence_expiry"}


def test_an_agent_cannot_be_managed_by_someone_they_manage(api, make, session, tree):
    admin = api(make.user(Role.ADMIN))
    boss = make.agent(tree.team_a1)
    report = make.agent(tree.team_a1, manager_id=boss.id)
    for manager in (report, boss):
        response = admin.patch(f"/api/v1/agents/{boss.id}", json={"manager_id": manager.id})
        assert response.status_code == 422
        assert set(response.json["errors"]) == {"manager_id"}
    session.expire_all()
    assert session.get(Agent, boss.id).manager_id is None


def test_branch_manager_works_the_agents_of_their_subtree_only(api, make, session, tree):
    mine, sibling = make.agent(tree.team_a1), make.agent(tree.branch_b)
    manager = api(make.user(Role.BRANCH_MANAGER, org_unit_id=tree.branch_a.id))
    response = manager.patch(f"/api/v1/agents/{mine.id}", json={"status": "suspended", "org_unit_id": tree.branch_a.id})
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["org_unit_id"]) == ("suspended", tree.branch_a.id)
    assert manager.get(f"/api/v1/agents/{sibling.id}").status_code == 404
    assert manager.patch(f"/api/v1/agents/{sibling.id}", json={"status": "inactive"}).status_code == 404
    response = manager.patch(f"/api/v1/agents/{mine.id}", json={"org_unit_id": tree.branch_b.id})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"org_unit_id"}
    response = manager.patch(f"/api/v1/agents/{mine.id}", json={"manager_id": sibling.id})
    assert set(response.json["errors"]) == {"manager_id"}
    session.expire_all()
    assert session.get(Agent, sibling.id).status == AgentStatus.ACTIVE
    assert session.get(Agent, mine.id).org_unit_id == tree.branch_a.id
    listed = manager.get("/api/v1/agents").json
    assert [item["id"] for item in listed["items"]] == [mine.id]


def test_agent_sees_the_colleagues_of_their_unit_only(api, make, tree):
    me, colleague, other = make.agent(tree.team_a1), make.agent(tree.team_a1), make.agent(tree.branch_a)
    client = api(make.user(Role.AGENT, agent_id=me.id))
    assert {item["id"] for item in client.get("/api/v1/agents").json["items"]} == {me.id, colleague.id}
    assert client.get(f"/api/v1/agents/{colleague.id}").status_code == 200
    assert client.get(f"/api/v1/agents/{other.id}").status_code == 404


@pytest.mark.parametrize("role", [Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.ACTUARY, Role.BANK_REFERRER])
def test_roles_that_may_not_write_agents(api, make, count, tree, role):
    me = make.agent(tree.team_a1)
    links = {"agent_id": me.id} if role in (Role.AGENT, Role.BANCASSURANCE_SPECIALIST) else {}
    client = api(make.user(role, **links))
    before = count(Agent)
    assert client.post("/api/v1/agents", json=valid_agent(tree.team_a1)).status_code == 403
    assert client.patch(f"/api/v1/agents/{me.id}", json={"status": "inactive"}).status_code == 403
    assert count(Agent) == before


def test_branch_manager_may_not_create_agents(api, make, count, tree):
    manager = api(make.user(Role.BRANCH_MANAGER, org_unit_id=tree.branch_a.id))
    assert manager.post("/api/v1/agents", json=valid_agent(tree.team_a1)).status_code == 403
    assert count(Agent) == 0


def test_referrers_may_not_list_agents(api, make):
    referrer = api(make.user(Role.BANK_REFERRER, referrer_id=make.referrer().id))
    assert referrer.get("/api/v1/agents").status_code == 403


def test_actuary_sees_no_agent_names_or_contact_details(api, make, tree):
    agent = make.agent(tree.team_a1, name="Li Lei", phone="+8613800138000", email="li@example.com",
                       licence_number="LIC-9")
    actuary = api(make.user(Role.ACTUARY))
    body = actuary.get(f"/api/v1/agents/{agent.id}").json
    assert body["name"] != "Li Lei" and body["name"].startswith("AG-")
    assert (body["phone"], body["email"], body["licence_number"]) == (None, None, None)
    assert body["code"] == agent.code
    listed = actuary.get("/api/v1/agents").json["items"]
    assert "Li Lei" not in str(listed) and "138" not in str(listed)


def test_search_by_name_is_not_offered_to_the_actuary(api, make, tree):
    agent = make.agent(tree.team_a1, name="Li Lei")
    admin, actuary = api(make.user(Role.ADMIN)), api(make.user(Role.ACTUARY))
    assert [item["id"] for item in admin.get("/api/v1/agents?q=li lei").json["items"]] == [agent.id]
    assert actuary.get("/api/v1/agents?q=Li Lei").json["meta"]["total"] == 0
    assert [item["id"] for item in actuary.get(f"/api/v1/agents?q={agent.code}").json["items"]] == [agent.id]
