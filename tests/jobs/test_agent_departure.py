"""Agent departure: everything the agent held goes to the pool or to a named agent, audited; a refusal changes
nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from agents.departure import deactivate_agent, holdings
from agents.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    AgentStatus,
    Opportunity,
    OpportunityStatus,
    OpportunityTeamMember,
    OrgUnitKind,
    ReferralStatus,
    TaskReason,
)
from insurecrm.auth import issue_token
from insurecrm.models import ApiToken, AuditLog, Role
from policies.models import RenewalCase, RenewalStatus
from policyholders.models import ServiceCategory, ServiceKind, ServiceRequest, ServiceStatus
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

    def activity(status, **task):
        return saved(make, Activity(agent_id=agent.id, org_unit_id=branch.id, kind=ActivityKind.CALL,
                                    subject="Call", planned_start=SOON, status=status, policyholder_id=holders[0].id,
                                    **task))

    def opportunity(status, teammate=None):
        record = saved(make, Opportunity(title="Family cover", owner_agent_id=agent.id, org_unit_id=branch.id,
                                         stage_id=stage.id, probability=5, status=status,
                                         policyholder_id=holders[0].id))
        saved(make, OpportunityTeamMember(opportunity_id=record.id, agent_id=teammate or agent.id, role="member"))
        return record

    def request(status):
        return saved(make, ServiceRequest(policyholder_id=holders[1].id, kind=ServiceKind.SERVICE,
                                          category=ServiceCategory.POLICY_CHANGE, subject="Change address",
                                          due_at=SOON, status=status, assigned_agent_id=agent.id))

    stage = make.stage()
    colleague = make.agent(branch)
    login = make.user(Role.AGENT, agent_id=agent.id)
    issue_token(login)
    referrer = make.referrer()
    make.session.commit()
    teamed = opportunity(OpportunityStatus.OPEN, teammate=colleague.id)  # the agent owns it and is on its team
    saved(make, OpportunityTeamMember(opportunity_id=teamed.id, agent_id=agent.id, role="lead"))
    return {"company": company, "branch": branch, "agent": agent, "holders": holders, "login": login,
            "open_case": case(policy, RenewalStatus.QUOTED), "closed_case": case(other, RenewalStatus.RENEWED),
            "planned": activity(ActivityStatus.PLANNED), "done": activity(ActivityStatus.DONE),
            "task": activity(ActivityStatus.PLANNED, reason=TaskReason.RENEWAL_CALL, due_date=SOON.date(),
                             source_key="renewal_reminder:policy=1:offset=30"),
            "done_task": activity(ActivityStatus.DONE, reason=TaskReason.KEY_CUSTOMER_CALL, due_date=SOON.date()),
            "open_opportunity": opportunity(OpportunityStatus.OPEN), "teamed": teamed,
            "won": opportunity(OpportunityStatus.WON), "colleague": colleague,
            "referral": make.referral(referrer, specialist_agent_id=agent.id, status=ReferralStatus.ACCEPTED),
            "converted": make.referral(referrer, specialist_agent_id=agent.id, status=ReferralStatus.CONVERTED),
            "open_request": request(ServiceStatus.IN_PROGRESS), "resolved": request(ServiceStatus.RESOLVED),
            "admin": make.user(Role.ADMIN)}


EVERYTHING = {"renewal_cases": 1, "policyholders": 2, "tasks": 1, "activities": 1, "opportunities": 2,
              "referrals": 1, "service_requests": 1, "team_memberships": 2}


def audit_rows(session, entity_type) -> list[AuditLog]:
    """The updates audited for ``entity_type`` (the factories' creations aside)."""
    return list(session.scalars(select(AuditLog).where(AuditLog.entity_type == entity_type, AuditLog.action == "update")
                                .order_by(AuditLog.id)))


def test_the_departure_page_counts_what_the_agent_holds(book):
    assert holdings(book["agent"]) == EVERYTHING


def test_the_pool_rule_leaves_the_book_in_the_unit_without_an_agent(book, session):
    agent, admin = book["agent"], book["admin"]
    moved = deactivate_agent(agent, rule="pool", actor=admin)
    assert moved == {**EVERYTHING, "logins": 1}
    assert holdings(agent) == dict.fromkeys(EVERYTHING, 0)
    session.expire_all()
    assert agent.status == AgentStatus.INACTIVE
    for holder in book["holders"]:
        assert (holder.owner_agent_id, holder.org_unit_id, holder.version) == (None, book["branch"].id, 2)
    assert (book["open_case"].assigned_agent_id, book["open_case"].org_unit_id) == (None, book["branch"].id)
    assert book["closed_case"].assigned_agent_id == agent.id  # history stays as it was
    assert book["planned"].agent_id is None and book["done"].agent_id == agent.id
    assert (book["task"].agent_id, book["task"].org_unit_id) == (None, book["branch"].id)
    assert book["done_task"].agent_id == agent.id
    assert book["open_opportunity"].owner_agent_id is None and book["won"].owner_agent_id == agent.id
    assert book["open_opportunity"].version == 2
    assert [m.agent_id for m in session.scalars(select(OpportunityTeamMember).where(
        OpportunityTeamMember.opportunity_id == book["teamed"].id))] == [book["colleague"].id]
    assert book["referral"].specialist_agent_id is None and book["converted"].specialist_agent_id == agent.id
    assert book["open_request"].assigned_agent_id is None and book["resolved"].assigned_agent_id == agent.id
    for kind, expected in (("activities", {book["planned"].id, book["task"].id}),
                           ("opportunities", {book["open_opportunity"].id, book["teamed"].id}),
                           ("service_requests", {book["open_request"].id}), ("referrals", {book["referral"].id})):
        assert {row.entity_id for row in audit_rows(session, kind)} == expected, kind
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
    assert moved == {**EVERYTHING, "logins": 1}
    session.expire_all()
    for holder in book["holders"]:
        assert (holder.owner_agent_id, holder.org_unit_id) == (successor.id, other_branch.id)
    assert (book["open_case"].assigned_agent_id, book["open_case"].org_unit_id) == (successor.id, other_branch.id)
    assert (book["planned"].agent_id, book["planned"].org_unit_id) == (successor.id, other_branch.id)
    assert (book["task"].agent_id, book["task"].org_unit_id) == (successor.id, other_branch.id)
    opportunity = book["open_opportunity"]
    assert (opportunity.owner_agent_id, opportunity.org_unit_id) == (successor.id, other_branch.id)
    teams = {(m.opportunity_id, m.agent_id, m.role) for m in session.scalars(select(OpportunityTeamMember).where(
        OpportunityTeamMember.opportunity_id.in_([opportunity.id, book["teamed"].id])))}
    assert teams == {(opportunity.id, successor.id, "member"), (book["teamed"].id, book["colleague"].id, "member"),
                     (book["teamed"].id, successor.id, "lead")}
    assert book["referral"].specialist_agent_id == successor.id
    assert book["open_request"].assigned_agent_id == successor.id and book["resolved"].assigned_agent_id == agent.id
    [team_audit] = [row for row in audit_rows(session, "opportunities")
                    if row.entity_id == book["teamed"].id and "team" in row.changes]
    assert team_audit.changes == {"team": [agent.id, successor.id]}
    assert all(row.changes == {"owner_agent_id": [agent.id, successor.id],
                               "org_unit_id": [book["branch"].id, other_branch.id]}
               for row in audit_rows(session, "policyholders"))
    assert len(audit_rows(session, "policyholders")) == 2


def test_deactivating_again_hands_on_only_what_is_left(book, make, session):
    deactivate_agent(book["agent"], rule="pool", actor=book["admin"])
    late = make.policyholder(owner=book["agent"])  # e.g. imported with the departed agent as owner
    moved = deactivate_agent(book["agent"], rule="pool", actor=book["admin"])
    assert moved == {**dict.fromkeys(EVERYTHING, 0), "policyholders": 1, "logins": 1}
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
