"""An agent's departure: deactivate the agent and hand everything they held on, by the rule the admin chooses.

What moves: their worked renewal cases (open, contacted, quoted), their policyholders, their open tasks and
planned activities, their open opportunities (and their places on the teams of open opportunities), the open
referrals they work (submitted, accepted) and the open service requests assigned to them (open, in progress).

- ``pool``: all of it goes to the unit's pool (no agent) and stays in its unit, where the branch manager sees it
  and hands it out; the agent leaves the teams of open opportunities;
- ``agent``: all of it goes to a named active agent of the same company (the root of the organisation tree);
  the records that carry a unit (policyholders, cases, tasks and activities, opportunities) move to that agent's
  unit, so that the agent's branch manager sees them; the successor takes the departed agent's place on each
  team (once, if already on it).

The agent becomes ``inactive``; the logins linked to the agent are deactivated and their API tokens revoked.
Closed records (renewed cases, done tasks, won or lost opportunities, resolved requests) keep the departed agent:
they are the history of who did the work. Policies keep their servicing agent (the record of who sold and
serviced them, and of who earned the commission); the new owner sees them through the policyholder. Everything
is done in bulk statements, and every record changed is written to the audit log, attributed to ``actor``.
:func:`holdings` counts what an agent holds, for the departure page to show before anything moves.
"""

from __future__ import annotations

import enum
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import ColumnElement, Update, delete, func, insert, select, update

from agents.models import (
    Activity,
    ActivityStatus,
    Agent,
    AgentStatus,
    Opportunity,
    OpportunityStatus,
    OpportunityTeamMember,
    Referral,
    ReferralStatus,
)
from insurecrm import audit
from insurecrm.actor import actor_label
from insurecrm.auth import end_all_sessions
from insurecrm.db import db, utcnow
from insurecrm.models import AuditLog, User
from policies.models import WORKED_CASE_STATUSES, RenewalCase
from policyholders.models import Policyholder, ServiceRequest, ServiceStatus

OPEN_REFERRALS = (ReferralStatus.SUBMITTED, ReferralStatus.ACCEPTED)
OPEN_REQUESTS = (ServiceStatus.OPEN, ServiceStatus.IN_PROGRESS)
#: what moves, in the order the page lists it: (key, model, the field naming the agent, whether the record has a
#: unit that moves with it, the condition of an open record)
HELD = (
    ("renewal_cases", RenewalCase, "assigned_agent_id", True, lambda: RenewalCase.status.in_(WORKED_CASE_STATUSES)),
    ("policyholders", Policyholder, "owner_agent_id", True, lambda: None),
    ("tasks", Activity, "agent_id", True,
     lambda: (Activity.status == ActivityStatus.PLANNED) & Activity.reason.is_not(None)),
    ("activities", Activity, "agent_id", True,
     lambda: (Activity.status == ActivityStatus.PLANNED) & Activity.reason.is_(None)),
    ("opportunities", Opportunity, "owner_agent_id", True, lambda: Opportunity.status == OpportunityStatus.OPEN),
    ("referrals", Referral, "specialist_agent_id", False, lambda: Referral.status.in_(OPEN_REFERRALS)),
    ("service_requests", ServiceRequest, "assigned_agent_id", False, lambda: ServiceRequest.status.in_(OPEN_REQUESTS)),
)


class DepartureRule(enum.StrEnum):
    #: to the unit's pool, for the branch manager to hand out
    POOL = "pool"
    #: to one named agent
    AGENT = "agent"


def holdings(agent: Agent) -> dict[str, int]:
    """What ``agent`` holds that a departure would move, counted (one query): the keys of :data:`HELD` and
    ``team_memberships`` (places on the teams of open opportunities)."""
    counts = [select(func.count()).select_from(model).where(_held(model, field, condition(), agent))
              .scalar_subquery().label(key) for key, model, field, _unit, condition in HELD]
    counts.append(select(func.count()).select_from(OpportunityTeamMember).where(_team_places(agent))
                  .scalar_subquery().label("team_memberships"))
    return dict(db.session.execute(select(*counts)).one()._mapping)


def deactivate_agent(agent: Agent, *, rule: DepartureRule | str, target_agent: Agent | None = None,
                     actor) -> dict[str, int]:
    """Deactivate ``agent`` and hand everything they hold on by ``rule`` (see the module); returns how many of
    each kind moved (the keys of :func:`holdings`) and how many logins were deactivated.

    Refuses (422, nothing changed) an unknown rule (on ``rule``), a target agent with the ``pool`` rule, and
    with the ``agent`` rule a missing target, the departing agent itself, an agent who is not active or one of
    another company (on ``target_agent_id``). An agent already inactive may be deactivated again: whatever
    still hangs on them is handed on."""
    rule = check_departure(agent, rule, target_agent)
    new_agent_id = target_agent.id if rule is DepartureRule.AGENT else None
    new_unit_id = target_agent.org_unit_id if rule is DepartureRule.AGENT else None
    moved = {key: _move(model, field, condition(), agent, new_agent_id, new_unit_id if with_unit else None, actor)
             for key, model, field, with_unit, condition in HELD}
    moved["team_memberships"] = _move_team_places(agent, new_agent_id, actor)
    moved["logins"] = _deactivate_logins(agent, actor)
    departure = {"departure_rule": [None, rule.value], "successor_agent_id": [None, new_agent_id]}
    if agent.status != AgentStatus.INACTIVE:
        departure["status"] = [agent.status.value, AgentStatus.INACTIVE.value]
    _audit(actor, Agent.__tablename__, [(agent.id, departure)])
    audit.not_a_change(agent, "status")  # the row above has it, with the rule
    agent.status = AgentStatus.INACTIVE
    db.session.flush()
    return moved


def check_departure(agent: Agent, rule: DepartureRule | str, target: Agent | None) -> DepartureRule:
    """The rule, checked (see :func:`deactivate_agent` for what is refused); changes nothing."""
    if rule not in set(DepartureRule):
        raise ValidationError({"rule": [f"Choose one of: {', '.join(DepartureRule)}."]})
    rule = DepartureRule(rule)
    errors: list[str] = []
    if rule is DepartureRule.POOL and target is not None:
        errors.append("Only the rule 'agent' hands the book to a named agent.")
    elif rule is DepartureRule.AGENT:
        if target is None:
            errors.append("Name the agent who takes over the book.")
        elif target.id == agent.id:
            errors.append("The book must go to another agent.")
        elif target.status != AgentStatus.ACTIVE:
            errors.append("The agent who takes over must be active.")
        elif _company_of(target) != _company_of(agent):
            errors.append("The agent who takes over must belong to the same company.")
    if errors:
        raise ValidationError({"target_agent_id": errors})
    return rule


def _company_of(agent: Agent) -> str:
    """The root unit of the agent's organisation path (``/1/4/9/`` → ``1``)."""
    return agent.org_unit.path.strip("/").split("/")[0]


def _execute(statement: Update) -> int:
    return db.session.execute(statement.execution_options(synchronize_session="fetch")).rowcount


def _held(model, field: str, condition: ColumnElement[bool] | None, agent: Agent) -> ColumnElement[bool]:
    held = getattr(model, field) == agent.id
    return held if condition is None else held & condition


def _move(model, field: str, condition, agent: Agent, agent_id: int | None, unit_id: int | None, actor) -> int:
    """Hand the open records of ``model`` that ``agent`` holds to ``agent_id`` (and ``unit_id``, when given);
    one audit row each."""
    unit_column = getattr(model, "org_unit_id", None)
    records = db.session.execute(
        select(model.id, unit_column if unit_column is not None else model.id)
        .where(_held(model, field, condition, agent))
    ).all()
    if not records:
        return 0
    values = {field: agent_id, "updated_at": utcnow()}
    if hasattr(model, "version"):
        values["version"] = model.version + 1
    if unit_id is not None and unit_column is not None:
        values["org_unit_id"] = unit_id
    _execute(update(model).where(model.id.in_([record_id for record_id, _ in records])).values(**values))
    _audit(actor, model.__tablename__, [
        (record_id, _changes(agent.id, agent_id, unit, unit_id if unit_column is not None else None, field))
        for record_id, unit in records])
    return len(records)


def _team_places(agent: Agent) -> ColumnElement[bool]:
    return (OpportunityTeamMember.agent_id == agent.id) & OpportunityTeamMember.opportunity_id.in_(
        select(Opportunity.id).where(Opportunity.status == OpportunityStatus.OPEN))


def _move_team_places(agent: Agent, agent_id: int | None, actor) -> int:
    """The agent leaves the team of each open opportunity; the successor (if any) takes the place, unless
    already on that team. Audited on the opportunity: ``{"team": [departed, successor]}``."""
    places = db.session.execute(select(OpportunityTeamMember.opportunity_id, OpportunityTeamMember.role)
                                .where(_team_places(agent))).all()
    if not places:
        return 0
    ids = [opportunity_id for opportunity_id, _ in places]
    taken = set() if agent_id is None else set(db.session.scalars(
        select(OpportunityTeamMember.opportunity_id).where(OpportunityTeamMember.agent_id == agent_id,
                                                           OpportunityTeamMember.opportunity_id.in_(ids))))
    db.session.execute(delete(OpportunityTeamMember).where(
        OpportunityTeamMember.agent_id == agent.id, OpportunityTeamMember.opportunity_id.in_(ids)))
    if agent_id is not None and len(taken) < len(places):
        db.session.execute(insert(OpportunityTeamMember), [
            {"opportunity_id": opportunity_id, "agent_id": agent_id, "role": role}
            for opportunity_id, role in places if opportunity_id not in taken])
    _audit(actor, Opportunity.__tablename__,
           [(opportunity_id, {"team": [agent.id, agent_id]}) for opportunity_id in ids])
    return len(places)


def _changes(old_agent: int, new_agent: int | None, old_unit: int, new_unit: int | None, field: str) -> dict:
    changes: dict[str, list[Any]] = {field: [old_agent, new_agent]}
    if new_unit is not None and new_unit != old_unit:
        changes["org_unit_id"] = [old_unit, new_unit]
    return changes


def _deactivate_logins(agent: Agent, actor) -> int:
    users = db.session.scalars(select(User).where(User.agent_id == agent.id)).all()
    for user in users:
        end_all_sessions(user)
    active = [user.id for user in users if user.active]
    if active:
        _execute(update(User).where(User.id.in_(active)).values(active=False, updated_at=utcnow()))
        _audit(actor, User.__tablename__, [(user_id, {"active": [True, False]}) for user_id in active])
    return len(users)


def _audit(actor, entity_type: str, changed: list[tuple[int, dict]]) -> None:
    """One audit row per changed record, in one statement (the bulk updates bypass the ORM's audit hook)."""
    base = {"actor_user_id": getattr(actor, "id", None), "actor_label": actor_label(actor), "occurred_at": utcnow(),
            "action": "update", "entity_type": entity_type}
    db.session.execute(insert(AuditLog), [{**base, "entity_id": entity_id, "changes": changes}
                                          for entity_id, changes in changed])
