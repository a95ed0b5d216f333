"""Agent departure: the book goes to the pool or to a named agent, audited; a refusal changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from agents.departure import deactivate_agent
from agents.models import Activity, ActivityKind, ActivityStatus, AgentStatus, OrgUnitKind
from insurecrm.auth import issue_token
from insurecrm.models import ApiToken, AuditLog, OutboxChannel, Role
from insurecrm.models import Outbox as OutboxRow
from policies.models import RenewalCase, RenewalStatus
from tests.helpers import saved

SOON = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def book(make):
    """A branch of a company with a departing agent and their book: policyholders, cases, activities, a login."""
    company = make.org_unit()
    branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    agent = make.agent(branch)
    holders = [make.policyholder(owner=agent) for _ in range(2)]
    policy = make.policy(holders[0])
    other = make.policy(holders[1])

    def case(policy, status):
        return saved(make, RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=date(2026, 11, 1),
                                       assigned_agent_id=agent.id, org_unit_id=branch.id, status=status))

    def activity(status):
        return saved(make, Activity(agent_id=agent.id, org_unit_id=branch.id, kind=ActivityKind.CALL,
                                    subject="Call", planned_start=SOON, status=status, policyholder_id=holders[0].id))

    login = make.user(Role.AGENT, agent_id=agent.id)
    issue_token(login)
    task = saved(make, OutboxRow(idempotency_key="task:1", kind="renewal_reminder", channel=OutboxChannel.TASK,
                                 agent_id=agent.id))
    make.session.commit()
    return {"company": company, "branch": branch, "agent": agent, "holders": holders, "login": login, "task": task,
            "open_case": case(policy, RenewalStatus.QUOTED), "closed_case": case(other, RenewalStatus.RENEWED),
            "planned": activity(ActivityStatus.PLANNED), "done": activity(ActivityStatus.DONE),
            "admin": make.user(Role.ADMIN)}


def audit_rows(session, entity_type) -> list[AuditLog]:
    """The updates audited for ``entity_type`` (the factories' creations aside)."""
    return list(session.scalars(select(AuditLog).where(AuditLog.entity_type == entity_type, AuditLog.action == "update")
                                .order_by(AuditLog.id)))


def test_the_pool_rule_leaves_the_book_in_the_unit_without_an_agent(book, session):
    agent, admin = book["agent"], book["admin"]
    moved = deactivate_agent(agent, rule="pool", actor=admin)
    assert moved == {"renewal_cases": 1, "policyholders": 2, "activities": 1, "tasks": 1, "logins": 1}
    session.expire_all()
    assert agent.status == AgentStatus.INACTIVE
    for holder in book["holders"]:
        assert (holder.owner_agent_id, holder.org_unit_id, holder.version) == (None, book["branch"].id, 2)
    assert (book["open_case"].assigned_agent_id, book["open_case"].org_unit_id) == (None, book["branch"].id)
    assert book["closed_case"].assigned_agent_id == agent.id  # history stays as it was
    assert book["planned"].agent_id is None and book["done"].agent_id == agent.id
    assert book["task"].agent_id is None
    assert book["login"].active is False
    assert all(t.revoked_at is not None for t in session.scalars(select(ApiToken).where(
        ApiToken.user_id == book["login"].id)))

    holder_audit = audit_rows(session, "policyholders")
    assert sorted(row.entity_id for row in holder_audit) == sorted(h.id for h in book["holders"])
    assert all(row.changes == {"owner_agent_id": [agent.id, None]} for row in holder_audit)
    assert all((row.actor_user_id, row.actor_label, row.action) == (admin.id, admin.username, "update")
               for row in holder_audit)
    [case_audit] = audit_rows(session, "renewal_cases")
    assert (case_audit.entity_id, case_audit.changes) == (book["open_case"].id, {"assigned_agent_id": [agent.id, None]})
    [login_audit] = audit_rows(session, "users")
    assert login_audit.changes == {"active": [True, False]}
    [agent_audit] = audit_rows(session, "agents")
    assert agent_audit.changes == {"departure_rule": [None, "pool"], "successor_agent_id": [None, None],
                                   "status": ["active", "inactive"]}


def test_the_agent_rule_hands_everything_to_the_named_agent_and_their_unit(book, make, session):
    agent, admin = book["agent"], book["admin"]
    other_branch = make.org_unit(book["company"], kind=OrgUnitKind.BRANCH)
    successor = make.agent(other_branch)
    moved = deactivate_agent(agent, rule="agent", target_agent=successor, actor=admin)
    assert (moved["policyholders"], moved["renewal_cases"], moved["activities"]) == (2, 1, 1)
    session.expire_all()
    for holder in book["holders"]:
        assert (holder.owner_agent_id, holder.org_unit_id) == (successor.id, other_branch.id)
    assert (book["open_case"].assigned_agent_id, book["open_case"].org_unit_id) == (successor.id, other_branch.id)
    assert (book["planned"].agent_id, book["planned"].org_unit_id) == (successor.id, other_branch.id)
    assert book["task"].agent_id == successor.id
    assert all(row.changes == {"owner_agent_id": [agent.id, successor.id],
                               "org_unit_id": [book["branch"].id, other_branch.id]}
               for row in audit_rows(session, "policyholders"))
    assert len(audit_rows(session, "policyholders")) == 2


def test_deactivating_again_hands_on_only_what_is_left(book, make, session):
    deactivate_agent(book["agent"], rule="pool", actor=book["admin"])
    late = make.policyholder(owner=book["agent"])  # e.g. imported with the departed agent as owner
    moved = deactivate_agent(book["agent"], rule="pool", actor=book["admin"])
    assert moved == {"renewal_cases": 0, "policyholders": 1, "activities": 0, "tasks": 0, "logins": 1}
    session.expire_all()
    assert late.owner_agent_id is None and len(audit_rows(session, "policyholders")) == 3


@pytest.mark.parametrize(("rule", "target", "field"), [
    ("leave", None, "rule"),
    ("agent", None, "target_agent_id"),
    ("agent", "self", "target_agent_id"),
    ("agent", "inactive", "target_agent_id"),
    ("agent", "other company", "target_agent_id"),
    ("pool", "colleague", "target_agent_id"),
])
def test_a_refused_departure_changes_nothing(book, make, session, rule, target, field):
    agent = book["agent"]
    targets = {
        None: None, "self": agent,
        "inactive": make.agent(book["branch"], status=AgentStatus.INACTIVE),
        "other company": make.agent(make.org_unit(make.org_unit(), kind=OrgUnitKind.BRANCH)),
        "colleague": make.agent(book["branch"]),
    }
    with pytest.raises(ValidationError) as refused:
        deactivate_agent(agent, rule=rule, target_agent=targets[target], actor=book["admin"])
    assert list(refused.value.messages) == [field]
    session.expire_all()
    assert agent.status == AgentStatus.ACTIVE and book["login"].active
    assert all(holder.owner_agent_id == agent.id for holder in book["holders"])
    assert book["open_case"].assigned_agent_id == agent.id
    assert audit_rows(session, "policyholders") == [] and audit_rows(session, "agents") == []
