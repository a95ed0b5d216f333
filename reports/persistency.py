"""Persistency: the share of new business still in force 13, 25, 37, 49 and 61 months after it took effect, by
count and by annualised premium, per issue cohort, agent, branch, channel, bank partner or product.

The definition is written once, in ``docs/metrics.md`` ("Persistency"); this module is its only implementation. One
SQL statement computes the table: the cohort's policies, each crossed with the months whose mark (effective date
plus N months, clamped to the month's end) is reached by the as-of date, the policy's status on its mark read from
its status history, and a GROUP BY that pivots the months into columns. The status history and the grouping
dimensions are shared with the experience study (:mod:`reports.experience`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from agents.models import Agent, BankPartner, OrgUnit
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import User
from policies.models import (
    IN_FORCE_STATUSES,
    Claim,
    ClaimKind,
    ClaimStatus,
    Policy,
    PolicyStatus,
    PolicyStatusChange,
    Product,
)
from reports.catalogue import ANALYSTS, report
from reports.drill import group_link
from reports.filters import Filters, ReportArgs, choice, last_twelve_months, policies_in_scope
from reports.services import NEW_BUSINESS_TYPES, annualised_premium
from reports.sql import add_months, month_of, ratio
from reports.tables import Chart, Column, ReportResult, Table

#: the policy months at which persistency is measured
MONTHS = (13, 25, 37, 49, 61)
#: how many issue years before the as-of date's year the default period starts: old enough to reach month 61
DEFAULT_COHORT_YEARS = 6
#: a policy with one of these statuses on its mark is still on the books (renewed: its business carries on)
PERSISTING_STATUSES = (*IN_FORCE_STATUSES, PolicyStatus.RENEWED)


# -- the status history, shared with the experience study -----------------------------------------------------

def last_change_id(policy_id, day) -> ColumnElement:
    """SQL scalar: the id of the last change of the status history of ``policy_id`` taking effect on or before
    ``day`` (the later recorded first, on the same date); NULL when there is none. Correlated on ``policy_id``:
    one index probe per row."""
    return (select(PolicyStatusChange.id)
            .where(PolicyStatusChange.policy_id == policy_id, PolicyStatusChange.effective_date <= day)
            .order_by(PolicyStatusChange.effective_date.desc(), PolicyStatusChange.id.desc()).limit(1)
            .correlate_except(PolicyStatusChange).scalar_subquery())


def status_on(change, day, policy_status, policy_status_date) -> ColumnElement:
    """SQL expression: a policy's status on ``day``, given ``change``, its last status change by then (outer-joined
    on :func:`last_change_id`). A policy whose history holds no change by then is judged by its current status
    when that took effect by ``day`` (a policy recorded without history), and in force otherwise."""
    fallback = case((policy_status_date <= day, policy_status), else_=literal(PolicyStatus.IN_FORCE.value))
    return func.coalesce(change.to_status, fallback)


def written_business() -> ColumnElement[bool]:
    """SQL condition on ``Policy``: a policy that was written (not a quote, nor a quote declined: quoted, then
    cancelled without ever being in force)."""
    declined = exists().where(PolicyStatusChange.policy_id == Policy.id,
                              PolicyStatusChange.from_status == PolicyStatus.QUOTED,
                              PolicyStatusChange.to_status == PolicyStatus.CANCELLED)
    return (Policy.status != PolicyStatus.QUOTED) & ~declined


# -- grouping dimensions, shared with the experience study --------------------------------------------------------

@dataclass(frozen=True)
class Dimension:
    """A way of grouping policies: the value shown (``shown``, of column kind ``kind``), the key grouped on (an id
    when names may repeat), the name of a person (``name``) and the order of the rows."""

    label: Any
    kind: str
    shown: Any
    key: Any = None
    name: Any = None
    sort: Any = None


def _year_text(day) -> ColumnElement:
    """The calendar year of a date as text (``'2024'``), the same on both backends."""
    if db.dialect == "postgresql":
        return func.to_char(day, literal_column("'YYYY'"))
    return func.strftime(literal_column("'%Y'"), day)


def dimensions() -> dict[str, Dimension]:
    """The policy dimensions reports group by, as expressions over ``Policy`` outer-joined to :func:`joined`."""
    return {
        "issue_year": Dimension(_l("Issue year"), "text", _year_text(Policy.effective_date)),
        "issue_month": Dimension(_l("Issue month"), "text", month_of(Policy.effective_date)),
        "agent": Dimension(_l("Agent"), "agent", Policy.servicing_agent_id, name=Agent.name, sort=Agent.code),
        "branch": Dimension(_l("Branch"), "text", OrgUnit.name, key=Policy.org_unit_id),
        "channel": Dimension(_l("Channel"), "label:sales_channel", Policy.channel),
        "bank_partner": Dimension(_l("Bank partner"), "text", BankPartner.name, key=Policy.bank_partner_id),
        "product": Dimension(_l("Product"), "text", Product.name, key=Policy.product_id),
        "product_line": Dimension(_l("Product line"), "label:product_line", Product.line),
    }


DIMENSION_LABELS = {
    "issue_year": _l("Issue year"), "issue_month": _l("Issue month"), "agent": _l("Agent"), "branch": _l("Branch"),
    "channel": _l("Channel"), "bank_partner": _l("Bank partner"), "product": _l("Product"),
}


def joined(statement: Select) -> Select:
    """``statement`` (selecting from ``Policy``) with the tables the dimensions read."""
    return (statement.join(Product, Product.id == Policy.product_id)
            .outerjoin(Agent, Agent.id == Policy.servicing_agent_id)
            .outerjoin(OrgUnit, OrgUnit.id == Policy.org_unit_id)
            .outerjoin(BankPartner, BankPartner.id == Policy.bank_partner_id))


def group_columns(dimension: Dimension) -> list[ColumnElement]:
    """The columns a per-policy statement carries for ``dimension``: ``group_key``, ``group``, ``group_name``,
    ``group_sort``."""
    shown = dimension.shown
    return [(dimension.key if dimension.key is not None else shown).label("group_key"), shown.label("group"),
            (dimension.name if dimension.name is not None else null()).label("group_name"),
            (dimension.sort if dimension.sort is not None else shown).label("group_sort")]


def group_column(dimension: Dimension) -> Column:
    """The table column showing the group (a person by id, named by ``group_name``)."""
    return Column("group", dimension.label, dimension.kind,
                  name_key="group_name" if dimension.name is not None else None)


# -- the report -------------------------------------------------------------------------------------------------

class PersistencyArgs(ReportArgs):
    """The period selects the issue (effective) dates of the cohort; its end is the as-of date."""

    group_by = choice(DIMENSION_LABELS, label=_l("Group by"), default="issue_year",
                      description="issue_year, issue_month, agent, branch, channel, bank_partner or product.")

    @ma.post_load
    def _default_period(self, data: dict, **_kwargs) -> dict:
        # the usual twelve months hold no policy old enough for month 13: the default cohorts start six years back
        data.setdefault("end", last_twelve_months(clock.today())[1])
        data.setdefault("start", date(data["end"].year - DEFAULT_COHORT_YEARS, 1, 1))
        if data["start"] > data["end"]:
            raise ma.ValidationError(str(_l("The period ends before it starts.")), "start")
        return data


def persistency_statement(user: User, filters: Filters, dimension: Dimension) -> Select:
    """``SELECT`` of the persistency table: one row per group, the base, persisting and rate by count and by
    annualised premium for each month of :data:`MONTHS`, and the cooling-off cancellations apart."""
    as_of = filters.end
    cohort = joined(select(
        Policy.id.label("policy_id"), Policy.effective_date, Policy.status.label("policy_status"),
        Policy.status_date.label("policy_status_date"), Policy.cooling_off_cancellation.label("cooling_off"),
        annualised_premium().label("premium"), *group_columns(dimension),
    )).where(
        policies_in_scope(user, filters), Policy.business_type.in_(NEW_BUSINESS_TYPES), written_business(),
        Policy.effective_date >= filters.start, Policy.effective_date <= as_of,
    ).cte("cohort")
    # month 0 (the effective date) keeps every cohort policy once: its group and the cooling-off count
    months = union_all(*(select(literal_column(str(n)).label("n")) for n in (0, *MONTHS))).subquery("months")
    mark = add_months(cohort.c.effective_date, months.c.n)
    marks = (select(cohort, months.c.n, mark.label("mark")).select_from(cohort).join(months, true())
             .where(or_(months.c.n == 0, mark <= as_of))).cte("marks")

    with_change = select(marks, last_change_id(marks.c.policy_id, marks.c.mark).label("change_id")).cte("with_change")
    change = aliased(PolicyStatusChange)
    status = status_on(change, with_change.c.mark, with_change.c.policy_status, with_change.c.policy_status_date)
    died = exists().where(Claim.policy_id == with_change.c.policy_id, Claim.kind == ClaimKind.DEATH,
                          Claim.status != ClaimStatus.REJECTED, Claim.loss_date <= with_change.c.mark)
    # deaths and terms that ran out (not after a lapse) leave the base: nobody could have kept such a policy
    left_out = or_(status.in_([PolicyStatus.MATURED, PolicyStatus.TERMINATED_BY_CLAIM]),
                   and_(status == PolicyStatus.EXPIRED,
                        or_(change.from_status.is_(None), change.from_status != PolicyStatus.LAPSED)), died)
    marked = with_change.c
    judged = select(
        marked.group_key, marked.group, marked.group_name, marked.group_sort, marked.n, marked.premium,
        marked.cooling_off,
        case((and_(marked.n > 0, ~marked.cooling_off, ~left_out), 1), else_=0).label("in_base"),
        case((status.in_(PERSISTING_STATUSES), 1), else_=0).label("persists"),
    ).select_from(with_change.outerjoin(change, change.id == marked.change_id)).subquery("judged")

    figures = []
    for n in MONTHS:
        in_base = (judged.c.n == n) & (judged.c.in_base == 1)
        kept = in_base & (judged.c.persists == 1)
        base, persisting = func.sum(case((in_base, 1), else_=0)), func.sum(case((kept, 1), else_=0))
        base_premium = func.sum(case((in_base, judged.c.premium), else_=0))
        persisting_premium = func.sum(case((kept, judged.c.premium), else_=0))
        figures += [base.label(f"base_{n}"), persisting.label(f"persisting_{n}"),
                    ratio(persisting, base).label(f"rate_{n}"),
                    base_premium.label(f"base_premium_{n}"), persisting_premium.label(f"persisting_premium_{n}"),
                    ratio(persisting_premium, base_premium).label(f"premium_rate_{n}")]
    cooling_off = func.sum(case((and_(judged.c.n == 0, judged.c.cooling_off), 1), else_=0)).label("cooling_off")
    keys = (judged.c.group_key, judged.c.group, judged.c.group_name, judged.c.group_sort)
    return (select(*keys, *figures, cooling_off).group_by(*keys)
            .order_by(judged.c.group_sort, judged.c.group_key))


def persistency_columns(dimension: Dimension) -> list[Column]:
    columns = [group_column(dimension)]
    for n in MONTHS:
        columns += [
            Column(f"base_{n}", _l("Month %(n)s: base", n=n), "int"),
            Column(f"persisting_{n}", _l("Month %(n)s: persisting", n=n), "int"),
            Column(f"rate_{n}", _l("Month %(n)s: persistency", n=n), "rate"),
            Column(f"base_premium_{n}", _l("Month %(n)s: base premium", n=n), "money"),
            Column(f"persisting_premium_{n}", _l("Month %(n)s: persisting premium", n=n), "money"),
            Column(f"premium_rate_{n}", _l("Month %(n)s: persistency by premium", n=n), "rate"),
        ]
    return columns + [Column("cooling_off", _l("Cooling-off cancellations"), "int")]


@report("persistency", title=_l("Persistency"), args=PersistencyArgs, roles=ANALYSTS, order=40,
        description=_l("13th to 61st month persistency of new business by count and by annualised premium."),
        help=(_l("The cohort is the new business (new and transferred-in policies, not quotes) taking effect in the "
                 "period; the period's end is the date the book is judged on (without a start, the cohorts of the "
                 "six years before). A policy enters month N's base once its effective date plus N months (the end "
                 "of the month when the day does not exist) is on or before that date, and persists if its status "
                 "history shows it in force, in grace, reinstated or renewed on that day."),
              _l("Deaths, maturities and policies whose term ran out are left out of the base; cooling-off "
                 "cancellations too, counted apart. Persistency = persisting ÷ base, by count and by annualised "
                 "premium; none when the base is empty.")))
def persistency(user: User, args: dict, today: date) -> ReportResult:
    """Persistency of the new business issued in the period, as of the period's end, per ``group_by``."""
    filters = Filters.from_args(args, today)
    dimension = dimensions()[args.get("group_by") or "issue_year"]
    table = Table("persistency", _l("Persistency"), persistency_columns(dimension),
                  persistency_statement(user, filters, dimension),
                  link=group_link("persistency", args.get("group_by") or "issue_year"))
    charts = [
        Chart("persistency", _l("Persistency by count"), "persistency", "group", [f"rate_{n}" for n in MONTHS]),
        Chart("premium_persistency", _l("Persistency by annualised premium"), "persistency", "group",
              [f"premium_rate_{n}" for n in MONTHS]),
    ]
    notes = [
        _l("New business (new and transferred-in policies) taking effect in the period. A policy counts in month N "
           "once its effective date plus N months is on or before the period's end, and persists if it was in "
           "force (or renewed) on that date by its status history."),
        _l("Deaths, maturities and expiries at the end of the term are left out of the base; cooling-off "
           "cancellations are left out and counted apart."),
    ]
    return ReportResult([table], charts, notes)


__all__ = ["MONTHS", "Dimension", "PersistencyArgs", "dimensions", "group_column", "group_columns", "joined",
           "persistency", "status_on", "written_business"]
