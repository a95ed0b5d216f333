"""Earned premium, claims, commissions and service costs of a period, per policy: the one definition of each
that the contribution, loss-ratio and channel reports group by whatever they group by (docs/metrics.md,
"Earned premium").

Every function returns a SQL subquery, never rows: a report joins it to ``Policy`` (or ``Policyholder``) and
groups in the database. A period is two local dates, both included. ``policy_ids`` / ``holder_ids`` (a list of ids,
or a ``SELECT`` of them) narrow a subquery to some policies or policyholders before it groups: the daily refresh of
the maintained figures (:mod:`reports.figures`) computes them a batch at a time, at the cost of the batch rather
than of the book.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Subquery, and_, func, or_, select, type_coerce, union_all

from insurecrm import clock
from insurecrm.db import db
from policies.models import Claim, ClaimStatus, Commission, Installment, Policy
from policyholders.models import Interaction, ServiceRequest
from reports.sql import add_days, as_date, days_between, greatest, least, ratio


def money(expression) -> ColumnElement:
    """A computed amount as the outputs read it, for :func:`reports.tables.cell` to round to the cent (half up).

    PostgreSQL computes it exactly; SQLite in floating point, where an amount falling on half a cent (pro rata
    amounts often do: 2.01 × 1 ÷ 2 = 1.005) may come out a hair below it (1.005 + 0.20 = 1.2049999999999998). Both
    are first rounded to 6 places in SQL (1.205 on both), so that both round to the same cent; SQLite's value is
    handed over as a float (not rounded again by the driver layer)."""
    rounded = func.round(expression, 6)
    return rounded if db.dialect == "postgresql" else type_coerce(rounded, Float)


def rate(numerator, denominator) -> ColumnElement:
    """``numerator ÷ denominator`` of unrounded amounts (NULL over zero), exact enough on PostgreSQL (12 places
    before dividing) that the 6 places shown agree with SQLite's floating point."""
    return ratio(numerator, denominator, places=12)


def _among(column, ids: Any) -> list[ColumnElement[bool]]:
    """``column IN ids`` when ``ids`` is given; no condition otherwise."""
    return [] if ids is None else [column.in_(ids)]


def installment_covers(policies: ColumnElement[bool]) -> Subquery:
    """Each installment of the ``policies`` (a condition on ``Policy``) with its cover: from its due date to the day
    before the next installment's due date (by sequence), the last one to the day before the policy's expiry date,
    so that a single premium covers the whole term. ``cover_end`` is the first day *not* covered. A policy
    cancelled in its cooling-off period is left out: its premium is refunded, nothing was earned."""
    next_due = func.lead(Installment.due_date).over(partition_by=Installment.policy_id,
                                                    order_by=Installment.sequence)
    return (
        select(Installment.policy_id, Installment.paid_amount.label("paid"),
               Installment.due_date.label("cover_start"),
               func.coalesce(next_due, Policy.expiry_date).label("cover_end"))
        .join(Policy, Policy.id == Installment.policy_id)
        .where(policies, Policy.cooling_off_cancellation.is_(False))
        .subquery("covers")
    )


def earned_premium(start: date, end: date, policies: ColumnElement[bool]) -> Subquery:
    """``(policy_id, earned)``: the premium each of the ``policies`` earned from ``start`` to ``end``: for each
    installment, its *paid* amount × days of its cover inside the period ÷ days of its cover (daily pro rata).
    Only policies that earned something in the period have a row."""
    # a policy whose term ended before the period has no cover in it: its installments need no window
    covers = installment_covers(and_(policies, Policy.expiry_date > start))
    after = end + timedelta(days=1)
    # an installment falling due on or after the expiry (a data slip) still covers its due date
    cover_end = greatest(covers.c.cover_end, add_days(covers.c.cover_start, 1))
    inside = days_between(greatest(covers.c.cover_start, as_date(start)), least(cover_end, as_date(after)))
    cover_days = days_between(covers.c.cover_start, cover_end)
    return (
        select(covers.c.policy_id, func.sum(covers.c.paid * inside / cover_days).label("earned"))
        .where(covers.c.paid > 0, covers.c.cover_start < as_date(after), cover_end > as_date(start))
        .group_by(covers.c.policy_id)
        .subquery("earned")
    )


def incurred_claims(start: date, end: date, policy_ids: Any = None) -> Subquery:
    """``(policy_id, incurred, paid, claims)``: the claims with a loss date from ``start`` to ``end`` that were
    not rejected: their incurred amount (paid + outstanding), their paid amount and their number."""
    return (
        select(Claim.policy_id, func.sum(Claim.incurred_amount).label("incurred"),
               func.sum(Claim.paid_amount).label("paid"), func.count().label("claims"))
        .where(Claim.status != ClaimStatus.REJECTED, Claim.loss_date >= start, Claim.loss_date <= end,
               *_among(Claim.policy_id, policy_ids))
        .group_by(Claim.policy_id)
        .subquery("claims")
    )


def commissions(start: date, end: date, policy_ids: Any = None) -> Subquery:
    """``(policy_id, commission)``: commissions (agents' and bank partners') earned from ``start`` to ``end``,
    by their ``earned_on`` date."""
    return (
        select(Commission.policy_id, func.sum(Commission.amount).label("commission"))
        .where(Commission.earned_on >= start, Commission.earned_on <= end, *_among(Commission.policy_id, policy_ids))
        .group_by(Commission.policy_id)
        .subquery("commissions")
    )


def local_day_start(day: date) -> datetime:
    """The instant (UTC) the local ``day`` begins in the insurer's time zone."""
    return datetime.combine(day, time(), clock.zone()).astimezone(UTC)


def _service_costs(start: date, end: date, *, policy_ids: Any = None, holder_ids: Any = None) -> Subquery:
    """``(policyholder_id, policy_id, cost)`` of each service request or complaint opened, and each interaction
    that took place, from ``start`` to ``end`` (local days)."""
    first, after = local_day_start(start), local_day_start(end + timedelta(days=1))
    requests = select(ServiceRequest.policyholder_id, ServiceRequest.policy_id, ServiceRequest.cost.label("cost")) \
        .where(ServiceRequest.opened_at >= first, ServiceRequest.opened_at < after,
               *_among(ServiceRequest.policy_id, policy_ids), *_among(ServiceRequest.policyholder_id, holder_ids))
    interactions = select(Interaction.policyholder_id, Interaction.policy_id, Interaction.cost.label("cost")) \
        .where(Interaction.occurred_at >= first, Interaction.occurred_at < after, Interaction.cost.is_not(None),
               *_among(Interaction.policy_id, policy_ids), *_among(Interaction.policyholder_id, holder_ids))
    return union_all(requests, interactions).subquery("service")


def policy_service_costs(start: date, end: date, policy_ids: Any = None) -> Subquery:
    """``(policy_id, service_cost)``: the cost of the requests, complaints and interactions of the period that
    name the policy."""
    costs = _service_costs(start, end, policy_ids=policy_ids)
    return (select(costs.c.policy_id, func.sum(costs.c.cost).label("service_cost"))
            .where(costs.c.policy_id.is_not(None)).group_by(costs.c.policy_id).subquery("policy_service"))


def holder_service_costs(start: date, end: date, holder_ids: Any = None) -> Subquery:
    """``(policyholder_id, service_cost)``: the cost of the requests, complaints and interactions of the period
    that name no policy (they concern the policyholder as a whole, and no policy, channel or product)."""
    costs = _service_costs(start, end, holder_ids=holder_ids)
    return (select(costs.c.policyholder_id, func.sum(costs.c.cost).label("service_cost"))
            .where(costs.c.policy_id.is_(None)).group_by(costs.c.policyholder_id).subquery("holder_service"))


def policy_figures(start: date, end: date, policies: ColumnElement[bool], *, policy_ids: Any = None) -> Subquery:
    """One row per policy among ``policies`` (a condition on ``Policy``) with anything in the period:
    ``policy_id, policyholder_id, earned, incurred, paid, claims, commission, service_cost, contribution``
    (zeros, not NULLs, for what it has not). ``contribution`` = earned − incurred − commission − service cost
    of the policy. Reports join ``Policy`` on ``policy_id`` and group. ``policy_ids``, when given, must hold the
    ``policies`` (it narrows the claims, commissions and service costs read to theirs)."""
    earned, claims = earned_premium(start, end, policies), incurred_claims(start, end, policy_ids)
    paid_out, service = commissions(start, end, policy_ids), policy_service_costs(start, end, policy_ids)
    parts = {
        "earned": func.coalesce(earned.c.earned, 0), "incurred": func.coalesce(claims.c.incurred, 0),
        "paid": func.coalesce(claims.c.paid, 0), "claims": func.coalesce(claims.c.claims, 0),
        "commission": func.coalesce(paid_out.c.commission, 0), "service_cost": func.coalesce(service.c.service_cost, 0),
    }
    contribution = parts["earned"] - parts["incurred"] - parts["commission"] - parts["service_cost"]
    return (
        select(Policy.id.label("policy_id"), Policy.policyholder_id,
               *(value.label(name) for name, value in parts.items()), contribution.label("contribution"))
        .outerjoin(earned, earned.c.policy_id == Policy.id)
        .outerjoin(claims, claims.c.policy_id == Policy.id)
        .outerjoin(paid_out, paid_out.c.policy_id == Policy.id)
        .outerjoin(service, service.c.policy_id == Policy.id)
        .where(policies, or_(earned.c.policy_id.is_not(None), claims.c.policy_id.is_not(None),
                             paid_out.c.policy_id.is_not(None), service.c.policy_id.is_not(None)))
        .subquery("figures")
    )
