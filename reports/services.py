"""Aggregates of the book, computed in SQL inside the user's scope (never a Python loop over rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Select, case, func, literal_column, select

from agents.models import Activity, ActivityStatus, Agent
from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible
from policies.models import IN_FORCE_STATUSES, BusinessType, Policy, PolicyStatus, PolicyStatusChange, PremiumFrequency
from policyholders.models import Policyholder, ServiceRequest, ServiceStatus


def annualised_premium():
    """SQL expression: a policy's annualised premium (premium × installments per year)."""
    per_year = case(
        *[(Policy.frequency == f, f.per_year) for f in PremiumFrequency],
        else_=1,
    )
    return Policy.premium * per_year


def book_summary(user: User, as_of: date) -> dict:
    """Policyholders by status, and in-force policies with annualised premium by channel, for ``user``'s scope.

    Three grouped queries whatever the size of the book.
    """
    holders = dict(db.session.execute(
        select(Policyholder.status, func.count()).where(visible(Policyholder, user)).group_by(Policyholder.status)
    ).all())
    in_force = (Policy.status.in_(IN_FORCE_STATUSES)) & (Policy.expiry_date > as_of)
    by_channel = db.session.execute(
        select(Policy.channel, func.count(), func.coalesce(func.sum(annualised_premium()), 0))
        .where(visible(Policy, user), in_force)
        .group_by(Policy.channel).order_by(Policy.channel)
    ).all()
    by_status = dict(db.session.execute(
        select(Policy.status, func.count()).where(visible(Policy, user)).group_by(Policy.status)
    ).all())
    channels = [
        {"channel": channel, "policies": count, "annualised_premium": Decimal(premium).quantize(Decimal("0.01"))}
        for channel, count, premium in by_channel
    ]
    return {
        "as_of": as_of,
        "policyholders_by_status": {status.value: n for status, n in holders.items()},
        "policies_by_status": {status.value: n for status, n in by_status.items()},
        "in_force_by_channel": channels,
        "in_force_policies": sum(c["policies"] for c in channels),
        "in_force_annualised_premium": sum((c["annualised_premium"] for c in channels), Decimal("0.00")),
    }


# -- the manager dashboard ---------------------------------------------------------------------------

#: business written, as opposed to renewals of business already on the book
NEW_BUSINESS_TYPES = (BusinessType.NEW, BusinessType.TRANSFER_IN)
OPEN_SERVICE_STATUSES = (ServiceStatus.OPEN, ServiceStatus.IN_PROGRESS)
TREND_MONTHS = 12


def in_force_on(as_of: date):
    """SQL condition: the policy is in force (in force, in grace or reinstated) with cover beyond ``as_of``."""
    return Policy.status.in_(IN_FORCE_STATUSES) & (Policy.expiry_date > as_of)


def new_business():
    """SQL condition: new or transferred-in business that was written — not a mere quote, not a cooling-off
    cancellation (犹豫期退保 is counted apart: the policy never really started)."""
    return (Policy.business_type.in_(NEW_BUSINESS_TYPES) & (Policy.status != PolicyStatus.QUOTED)
            & Policy.cooling_off_cancellation.is_(False))


def month_bucket(column):
    """SQL expression: the calendar month of a date column as ``'YYYY-MM'``, the same text on SQLite and
    PostgreSQL, so that monthly trends are grouped in the database. The format is a literal, not a bound
    parameter, so that PostgreSQL sees the same expression in SELECT and GROUP BY."""
    if db.dialect == "postgresql":
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), column)


def month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month ``months_back`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def dashboard_headline(user: User, today: date, now: datetime) -> dict:
    """In-force policies and annualised premium on ``today``, and open service requests with those past
    their SLA at ``now``, in ``user``'s scope. Two queries whatever the size of the book."""
    policies, premium = db.session.execute(
        select(func.count(), func.coalesce(func.sum(annualised_premium()), 0))
        .where(visible(Policy, user), in_force_on(today))
    ).one()
    requests, breaches = db.session.execute(
        select(func.count(), func.count(case((ServiceRequest.due_at < now, 1))))
        .where(visible(ServiceRequest, user), ServiceRequest.status.in_(OPEN_SERVICE_STATUSES))
    ).one()
    return {"in_force_policies": policies, "in_force_premium": _money(premium),
            "open_requests": requests, "sla_breaches": breaches}


def monthly_trend(user: User, today: date, months: int = TREND_MONTHS) -> list[dict]:
    """New business (count and annualised premium, by effective date) and lapses (by the lapse's effective
    date) per month over the last ``months`` months up to ``today``'s month, oldest first, months without
    any included. One GROUP BY query each, in ``user``'s scope."""
    first, after = month_start(today, months - 1), month_start(today, -1)
    bucket = month_bucket(Policy.effective_date)
    written = {month: (count, premium) for month, count, premium in db.session.execute(
        select(bucket, func.count(), func.coalesce(func.sum(annualised_premium()), 0))
        .where(visible(Policy, user), new_business(), Policy.effective_date >= first, Policy.effective_date < after)
        .group_by(bucket)
    )}
    lapse_bucket = month_bucket(PolicyStatusChange.effective_date)
    lapsed = dict(db.session.execute(
        lapses_between(user, first, after, lapse_bucket, func.count()).group_by(lapse_bucket)
    ).all())
    trend = []
    for back in range(months - 1, -1, -1):
        month = month_start(today, back)
        key = month.strftime("%Y-%m")
        count, premium = written.get(key, (0, 0))
        trend.append({"month": month, "new_policies": count, "new_premium": _money(premium),
                      "lapses": lapsed.get(key, 0)})
    return trend


def premium_by_agent(user: User, as_of: date, limit: int = 20) -> list[dict]:
    """The ``limit`` agents with the most in-force annualised premium on ``as_of`` (agents and policies
    both in ``user``'s scope), largest first. One grouped query."""
    premium = func.sum(annualised_premium()).label("premium")
    rows = db.session.execute(
        select(Agent.id, Agent.code, Agent.name, premium).join(Agent, Agent.id == Policy.servicing_agent_id)
        .where(visible(Policy, user), visible(Agent, user), in_force_on(as_of))
        .group_by(Agent.id, Agent.code, Agent.name).order_by(premium.desc(), Agent.code).limit(limit)
    ).all()
    return [{"agent": row, "premium": _money(row.premium)} for row in rows]


def agents_by_premium(user: User, as_of: date) -> Select:
    """``SELECT Agent`` of the agents in ``user``'s scope, those with the most in-force annualised premium
    on ``as_of`` first (then by code): the statement to page through for a table by agent."""
    book = (
        select(Policy.servicing_agent_id.label("agent_id"), func.sum(annualised_premium()).label("premium"))
        .where(visible(Policy, user), in_force_on(as_of)).group_by(Policy.servicing_agent_id).subquery()
    )
    return (select(Agent).where(visible(Agent, user)).outerjoin(book, book.c.agent_id == Agent.id)
            .order_by(func.coalesce(book.c.premium, 0).desc(), Agent.code))


@dataclass
class AgentFigures:
    """One agent's book in a user's scope: in force, premium, new this month, lapses this month, service."""

    in_force_policies: int = 0
    in_force_premium: Decimal = Decimal("0.00")
    new_policies: int = 0
    new_premium: Decimal = Decimal("0.00")
    lapses: int = 0
    open_requests: int = 0
    sla_breaches: int = 0


def agent_figures(user: User, agent_ids: list[int], today: date, now: datetime) -> dict[int, AgentFigures]:
    """:class:`AgentFigures` of each agent in ``agent_ids`` (their serviced policies, the lapses of those
    policies this month, the service requests assigned to them), counting only what ``user`` may see.
    Three grouped queries however many agents."""
    figures = {agent_id: AgentFigures() for agent_id in agent_ids}
    if not agent_ids:
        return figures
    first, after = month_start(today), month_start(today, -1)
    in_force = in_force_on(today)
    written = new_business() & (Policy.effective_date >= first) & (Policy.effective_date < after)
    agent = Policy.servicing_agent_id
    for agent_id, policies, premium, new, new_premium in db.session.execute(
        select(agent, func.count(case((in_force, 1))), func.sum(case((in_force, annualised_premium()))),
               func.count(case((written, 1))), func.sum(case((written, annualised_premium()))))
        .where(visible(Policy, user), agent.in_(agent_ids)).group_by(agent)
    ):
        figures[agent_id].in_force_policies, figures[agent_id].in_force_premium = policies, _money(premium)
        figures[agent_id].new_policies, figures[agent_id].new_premium = new, _money(new_premium)
    for agent_id, lapses in db.session.execute(
        lapses_between(user, first, after, agent, func.count()).where(agent.in_(agent_ids)).group_by(agent)
    ):
        figures[agent_id].lapses = lapses
    _add_service_figures(figures, user, now)
    return figures


def lapses_between(user: User, first: date, after: date, *columns) -> Select:
    """``SELECT columns`` over the lapses (status changes to lapsed) taking effect from ``first`` to before
    ``after``, of the policies ``user`` may see (``Policy`` is joined)."""
    return (
        select(*columns).select_from(PolicyStatusChange).join(Policy, Policy.id == PolicyStatusChange.policy_id)
        .where(visible(Policy, user), PolicyStatusChange.to_status == PolicyStatus.LAPSED,
               PolicyStatusChange.effective_date >= first, PolicyStatusChange.effective_date < after)
    )


def _add_service_figures(figures: dict[int, AgentFigures], user: User, now: datetime) -> None:
    assignee = ServiceRequest.assigned_agent_id
    for agent_id, requests, breaches in db.session.execute(
        select(assignee, func.count(), func.count(case((ServiceRequest.due_at < now, 1))))
        .where(visible(ServiceRequest, user), assignee.in_(list(figures)),
               ServiceRequest.status.in_(OPEN_SERVICE_STATUSES))
        .group_by(assignee)
    ):
        figures[agent_id].open_requests, figures[agent_id].sla_breaches = requests, breaches


@dataclass
class OverdueTasks:
    """Open tasks past their due date in a user's scope: in all, per agent, assigned to a manager by name, and
    waiting in a unit's pool (no agent, no manager)."""

    total: int = 0
    by_agent: dict[int, int] | None = None
    managers: int = 0
    pool: int = 0


def overdue_tasks(user: User, today: date) -> OverdueTasks:
    """:class:`OverdueTasks` of ``user``'s scope on ``today`` (due before it, still planned). One grouped query
    whatever the size of the book."""
    named = Activity.assignee_user_id.is_not(None)
    rows = db.session.execute(
        select(Activity.agent_id, named, func.count())
        .where(visible(Activity, user), Activity.reason.is_not(None), Activity.status == ActivityStatus.PLANNED,
               Activity.due_date < today)
        .group_by(Activity.agent_id, named)
    ).all()
    figures = OverdueTasks(by_agent={})
    for agent_id, by_name, count in rows:
        figures.total += count
        if agent_id is not None:
            figures.by_agent[agent_id] = figures.by_agent.get(agent_id, 0) + count
        elif by_name:
            figures.managers += count
        else:
            figures.pool += count
    return figures


def policyholder_count(user: User, agent_id: int) -> int:
    """How many policyholders ``agent_id`` owns among those ``user`` may see."""
    return db.session.scalar(
        select(func.count()).select_from(Policyholder)
        .where(visible(Policyholder, user), Policyholder.owner_agent_id == agent_id)
    )


def _money(value) -> Decimal:
    """A summed amount as money (SQLite sums NUMERIC as floating point; NULL sums are zero)."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))
