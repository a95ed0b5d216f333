"""Daily jobs of the policies domain (registered as ``policies.<name>``); set-based, never a loop over the book."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, exists, insert, literal, select
from sqlalchemy.orm import aliased

from agents.models import Agent, AgentStatus
from insurecrm.db import db, utcnow
from insurecrm.jobs import daily_job
from policies.models import Policy, PolicyStatus, Product, RenewalCase, RenewalStatus

#: statuses of a policy whose renewal is worth working
RENEWABLE_STATUSES = (PolicyStatus.IN_FORCE, PolicyStatus.GRACE, PolicyStatus.REINSTATED)


@daily_job("policies.open_renewal_cases", order=10)
def open_renewal_cases(logical_date: date) -> dict[str, int]:
    """Open a renewal case for every renewable policy that has entered the renewal window
    (``INSURECRM_RENEWAL_WINDOW_DAYS`` before expiry, 60 by default) and has neither a case nor a renewing
    policy yet. The case goes to the servicing agent, or to the unit's pool (no agent) when the agent is
    not active. One ``INSERT … SELECT``: the first run opens every case of the window at once."""
    window_end = logical_date + timedelta(days=current_app.config["RENEWAL_WINDOW_DAYS"])
    renewing = aliased(Policy)
    now = utcnow()
    candidates = (
        select(
            Policy.id, Policy.expiry_date, literal(logical_date),
            select(Agent.id).where(Agent.id == Policy.servicing_agent_id, Agent.status == AgentStatus.ACTIVE)
            .scalar_subquery(),
            Policy.org_unit_id, literal(RenewalStatus.OPEN.value), literal(1), literal(now), literal(now),
        )
        .join(Product, Product.id == Policy.product_id)
        .where(
            Product.renewable.is_(True),
            Policy.status.in_(RENEWABLE_STATUSES),
            Policy.expiry_date > logical_date,
            Policy.expiry_date <= window_end,
            ~exists().where(RenewalCase.policy_id == Policy.id),
            ~exists().where(and_(renewing.renews_policy_id == Policy.id)),
        )
    )
    result = db.session.execute(
        insert(RenewalCase).from_select(
            ["policy_id", "due_date", "opened_on", "assigned_agent_id", "org_unit_id", "status", "version",
             "created_at", "updated_at"],
            candidates,
        ),
        execution_options={"preserve_rowcount": True},  # SQLAlchemy keeps INSERT rowcounts only when asked
    )
    return {"cases_opened": result.rowcount}
