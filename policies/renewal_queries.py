"""Reading renewal cases: the worklist rows with their risk flags, and the managers' board figures.

Everything is computed in SQL within the user's scope, a fixed number of queries whatever the size of the
book. The definitions of the board's numbers are in ``docs/metrics.md``; :func:`period_figures` and the
functions after it implement them.

**Risk flags** (:func:`risk_flags`): the quoted premium differs from the current modal premium by more than
``INSURECRM_RENEWAL_PREMIUM_CHANGE_ALERT`` (0.15 by default) of it; the policyholder has no reachable channel
(neither an email with email consent nor a phone with SMS consent); an installment of the expiring policy is
unpaid (due or partially paid) past its due date.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

import agents.permissions  # noqa: F401 - registers the agent scope rule
import policies.permissions  # noqa: F401 - registers the renewal case scope rule
from agents.models import Agent, OrgUnit
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import register, visible, visible_ids
from policies.models import (
    Installment,
    InstallmentStatus,
    LostReason,
    Policy,
    PolicyStatus,
    PremiumFrequency,
    RenewalCase,
    RenewalStatus,
)
from policies.models.approvals import ApprovalStatus, RenewalDiscountApproval
from policyholders.models import Policyholder
from reports.services import month_bucket, month_start

S = RenewalStatus
WORKABLE = (S.OPEN, S.CONTACTED, S.QUOTED)
#: an expiring policy that ended this way left nothing to renew (the insurer's side): out of the rates
INSURER_ENDED = (PolicyStatus.CANCELLED, PolicyStatus.TERMINATED_BY_CLAIM)
#: agents shown on the board's by-agent table and chart (the most cases due first)
BOARD_AGENTS = 50
ZERO = Decimal("0.00")


@register(RenewalDiscountApproval)
def approval_rule(user: User) -> ColumnElement[bool]:
    """A discount request is visible with its case."""
    return RenewalDiscountApproval.renewal_case_id.in_(visible_ids(RenewalCase, user))


# -- risk flags and the worklist rows -------------------------------------------------------------------------

def premium_change_alert() -> Decimal:
    """The relative premium change above which a quote is flagged (``INSURECRM_RENEWAL_PREMIUM_CHANGE_ALERT``)."""
    value = current_app.config.get("RENEWAL_PREMIUM_CHANGE_ALERT")
    if value is None:
        value = os.environ.get("INSURECRM_RENEWAL_PREMIUM_CHANGE_ALERT", "0.15")
    return Decimal(str(value))


def risk_flags(today: date) -> dict[str, ColumnElement[bool]]:
    """The risk flags as SQL conditions on a query joining RenewalCase, its Policy and the Policyholder."""
    alert = premium_change_alert()
    reachable = or_(and_(Policyholder.consent_email.is_(True), func.coalesce(Policyholder.email, "") != ""),
                    and_(Policyholder.consent_sms.is_(True), func.coalesce(Policyholder.phone, "") != ""))
    return {
        "premium_change": and_(RenewalCase.quoted_premium.is_not(None),
                               func.abs(RenewalCase.quoted_premium - Policy.premium) > Policy.premium * alert),
        "no_reachable_channel": ~reachable,
        "missed_payments": exists().where(
            Installment.policy_id == Policy.id, Installment.due_date < today,
            Installment.status.in_((InstallmentStatus.DUE, InstallmentStatus.PARTIALLY_PAID))),
    }


def at_risk(today: date) -> ColumnElement[bool]:
    """Any risk flag."""
    return or_(*risk_flags(today).values())


@dataclass
class CaseView:
    """A case as listed: with its policy, policyholder, assigned agent, risk flags and pending request."""

    case: RenewalCase
    policy: Policy
    holder: Policyholder
    agent: Agent | None
    premium_change: bool
    no_reachable_channel: bool
    missed_payments: bool
    pending_premium: Decimal | None

    @property
    def id(self) -> int:
        return self.case.id

    @property
    def risk(self) -> dict[str, bool]:
        return {"premium_change": bool(self.premium_change), "no_reachable_channel": bool(self.no_reachable_channel),
                "missed_payments": bool(self.missed_payments)}

    @property
    def at_risk(self) -> bool:
        return any(self.risk.values())

    @property
    def days_left(self) -> int:
        return (self.case.due_date - clock.today()).days

    @property
    def change_ratio(self) -> Decimal | None:
        """The quoted premium's change against the current one (−0.1000 is a 10% discount)."""
        if self.case.quoted_premium is None:
            return None
        return ((self.case.quoted_premium - self.policy.premium) / self.policy.premium).quantize(Decimal("0.0001"))


def case_rows(user: User, today: date) -> Select:
    """The cases ``user`` may see, one row per case in :class:`CaseView`'s column order."""
    flags = risk_flags(today)
    pending = (select(RenewalDiscountApproval.premium)
               .where(RenewalDiscountApproval.renewal_case_id == RenewalCase.id,
                      RenewalDiscountApproval.status == ApprovalStatus.PENDING)
               .order_by(RenewalDiscountApproval.id.desc()).limit(1).correlate(RenewalCase).scalar_subquery())
    return (select(RenewalCase, Policy, Policyholder, Agent, *(flag.label(name) for name, flag in flags.items()),
                   pending.label("pending_premium"))
            .join(Policy, Policy.id == RenewalCase.policy_id)
            .join(Policyholder, Policyholder.id == Policy.policyholder_id)
            .outerjoin(Agent, Agent.id == RenewalCase.assigned_agent_id)
            .where(visible(RenewalCase, user)))


def views(rows) -> list[CaseView]:
    return [CaseView(*row) for row in rows]


def case_view(case_id: int, user: User) -> CaseView:
    """One case the user may see as :class:`CaseView` (one query)."""
    return views(db.session.execute(case_rows(user, clock.today()).where(RenewalCase.id == case_id)))[0]


def pending_approvals(user: User) -> Select:
    """The discount requests waiting for a decision that ``user`` may see, oldest first:
    (request, case, policy, policyholder, assigned agent)."""
    return (select(RenewalDiscountApproval, RenewalCase, Policy, Policyholder, Agent)
            .join(RenewalCase, RenewalCase.id == RenewalDiscountApproval.renewal_case_id)
            .join(Policy, Policy.id == RenewalCase.policy_id)
            .join(Policyholder, Policyholder.id == Policy.policyholder_id)
            .outerjoin(Agent, Agent.id == RenewalCase.assigned_agent_id)
            .where(visible(RenewalCase, user), RenewalDiscountApproval.status == ApprovalStatus.PENDING)
            .order_by(RenewalDiscountApproval.requested_at, RenewalDiscountApproval.id))


# -- the board: cases due soon --------------------------------------------------------------------------------

def due_window(today: date, days: int) -> ColumnElement[bool]:
    """Due from today to ``days`` days ahead, both included."""
    return RenewalCase.due_date.between(today, today + timedelta(days=days))


def attention(today: date) -> dict[str, ColumnElement[bool]]:
    """Cases still worked that need a look: not contacted yet, escalated to the manager, at risk."""
    working = RenewalCase.status.in_(WORKABLE)
    return {"not_contacted": working & RenewalCase.first_contacted_at.is_(None),
            "escalated": working & RenewalCase.escalated_at.is_not(None),
            "at_risk": working & at_risk(today)}


@dataclass
class AgentDue:
    agent: Agent | None
    by_status: dict[RenewalStatus, int] = field(default_factory=dict)
    not_contacted: int = 0
    escalated: int = 0
    at_risk: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def due_by_agent(user: User, today: date, days: int) -> list[AgentDue]:
    """Cases due in the next ``days`` days per assigned agent (``None``: the pool) and status, with those not
    contacted, escalated and at risk; the most cases first. One GROUP BY query."""
    flags = attention(today)
    stmt = (select(Agent, RenewalCase.status, func.count(),
                   *(func.coalesce(func.sum(case((flag, 1), else_=0)), 0) for flag in flags.values()))
            .select_from(RenewalCase).join(Policy, Policy.id == RenewalCase.policy_id)
            .join(Policyholder, Policyholder.id == Policy.policyholder_id)
            .outerjoin(Agent, Agent.id == RenewalCase.assigned_agent_id)
            .where(visible(RenewalCase, user), due_window(today, days))
            .group_by(Agent.id, RenewalCase.status))
    rows: dict[int | None, AgentDue] = {}
    for agent, status, count, not_contacted, escalated, risky in db.session.execute(stmt):
        row = rows.setdefault(agent.id if agent else None, AgentDue(agent))
        row.by_status[status] = count
        row.not_contacted += not_contacted
        row.escalated += escalated
        row.at_risk += risky
    return sorted(rows.values(), key=lambda row: (-row.total, row.agent.code if row.agent else ""))


# -- the board: renewal rate over a period ---------------------------------------------------------------------

def annualised(policy) -> ColumnElement:
    """SQL: the annualised premium of ``policy`` (an entity or alias of Policy)."""
    per_year = case(*[(policy.frequency == f, f.per_year) for f in PremiumFrequency], else_=1)
    return policy.premium * per_year


def renewal_join():
    """The renewing policy of a case's policy, when one was written (not a mere quote, not cancelled in its
    cooling-off period): ``(alias, on-clause)`` for an outer join."""
    renewing = aliased(Policy, name="renewing")
    return renewing, and_(renewing.renews_policy_id == RenewalCase.policy_id,
                          renewing.status != PolicyStatus.QUOTED, renewing.cooling_off_cancellation.is_(False))


def _measures(renewing) -> tuple[ColumnElement, ...]:
    renewed = renewing.id.is_not(None)
    counted = or_(Policy.status.not_in(INSURER_ENDED), renewed)
    premium = annualised(Policy)

    def total(condition, value=1):
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    return (total(counted).label("due"), total(renewed), total(counted, premium), total(renewed, premium),
            total(renewed, annualised(renewing)), total(counted & ~renewed & (RenewalCase.status == S.LOST)),
            total(counted & ~renewed & RenewalCase.status.in_(WORKABLE)), total(~counted))


@dataclass
class Rate:
    """The renewal figures of a set of cases due in a period (see docs/metrics.md)."""

    due: int = 0
    renewed: int = 0
    due_premium: Decimal = ZERO
    renewed_premium: Decimal = ZERO
    renewal_premium: Decimal = ZERO
    lost: int = 0
    still_open: int = 0
    excluded: int = 0

    @classmethod
    def of(cls, values) -> Rate:
        due, renewed, due_premium, renewed_premium, renewal_premium, lost, still_open, excluded = values
        return cls(int(due), int(renewed), _money(due_premium), _money(renewed_premium), _money(renewal_premium),
                   int(lost), int(still_open), int(excluded))

    @property
    def by_count(self) -> Decimal | None:
        return _ratio(self.renewed, self.due)

    @property
    def by_premium(self) -> Decimal | None:
        return _ratio(self.renewed_premium, self.due_premium)

    def add(self, other: Rate) -> None:
        for name in ("due", "renewed", "due_premium", "renewed_premium", "renewal_premium", "lost", "still_open",
                     "excluded"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _period(user: User, start: date, end: date, *columns) -> Select:
    renewing, on = renewal_join()
    return (select(*columns, *_measures(renewing)).select_from(RenewalCase)
            .join(Policy, Policy.id == RenewalCase.policy_id).outerjoin(renewing, on)
            .where(visible(RenewalCase, user), RenewalCase.due_date.between(start, end)))


def rate_by_month(user: User, start: date, end: date) -> list[tuple[date, Rate]]:
    """The figures of the cases due in each month from ``start`` to ``end`` (both included), months without
    cases included, oldest first. One GROUP BY query."""
    bucket = month_bucket(RenewalCase.due_date)
    found = {row[0]: Rate.of(row[1:]) for row in db.session.execute(_period(user, start, end, bucket)
                                                                     .group_by(bucket))}
    months, month = [], date(start.year, start.month, 1)
    while month <= end:
        months.append((month, found.get(month.strftime("%Y-%m"), Rate())))
        month = month_start(month, -1)
    return months


def rate_by_agent(user: User, start: date, end: date) -> list[tuple[Agent | None, Rate]]:
    """The figures per assigned agent (``None``: the pool), the most cases due first, at most 50 agents.
    One GROUP BY query."""
    stmt = _period(user, start, end, Agent).outerjoin(Agent, Agent.id == RenewalCase.assigned_agent_id)
    stmt = stmt.group_by(Agent.id).order_by(stmt.selected_columns.due.desc(), Agent.id).limit(BOARD_AGENTS)
    return [(row[0], Rate.of(row[1:])) for row in db.session.execute(stmt)]


def lost_reasons(user: User, start: date, end: date) -> list[tuple[LostReason, int, Decimal]]:
    """Cases due in the period and lost (not renewed by a rewrite either), per reason: count and annualised
    premium, the most frequent (then the most premium) first. One GROUP BY query."""
    renewing, on = renewal_join()
    stmt = (select(RenewalCase.lost_reason, func.count(), func.coalesce(func.sum(annualised(Policy)), 0))
            .select_from(RenewalCase).join(Policy, Policy.id == RenewalCase.policy_id).outerjoin(renewing, on)
            .where(visible(RenewalCase, user), RenewalCase.due_date.between(start, end),
                   RenewalCase.status == S.LOST, renewing.id.is_(None),
                   Policy.status.not_in(INSURER_ENDED))
            .group_by(RenewalCase.lost_reason)
            .order_by(func.count().desc(), func.sum(annualised(Policy)).desc(), RenewalCase.lost_reason))
    return [(reason, count, _money(premium)) for reason, count, premium in db.session.execute(stmt)]


def export_rows(user: User, start: date, end: date) -> Select:
    """One row per case due in the period, with everything the board's numbers are computed from:
    (case, policy, policyholder, agent, unit name, renewing policy number, expiring annualised premium,
    renewing annualised premium, counted, renewed, renewing premium per installment, renewing frequency)."""
    renewing, on = renewal_join()
    renewed = renewing.id.is_not(None)
    return (select(RenewalCase, Policy, Policyholder, Agent, OrgUnit.name, renewing.number, annualised(Policy),
                   annualised(renewing), or_(Policy.status.not_in(INSURER_ENDED), renewed), renewed,
                   renewing.premium, renewing.frequency)
            .join(Policy, Policy.id == RenewalCase.policy_id)
            .join(Policyholder, Policyholder.id == Policy.policyholder_id)
            .join(OrgUnit, OrgUnit.id == RenewalCase.org_unit_id)
            .outerjoin(Agent, Agent.id == RenewalCase.assigned_agent_id).outerjoin(renewing, on)
            .where(visible(RenewalCase, user), RenewalCase.due_date.between(start, end))
            .order_by(RenewalCase.due_date, RenewalCase.id))


def _money(value) -> Decimal:
    """A summed amount as money (SQLite sums NUMERIC as floating point; NULL sums are zero)."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _ratio(part, whole) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None
