"""The departure page: what the agent holds, the rule, a confirm step, and the result."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import select

from agents.models import Activity, ActivityKind, AgentStatus, OrgUnitKind, TaskReason
from insurecrm.models import AuditLog, Role
from policies.models import RenewalCase
from tests.api_client import csrf_token
from tests.helpers import saved


def held(html: str) -> dict[str, int]:
    return {key: int(value) for key, value in re.findall(r'data-held="(\w+)">(\d+)<', html)}


def setup_book(make):
    company = make.org_unit()
    branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    leaving, successor = make.agent(branch, name="Leaving Agent"), make.agent(branch, name="Taking Over")
    holder = make.policyholder(owner=leaving)
    policy = make.policy(holder)
    saved(make, RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=date(2026, 11, 1),
                            assigned_agent_id=leaving.id, org_unit_id=branch.id))
    saved(make, Activity(agent_id=leaving.id, org_unit_id=branch.id, kind=ActivityKind.CALL, subject="Call",
                         planned_start=datetime(2026, 12, 1, tzinfo=UTC), reason=TaskReason.RENEWAL_CALL,
                         due_date=date(2026, 12, 1), policyholder_id=holder.id))
    return leaving, successor, holder


def test_the_admin_reviews_then_confirms_a_departure_to_another_agent(web, make, session):
    leaving, successor, holder = setup_book(make)
    admin = web(make.user(Role.ADMIN))
    assert f"/admin/agents/{leaving.id}/departure" in admin.get("/admin/agents").get_data(as_text=True)

    page = admin.get(f"/admin/agents/{leaving.id}/departure").get_data(as_text=True)
    assert held(page) == {"renewal_cases": 1, "policyholders": 1, "tasks": 1, "activities": 0, "opportunities": 0,
                          "team_memberships": 0, "referrals": 0, "service_requests": 0}
    assert "Taking Over" in page and f'value="{leaving.id}"' not in page  # not a successor of themself

    review = admin.post(f"/admin/agents/{leaving.id}/departure", data={
        "csrf_token": csrf_token(admin), "rule": "agent", "target_agent_id": str(successor.id), "action": "review"})
    text = review.get_data(as_text=True)
    assert review.status_code == 200 and "Confirm the departure" in text and "Taking Over" in text
    session.expire_all()
    assert session.get(type(leaving), leaving.id).status == AgentStatus.ACTIVE  # nothing moved yet

    done = admin.post(f"/admin/agents/{leaving.id}/departure", data={
        "csrf_token": csrf_token(admin), "rule": "agent", "target_agent_id": str(successor.id), "action": "confirm"})
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and 'id="departure-result"' in text
    session.expire_all()
    assert session.get(type(leaving), leaving.id).status == AgentStatus.INACTIVE
    assert session.get(type(holder), holder.id).owner_agent_id == successor.id
    assert session.scalar(select(Activity.agent_id)) == successor.id
    assert session.scalar(select(AuditLog.id).where(AuditLog.entity_type == "agents"))


def test_a_refused_rule_shows_the_form_again_with_its_message(web, make, session):
    leaving, successor, _holder = setup_book(make)
    admin = web(make.user(Role.ADMIN))
    for data, field in (({"rule": "agent"}, "target_agent_id"), ({"rule": "vanish"}, "rule"),
                        ({"rule": "pool", "target_agent_id": str(successor.id)}, "target_agent_id"),
                        ({"rule": "agent", "target_agent_id": "999999"}, "target_agent_id")):
        response = admin.post(f"/admin/agents/{leaving.id}/departure",
                              data={"csrf_token": csrf_token(admin), "action": "confirm", **data})
        assert response.status_code == 422, data
        assert f'id="departure-{field}-error"' in response.get_data(as_text=True), data
    session.expire_all()
    assert session.get(type(leaving), leaving.id).status == AgentStatus.ACTIVE


def test_the_pool_rule_in_chinese(web, make, session):
    leaving, _successor, holder = setup_book(make)
    user = make.user(Role.ADMIN, preferred_language="zh")
    admin = web(user)
    page = admin.get(f"/admin/agents/{leaving.id}/departure").get_data(as_text=True)
    assert "离职" in page
    done = admin.post(f"/admin/agents/{leaving.id}/departure",
                      data={"csrf_token": csrf_token(admin), "rule": "pool", "action": "confirm"})
    assert done.status_code == 200
    session.expire_all()
    assert session.get(type(holder), holder.id).owner_agent_id is None
