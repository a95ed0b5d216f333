"""Contribution per policyholder: what each customer brought in over a period, and what they cost (docs/metrics.md,
"Contribution").

For the default period the report reads the figures the daily job ``reports.refresh_figures`` maintains
(:mod:`reports.figures`), once it has refreshed them for that period; for any other period, the live SQL. Both are
summed per policyholder by :func:`holder_figures`, so both give the same rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import marshmallow as ma
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, FromClause, Select, Subquery, and_, func, or_, select
from sqlalchemy.sql.elements import True_

from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible
from policies.models import Policy
from policyholders.models import Policyholder
from reports.catalogue import WITH_AGENTS, report
from reports.earned import holder_service_costs, money, policy_figures, rate
from reports.filters import Filters, ReportArgs, flag, last_twelve_months, policies_in_scope
from reports.models import PolicyFigures, PolicyholderFigures
from reports.tables import Chart, Column, ReportResult, Table

TOP = 20
PARTS = ("earned", "incurred", "commission", "service_cost", "contribution")
#: the sums per policyholder of the figures per policy
SUMMED = ("earned", "incurred", "paid", "commission", "service_cost")


class ContributionArgs(ReportArgs):
    since_first_policy = flag(label=_l("Since the first policy"),
                              description="The whole relationship: from the effective date of the first policy in "
                                          "scope (instead of `start`) to `end`.")

    @ma.validates_schema
    def _one_start(self, data: dict, **_kwargs) -> None:
        if data.get("since_first_policy") and data.get("start"):
            raise ma.ValidationError(str(_l("Give a start date or the whole relationship, not both.")), "start")


def contribution_period(user: User, args: dict, today: date) -> Filters:
    """The filters with the period resolved: the last 12 complete months by default; with ``since_first_policy``,
    from the effective date of the first policy the report covers."""
    filters = Filters.from_args(args, today)
    if not args.get("since_first_policy"):
        return filters
    first = db.session.scalar(select(func.min(Policy.effective_date)).where(policies_in_scope(user, filters)))
    return replace(filters, start=min(first or filters.end, filters.end))


def holder_figures(figures: FromClause, own_costs: FromClause, holders: ColumnElement[bool]) -> Select:
    """The one sum per policyholder, of the live figures and the maintained ones alike: a row per policyholder among
    ``holders`` (a condition on ``Policyholder``) with a row in ``figures`` (per policy: ``policyholder_id`` and
    the :data:`SUMMED` parts) or in ``own_costs`` (``policyholder_id, service_cost``: the costs naming no policy):
    ``policyholder_id``, the parts summed, ``own_service_cost`` (NULL when none), the contribution and the margin.
    Service costs are those of the policies, and those naming none."""
    by_holder = (select(figures.c.policyholder_id, *(func.sum(figures.c[part]).label(part) for part in SUMMED))
                 .group_by(figures.c.policyholder_id).subquery("by_holder"))
    earned, incurred = func.coalesce(by_holder.c.earned, 0), func.coalesce(by_holder.c.incurred, 0)
    paid, commission = func.coalesce(by_holder.c.paid, 0), func.coalesce(by_holder.c.commission, 0)
    service = func.coalesce(by_holder.c.service_cost, 0) + func.coalesce(own_costs.c.service_cost, 0)
    contribution = earned - incurred - commission - service
    return (
        select(Policyholder.id.label("policyholder_id"), earned.label("earned"), incurred.label("incurred"),
               paid.label("paid"), commission.label("commission"), service.label("service_cost"),
               own_costs.c.service_cost.label("own_service_cost"), contribution.label("contribution"),
               _margin(contribution, earned))
        .outerjoin(by_holder, by_holder.c.policyholder_id == Policyholder.id)
        .outerjoin(own_costs, own_costs.c.policyholder_id == Policyholder.id)
        .where(holders, or_(by_holder.c.policyholder_id.is_not(None), own_costs.c.policyholder_id.is_not(None)))
    )


def holder_contribution(user: User, filters: Filters, *, maintained: bool = False) -> Subquery:
    """One row per policyholder ``user`` may see who holds a policy the filters keep and has anything in the period:
    ``policyholder_id, policyholder_name`` and the parts (earned, incurred, commission, service cost), the
    contribution and the margin. Service costs are those naming one of these policies, and those naming none.
    ``maintained``: from the figures the daily refresh keeps (the period must be theirs), else by the live SQL."""
    in_scope = policies_in_scope(user, filters)
    holders = and_(visible(Policyholder, user), Policyholder.id.in_(select(Policy.policyholder_id).where(in_scope)))
    if not maintained:
        rows = holder_figures(policy_figures(filters.start, filters.end, in_scope),
                              holder_service_costs(filters.start, filters.end), holders)
    elif _whole_book(user, filters):  # the stored sums are this reader's as they are
        rows = select(*(PolicyholderFigures.__table__.c[key].label(key) for key in ("policyholder_id", *SUMMED,
                                                                                   "contribution")))
    else:  # the stored figures of the policies this reader may see, summed the same way
        stored = (select(PolicyFigures.policyholder_id, *(PolicyFigures.__table__.c[part] for part in SUMMED))
                  .join(Policy, Policy.id == PolicyFigures.policy_id).where(in_scope).subquery("stored"))
        own = (select(PolicyholderFigures.policyholder_id, PolicyholderFigures.own_service_cost.label("service_cost"))
               .where(PolicyholderFigures.own_service_cost.is_not(None)).subquery("own"))
        rows = holder_figures(stored, own, holders)
    rows = rows.subquery("holder_figures")
    return (
        select(rows.c.policyholder_id, Policyholder.name.label("policyholder_name"),
               *(rows.c[part] for part in ("earned", "incurred", "commission", "service_cost", "contribution")))
        .join(Policyholder, Policyholder.id == rows.c.policyholder_id)
        .subquery("contribution")
    )


def _whole_book(user: User, filters: Filters) -> bool:
    """``user`` sees every policy and policyholder (the scope registry says so) and no filter leaves any out."""
    return (filters.org_unit_id is None and filters.channel is None and filters.product_id is None
            and all(isinstance(visible(model, user), True_) for model in (Policy, Policyholder)))


def _margin(contribution, earned) -> ColumnElement:
    return rate(contribution, earned).label("margin")


def _part_columns() -> list[Column]:
    return [
        Column("earned", _l("Earned premium"), "money"),
        Column("incurred", _l("Incurred claims"), "money"),
        Column("commission", _l("Commissions"), "money"),
        Column("service_cost", _l("Service costs"), "money"),
        Column("contribution", _l("Contribution"), "money"),
        Column("margin", _l("Margin"), "rate"),
    ]


@report("contribution", title=_l("Contribution"), args=ContributionArgs, roles=WITH_AGENTS, order=40,
        description=_l("Per policyholder: earned premium less incurred claims, commissions and service costs, "
                       "in money and as a margin of earned premium."))
def contribution(user: User, args: dict, today: date) -> ReportResult:
    filters = contribution_period(user, args, today)
    as_of = None if args.get("since_first_policy") else maintained_as_of(filters, today)
    rows = holder_contribution(user, filters, maintained=as_of is not None)
    holder = Column("policyholder", _l("Policyholder"), "policyholder", name_key="policyholder_name")
    by_holder = (
        select(rows.c.policyholder_id.label("policyholder"), rows.c.policyholder_name,
               *(money(rows.c[part]).label(part) for part in PARTS), _margin(rows.c.contribution, rows.c.earned))
        .order_by(rows.c.contribution.desc(), rows.c.policyholder_id)
    )
    top = by_holder.limit(TOP).subquery("top")
    totals = select(
        func.count().label("policyholders"),
        *(money(func.coalesce(func.sum(rows.c[part]), 0)).label(part) for part in PARTS),
        _margin(func.sum(rows.c.contribution), func.sum(rows.c.earned)),
    )
    return ReportResult(
        tables=[
            Table("policyholders", _l("Contribution by policyholder"), [holder, *_part_columns()], by_holder,
                  link=policyholder_page),
            Table("summary", _l("Totals"), [Column("policyholders", _l("Policyholders"), "int"), *_part_columns()],
                  totals),
            Table("top", _l("Top %(n)s policyholders by contribution", n=TOP), [holder, *_part_columns()],
                  select(*top.c).order_by(top.c.contribution.desc(), top.c.policyholder), link=policyholder_page),
        ],
        charts=[Chart("top", _l("Top policyholders by contribution"), "top", "policyholder",
                      ["earned", "contribution"])],
        notes=[_l("From %(start)s to %(end)s. Contribution = earned premium (premium received, earned day by day "
                  "over the cover it pays for) − incurred claims (by loss date, rejected claims excluded) − "
                  "commissions (by the date earned) − service costs (requests and complaints opened, interactions "
                  "held, in the period). Margin = contribution ÷ earned premium; none when nothing was earned.",
                  start=filters.start.isoformat(), end=filters.end.isoformat()),
               *([_l("Figures as of %(day)s: the daily refresh of the last twelve complete months.",
                     day=as_of.isoformat())] if as_of else [])],
    )


def policyholder_page(row) -> str:
    """A policyholder's row (or bar) leads to their 360° page."""
    return url_for("policyholders_web.detail", policyholder_id=row["policyholder"])


def maintained_as_of(filters: Filters, today: date) -> date | None:
    """The date of the refresh whose figures the report reads for ``filters``' period: the latest refresh when the
    period is the default one and that refresh was for it; ``None`` (the live SQL) otherwise."""
    from reports import figures  # it sums per policyholder with this module's holder_figures

    if (filters.start, filters.end) != last_twelve_months(today):
        return None
    latest = figures.latest_refresh()
    return latest if latest is not None and last_twelve_months(latest) == (filters.start, filters.end) else None
