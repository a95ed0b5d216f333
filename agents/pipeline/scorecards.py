"""Agent scorecards (绩效考核): per agent and month, quarter or year, the figures an agent is judged on, the targets
their branch manager set, and their rank within their team (docs/metrics.md, "Agent scorecards").

Each figure is one grouped SQL query over the agents asked for (:func:`figures_of`), whatever their number, so a page
of a whole branch costs as much as a page of one agent: new-business premium, renewal rate (as the renewal board
counts it), 13th-month persistency (:func:`reports.persistency.persistency_statement`, the persistency report's own
definition), activities done, conversion rate and complaints. Figures are the agents' own book whoever reads them;
who may read which agent's card is decided by the pages (the agent their own, a manager their branch's).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select

from agents.models import Activity, ActivityStatus, Agent, AgentStatus, Opportunity, OpportunityStatus
from agents.models.pipeline import AgentTarget, ScorecardMetric, ScorecardPeriod
from insurecrm import clock
from insurecrm.api import ArgsSchema, Date, Money, Schema
from insurecrm.db import db
from insurecrm.models import Role, User
from policies.models import BusinessType, Policy, PolicyStatus, RenewalCase
from policies.renewal_queries import INSURER_ENDED, renewal_join
from policyholders.models import Policyholder, ServiceKind, ServiceRequest
from reports.channels import persistency_filters
from reports.filters import MAX_PERIOD_YEARS, Filters, choice
from reports.persistency import dimensions, persistency_statement
from reports.sales import instants
from reports.services import annualised_premium
from reports.sql import ratio

M = ScorecardMetric
PERIODS = {ScorecardPeriod.MONTH.value: _l("Month"), ScorecardPeriod.QUARTER.value: _l("Quarter"),
           ScorecardPeriod.YEAR.value: _l("Year")}
#: metric → (label, kind: money, rate or int, whether more is better)
METRICS: dict[ScorecardMetric, tuple] = {
    M.NEW_BUSINESS_PREMIUM: (_l("New-business premium"), "money", True),
    M.RENEWAL_RATE: (_l("Renewal rate"), "rate", True),
    M.PERSISTENCY_13: (_l("13th-month persistency"), "rate", True),
    M.ACTIVITIES_DONE: (_l("Activities done"), "int", True),
    M.CONVERSION_RATE: (_l("Conversion rate"), "rate", True),
    M.COMPLAINTS: (_l("Complaints"), "int", False),
}
HUNDRED = Decimal(100)


# -- periods ------------------------------------------------------------------------------------------------------

def period_bounds(kind: str, day: date) -> tuple[date, date]:
    """The calendar month, quarter or year holding ``day``: its first and last dates."""
    if kind not in set(ScorecardPeriod):
        raise ValueError(f"unknown period {kind!r}")
    return clock.calendar_period(str(kind), day)


class ScorecardArgs(ArgsSchema):
    """Which scorecard: a month, quarter or year (default: month) holding ``on`` (default: today)."""

    period = choice(PERIODS, label=_l("Period"), default="month", description="month, quarter or year.")
    on = Date(past_years=MAX_PERIOD_YEARS, future_years=1,
              metadata={"label": _l("A day of the period"), "description": "Any day of the period (default: today)."})


# -- the figures --------------------------------------------------------------------------------------------------

def _company() -> User:
    # persistency reads the book through the report's scope filter: the scorecard's is the agents', not the reader's
    return User(role=Role.ADMIN, username="scorecards", display_name="scorecards")


def figures_of(agent_ids: list[int], start: date, end: date, today: date) -> dict[int, dict[ScorecardMetric, object]]:
    """Every figure of each agent of ``agent_ids`` for the period (see the module's docstring): one grouped query
    per figure. A rate over an empty base, and persistency before any cohort reaches month 13 in the period, is
    ``None`` (no figure); counts and money are 0 when nothing happened. Refuses nothing."""
    found: dict[int, dict] = {agent_id: {metric: None for metric in METRICS} for agent_id in agent_ids}
    if not agent_ids:
        return found
    for agent_id in agent_ids:
        found[agent_id].update({M.NEW_BUSINESS_PREMIUM: Decimal("0.00"), M.ACTIVITIES_DONE: 0, M.COMPLAINTS: 0})
    first, after = instants(start, end)

    new_business = (select(Policy.servicing_agent_id, func.sum(annualised_premium()))
                    .where(Policy.servicing_agent_id.in_(agent_ids), Policy.business_type == BusinessType.NEW,
                           Policy.status != PolicyStatus.QUOTED, Policy.cooling_off_cancellation.is_(False),
                           Policy.issue_date.between(start, end))
                    .group_by(Policy.servicing_agent_id))
    for agent_id, premium in db.session.execute(new_business):
        found[agent_id][M.NEW_BUSINESS_PREMIUM] = Decimal(str(premium or 0)).quantize(Decimal("0.01"))

    renewing, on = renewal_join()
    renewed = renewing.id.is_not(None)
    counted = or_(Policy.status.not_in(INSURER_ENDED), renewed)
    renewals = (select(RenewalCase.assigned_agent_id, ratio(func.sum(case((renewed, 1), else_=0)),
                                                            func.sum(case((counted, 1), else_=0))))
                .select_from(RenewalCase).join(Policy, Policy.id == RenewalCase.policy_id).outerjoin(renewing, on)
                .where(RenewalCase.assigned_agent_id.in_(agent_ids), RenewalCase.due_date.between(start, end))
                .group_by(RenewalCase.assigned_agent_id))
    for agent_id, rate in db.session.execute(renewals):
        found[agent_id][M.RENEWAL_RATE] = _rate(rate)

    filters = persistency_filters(Filters(start=start, end=min(end, today)))
    table = persistency_statement(_company(), filters, dimensions()["agent"]).subquery("persistency")
    for agent_id, rate in db.session.execute(select(table.c.group_key, table.c.rate_13)
                                             .where(table.c.group_key.in_(agent_ids))):
        found[agent_id][M.PERSISTENCY_13] = _rate(rate)

    done_at = func.coalesce(Activity.actual_end, Activity.actual_start, Activity.planned_start)
    activities = (select(Activity.agent_id, func.count())
                  .where(Activity.agent_id.in_(agent_ids), Activity.status == ActivityStatus.DONE,
                         done_at >= first, done_at < after)
                  .group_by(Activity.agent_id))
    for agent_id, count in db.session.execute(activities):
        found[agent_id][M.ACTIVITIES_DONE] = count

    won = func.sum(case((Opportunity.status == OpportunityStatus.WON, 1), else_=0))
    conversions = (select(Opportunity.owner_agent_id, ratio(won, func.count()))
                   .where(Opportunity.owner_agent_id.in_(agent_ids),
                          Opportunity.status.in_((OpportunityStatus.WON, OpportunityStatus.LOST)),
                          Opportunity.closed_at >= first, Opportunity.closed_at < after)
                   .group_by(Opportunity.owner_agent_id))
    for agent_id, rate in db.session.execute(conversions):
        found[agent_id][M.CONVERSION_RATE] = _rate(rate)

    complaints = (select(Policyholder.owner_agent_id, func.count(ServiceRequest.id))
                  .join(Policyholder, Policyholder.id == ServiceRequest.policyholder_id)
                  .where(Policyholder.owner_agent_id.in_(agent_ids), ServiceRequest.kind == ServiceKind.COMPLAINT,
                         ServiceRequest.opened_at >= first, ServiceRequest.opened_at < after)
                  .group_by(Policyholder.owner_agent_id))
    for agent_id, count in db.session.execute(complaints):
        found[agent_id][M.COMPLAINTS] = count
    return found


def _rate(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.000001"))


# -- ranks and targets ----------------------------------------------------------------------------------------------

@dataclass
class Figure:
    metric: ScorecardMetric
    value: object
    target: Decimal | None = None
    #: 1 is the best of the team; ``None`` without a figure
    rank: int | None = None
    #: how many of the team have a figure (the rank is "of" them)
    ranked: int = 0

    @property
    def kind(self) -> str:
        return METRICS[self.metric][1]

    @property
    def label(self):
        return METRICS[self.metric][0]

    @property
    def comparable(self) -> Decimal | None:
        """The value in the target's unit: per cent for rates."""
        if self.value is None:
            return None
        return Decimal(str(self.value)) * HUNDRED if self.kind == "rate" else Decimal(str(self.value))

    @property
    def met(self) -> bool | None:
        """Whether the target is met (at least it; at most it for complaints); ``None`` without a target or figure."""
        if self.target is None or self.comparable is None:
            return None
        return self.comparable >= self.target if METRICS[self.metric][2] else self.comparable <= self.target


@dataclass
class Scorecard:
    agent: Agent
    kind: str
    start: date
    end: date
    figures: dict[ScorecardMetric, Figure] = field(default_factory=dict)


def rank(values: dict[int, object], more_is_better: bool) -> dict[int, int]:
    """Competition ranks (1, 2, 2, 4) of the agents with a figure; the best is 1."""
    known = [value for value in values.values() if value is not None]
    ordered = sorted(known, reverse=more_is_better)
    return {agent_id: ordered.index(value) + 1 for agent_id, value in values.items() if value is not None}


def team_members(agents: list[Agent]) -> list[Agent]:
    """The active agents of the units of ``agents``, and ``agents`` themselves (an agent who left keeps a card):
    whom ranks compare. One query."""
    units = {agent.org_unit_id for agent in agents}
    found = {agent.id: agent for agent in db.session.scalars(
        select(Agent).where(Agent.org_unit_id.in_(units), Agent.status == AgentStatus.ACTIVE))}
    found.update({agent.id: agent for agent in agents})
    return sorted(found.values(), key=lambda agent: (agent.code, agent.id))


def scorecards(agents: list[Agent], kind: str, day: date, today: date) -> list[Scorecard]:
    """The scorecards of ``agents`` for the period of ``kind`` holding ``day``: figures, targets and ranks within
    each agent's team (their unit's active agents). A fixed number of queries whatever the number of agents."""
    start, end = period_bounds(kind, day)
    team = team_members(agents)
    figures = figures_of([agent.id for agent in team], start, end, today)
    targets = {(target.agent_id, target.metric): target.target_value for target in db.session.scalars(
        select(AgentTarget).where(AgentTarget.agent_id.in_([agent.id for agent in agents]),
                                  AgentTarget.period_kind == kind, AgentTarget.period_start == start))}
    by_unit: dict[int, list[int]] = defaultdict(list)
    for agent in team:
        by_unit[agent.org_unit_id].append(agent.id)
    ranks = {}
    for unit, members in by_unit.items():
        for metric, (_label, _kind, more_is_better) in METRICS.items():
            values = {agent_id: figures[agent_id][metric] for agent_id in members}
            ranks[(unit, metric)] = (rank(values, more_is_better), sum(v is not None for v in values.values()))
    cards = []
    for agent in agents:
        card = Scorecard(agent, kind, start, end)
        for metric in METRICS:
            ranked, among = ranks[(agent.org_unit_id, metric)]
            card.figures[metric] = Figure(metric, figures[agent.id][metric], targets.get((agent.id, metric)),
                                          ranked.get(agent.id), among)
        cards.append(card)
    return cards


class _TargetsBase(Schema):
    period = choice(PERIODS, label=_l("Period"), default="month")
    on = Date(required=True, past_years=MAX_PERIOD_YEARS, future_years=5)

    @ma.validates_schema
    def _units(self, data: dict, **_kwargs) -> None:
        errors = {}
        for metric, (_label, kind, _better) in METRICS.items():
            value = data.get(metric.value)
            if value is not None and kind == "rate" and value > HUNDRED:
                errors[metric.value] = [str(_l("A rate is at most 100 (per cent)."))]
            if value is not None and kind == "int" and value != value.to_integral_value():
                errors[metric.value] = [str(_l("A count is a whole number."))]
        if errors:
            raise ma.ValidationError(errors)


#: The targets of one agent for one period, as the scorecard's form sends them: the period (``period`` and a day
#: ``on`` of it) and a value per metric, where an empty value removes the metric's target. Money and counts at
#: least 0, rates in per cent from 0 to 100, counts whole.
TargetsSchema = type("TargetsSchema", (_TargetsBase,), {
    metric.value: Money(allow_none=True, validate=ma.validate.Range(min=0), metadata={"label": label})
    for metric, (label, _kind, _better) in METRICS.items()})


def set_targets(agent: Agent, data: dict, *, actor: User) -> int:
    """Set ``agent``'s targets of the period ``data`` names (its ``period`` and a day ``on`` of it) from a loaded
    :class:`TargetsSchema`: each metric given is set, each given empty is removed, the others are kept. Returns
    how many targets changed. Refuses nothing the schema let through. Flushes (audited)."""
    start, _end = period_bounds(data["period"], data["on"])
    existing = {target.metric: target for target in db.session.scalars(
        select(AgentTarget).where(AgentTarget.agent_id == agent.id, AgentTarget.period_kind == data["period"],
                                  AgentTarget.period_start == start))}
    changed = 0
    for metric in METRICS:
        if metric.value not in data:
            continue
        value, target = data[metric.value], existing.get(metric)
        if value is None and target is not None:
            db.session.delete(target)
            changed += 1
        elif value is not None and target is None:
            db.session.add(AgentTarget(agent_id=agent.id, period_kind=data["period"], period_start=start,
                                       metric=metric, target_value=value, set_by_user_id=actor.id))
            changed += 1
        elif value is not None and target.target_value != value:
            target.target_value, target.set_by_user_id = value, actor.id
            changed += 1
    db.session.flush()
    return changed
