"""POST /api/v1/agents/<id>/departure: the admin's rule for a departing agent's book."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from agents.models import AgentStatus
from insurecrm.models import AuditLog, Role
from policies.models import RenewalCase


def test_admin_hands_a_departing_agents_book_to_another_agent(api, make, session):
    unit = make.org_unit()
    leaving, taking_over = make.agent(unit), make.agent(unit)
    holder = make.policyholder(owner=leaving)
    policy = make.policy(holder)
    case = RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=date(2026, 11, 1),
                       assigned_agent_id=leaving.id, org_unit_id=unit.id)
    session.add(case)
    session.commit()
    response = api(make.user(Role.ADMIN)).post(f"/api/v1/agents/{leaving.id}/departure",
                                               json={"rule": "agent", "target_agent_id": taking_over.id})
    assert response.status_code == 200, response.json
    session.expire_all()
    assert leaving.status == AgentStatus.INACTIVE
    assert holder.owner_agent_id == taking_over.id and case.assigned_agent_id == taking_over.id
    assert session.scalar(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                 AuditLog.entity_id == holder.id, AuditLog.action == "update"))


def test_departure_refuses_bad_rules_and_other_roles(api, make, session):
    leaving = make.agent()
    admin = api(make.user(Role.ADMIN))
    assert admin.post(f"/api/v1/agents/{leaving.id}/departure", json={"rule": "vanish"}).status_code == 422
    missing = admin.post(f"/api/v1/agents/{leaving.id}/departure", json={"rule": "agent", "target_agent_id": 999999})
    assert missing.status_code == 422 and "target_agent_id" in missing.json["errors"]
    manager = api(make.user(Role.BRANCH_MANAGER, org_unit_id=leaving.org_unit_id))
    assert manager.post(f"/api/v1/agents/{leaving.id}/departure", json={"rule": "pool"}).status_code == 403
    session.expire_all()
    assert leaving.status == AgentStatus.ACTIVE
