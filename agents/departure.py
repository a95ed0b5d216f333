"""An agent's departure: deactivate the agent and hand their book on by the rule the admin chooses.

- ``pool``: the agent's worked renewal cases and planned activities go to their unit's pool (no agent), their
  policyholders lose their owner and stay in their unit, where the branch manager sees and reassigns them;
- ``agent``: all of it goes to a named active agent of the same company (the root of the organisation tree),
  and the policyholders, cases and activities move to that agent's unit, so that the agent's branch manager
  sees them.

Pending outbox tasks addressed to the agent follow the same rule. The agent becomes ``inactive``; the logins
linked to the agent are deactivated and their API tokens revoked. Policies keep their servicing agent (it is
the record of who sold and serviced them, and of who earned the commission); the new owner sees them through
the policyholder. Everything is done in bulk statements, and every change of a policyholder, a renewal case
or a login is written to the audit log, attributed to ``actor``.
"""

from __future__ import annotations

import enum
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import Update, insert, select, update

from agents.models import Activity, ActivityStatus, Agent, AgentStatus
from insurecrm import audit
from insurecrm.actor import actor_label
from insurecrm.auth import end_all_sessions
from insurecrm.db import db, utcnow
from insurecrm.models import AuditLog, Outbox, OutboxChannel, OutboxStatus, User
from policies.models import WORKED_CASE_STATUSES, RenewalCase
from policyholders.models import Policyholder


class DepartureRule(enum.StrEnum):
    #: to the unit's pool, for the branch manager to hand out
    POOL = "pool"
    #: to one named agent
    AGENT = "agent"


def deactivate_agent(agent: Agent, *, rule: DepartureRule | str, target_agent: Agent | None = None,
                     actor) -> dict[str, int]:
    """Deactivate ``agent`` and hand their book on by ``rule`` (see the module); returns how many renewal
    cases, policyholders, activities, outbox tasks and logins moved or changed.

    Refuses (422, nothing changed) an unknown rule (on ``rule``), a target agent with the ``pool`` rule, and
    with the ``agent`` rule a missing target, the departing agent itself, an agent who is not active or one of
    another company (on ``target_agent_id``). An agent already inactive may be deactivated again: whatever
    still hangs on them is handed on."""
    rule = _check(agent, rule, target_agent)
    new_agent_id = target_agent.id if rule is DepartureRule.AGENT else None
    new_unit_id = target_agent.org_unit_id if rule is DepartureRule.AGENT else None
    moved = {
        "renewal_cases": _move_cases(agent, new_agent_id, new_unit_id, actor),
        "policyholders": _move_policyholders(agent, new_agent_id, new_unit_id, actor),
        "activities": _execute(_with_unit(
            update(Activity).where(Activity.agent_id == agent.id, Activity.status == ActivityStatus.PLANNED)
            .values(agent_id=new_agent_id, updated_at=utcnow()), new_unit_id)),
        "tasks": _execute(
            update(Outbox).where(Outbox.agent_id == agent.id, Outbox.channel == OutboxChannel.TASK,
                                 Outbox.status == OutboxStatus.PENDING).values(agent_id=new_agent_id)),
        "logins": _deactivate_logins(agent, actor),
    }
    departure = {"departure_rule": [None, rule.value], "successor_agent_id": [None, new_agent_id]}
    if agent.status != AgentStatus.INACTIVE:
        departure["status"] = [agent.status.value, AgentStatus.INACTIVE.value]
    _audit(actor, Agent.__tablename__, [(agent.id, departure)])
    audit.not_a_change(agent, "status")  # the row above has it, with the rule
    agent.status = AgentStatus.INACTIVE
    db.session.flush()
    return moved


def _check(agent: Agent, rule: DepartureRule | str, target: Agent | None) -> DepartureRule:
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


def _with_unit(statement: Update, unit_id: int | None) -> Update:
    return statement if unit_id is None else statement.values(org_unit_id=unit_id)


def _move_cases(agent: Agent, agent_id: int | None, unit_id: int | None, actor) -> int:
    cases = db.session.execute(
        select(RenewalCase.id, RenewalCase.org_unit_id)
        .where(RenewalCase.assigned_agent_id == agent.id, RenewalCase.status.in_(WORKED_CASE_STATUSES))
    ).all()
    if not cases:
        return 0
    _execute(_with_unit(
        update(RenewalCase).where(RenewalCase.id.in_([case_id for case_id, _ in cases]))
        .values(assigned_agent_id=agent_id, updated_at=utcnow(), version=RenewalCase.version + 1),
        unit_id))
    _audit(actor, RenewalCase.__tablename__,
           [(case_id, _changes(agent.id, agent_id, unit, unit_id, "assigned_agent_id")) for case_id, unit in cases])
    return len(cases)


def _move_policyholders(agent: Agent, agent_id: int | None, unit_id: int | None, actor) -> int:
    holders = db.session.execute(
        select(Policyholder.id, Policyholder.org_unit_id).where(Policyholder.owner_agent_id == agent.id)
    ).all()
    if not holders:
        return 0
    _execute(_with_unit(
        update(Policyholder).where(Policyholder.id.in_([holder_id for holder_id, _ in holders]))
        .values(owner_agent_id=agent_id, updated_at=utcnow(), version=Policyholder.version + 1),
        unit_id))
    _audit(actor, Policyholder.__tablename__,
           [(holder_id, _changes(agent.id, agent_id, unit, unit_id, "owner_agent_id")) for holder_id, unit in holders])
    return len(holders)


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
