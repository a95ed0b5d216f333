"""Channel performance: new premium, 13th-month persistency, loss ratio, commission and contribution per sales
channel, bank partner, bank branch or referrer (docs/metrics.md, "Channel performance").

Each figure is the one its own report computes: earned premium, claims, commissions and contribution from
:func:`reports.earned.policy_figures`, persistency from :func:`reports.persistency.persistency_statement`, new
business from :func:`reports.services.new_business`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, Subquery, case, func, literal, nulls_last, or_, select, union_all

from agents.models import BankBranch, Referrer
from insurecrm.models import User
from policies.models import Policy
from reports.catalogue import ANALYSTS, report
from reports.drill import group_link
from reports.earned import money, policy_figures, rate
from reports.filters import Filters, ReportArgs, choice, policies_in_scope
from reports.persistency import Dimension, dimensions, group_column, group_columns, joined, persistency_statement
from reports.services import annualised_premium, new_business
from reports.tables import Chart, Column, ReportResult, Table

GROUPS = {"channel": _l("Channel"), "bank_partner": _l("Bank partner"), "bank_branch": _l("Bank branch"),
          "referrer": _l("Referrer")}
#: the policy month at which persistency is shown
PERSISTENCY_MONTH = 13


class ChannelArgs(ReportArgs):
    group_by = choice(GROUPS, label=_l("Group by"), default="channel",
                      description="channel, bank_partner, bank_branch or referrer (the last three: the policies "
                                  "sold through a bank partner, a bank branch or a referrer only).")


def channel_dimension(group_by: str) -> Dimension:
    """How policies are grouped: by channel and bank partner as every report groups them; by the bank branch and
    the referrer (a person: their id, named) that sold the policy."""
    if group_by in ("channel", "bank_partner"):
        return dimensions()[group_by]
    if group_by == "bank_branch":
        name = select(BankBranch.name).where(BankBranch.id == Policy.bank_branch_id).scalar_subquery()
        return Dimension(GROUPS["bank_branch"], "text", name, key=Policy.bank_branch_id)
    referrer = select(Referrer.name).where(Referrer.id == Policy.referrer_id).scalar_subquery()
    code = select(Referrer.code).where(Referrer.id == Policy.referrer_id).scalar_subquery()
    return Dimension(GROUPS["referrer"], "referrer", Policy.referrer_id, name=referrer, sort=code)


def persistency_filters(filters: Filters) -> Filters:
    """The persistency report's filters whose month-13 base is the new business reaching its 13th month in the
    period: taking effect from 13 months before the period's start, its mark (effective date + 13 months) on or
    before the period's end."""
    return replace(filters, start=filters.start - relativedelta(months=PERSISTENCY_MONTH))


def channel_rows(user: User, filters: Filters, dimension: Dimension) -> Subquery:
    """Per policy (with new business or money in the period), and per group from the persistency table: the group
    and the parts the report sums. The persistency rows carry no money, the policy rows no persistency base."""
    in_scope = policies_in_scope(user, filters)
    figures = policy_figures(filters.start, filters.end, in_scope)
    new = new_business() & (Policy.effective_date >= filters.start) & (Policy.effective_date <= filters.end)
    policies = joined(
        select(*group_columns(dimension), case((new, 1), else_=0).label("new_policies"),
               case((new, annualised_premium()), else_=0).label("new_premium"),
               *(func.coalesce(figures.c[part], 0).label(part)
                 for part in ("earned", "incurred", "commission", "contribution")),
               literal(0).label("base"), literal(0).label("persisting"))
        .select_from(Policy).outerjoin(figures, figures.c.policy_id == Policy.id)
    ).where(in_scope, or_(figures.c.policy_id.is_not(None), new))
    persistency = persistency_statement(user, persistency_filters(filters), dimension).subquery("persistency")
    months = persistency.c
    cohorts = select(months.group_key, months.group, months.group_name, months.group_sort,
                     *(literal(0).label(part) for part in ("new_policies", "new_premium", "earned", "incurred",
                                                           "commission", "contribution")),
                     months[f"base_{PERSISTENCY_MONTH}"].label("base"),
                     months[f"persisting_{PERSISTENCY_MONTH}"].label("persisting"))
    rows = union_all(policies, cohorts).subquery("channel_rows")
    return select(rows).where(rows.c.group_key.is_not(None)).subquery("channel_parts")


def channel_figures(rows: Subquery) -> list:
    earned, incurred = func.sum(rows.c.earned), func.sum(rows.c.incurred)
    return [
        func.sum(rows.c.new_policies).label("new_policies"), money(func.sum(rows.c.new_premium)).label("new_premium"),
        func.sum(rows.c.base).label("base_13"), rate(func.sum(rows.c.persisting), func.sum(rows.c.base))
        .label("persistency_13"),
        money(earned).label("earned"), money(incurred).label("incurred"),
        rate(incurred, earned).label("loss_ratio"), money(func.sum(rows.c.commission)).label("commission"),
        money(func.sum(rows.c.contribution)).label("contribution"),
    ]


def channel_statement(rows: Subquery) -> Select:
    keys = (rows.c.group_key, rows.c.group, rows.c.group_name, rows.c.group_sort)
    return (select(*keys, *channel_figures(rows)).group_by(*keys)
            .order_by(nulls_last(rows.c.group_sort), rows.c.group_key))


def _figure_columns() -> list[Column]:
    return [
        Column("new_policies", _l("New policies"), "int"),
        Column("new_premium", _l("New annualised premium"), "money"),
        Column("base_13", _l("Policies at month 13"), "int"),
        Column("persistency_13", _l("13th-month persistency"), "rate"),
        Column("earned", _l("Earned premium"), "money"),
        Column("incurred", _l("Incurred claims"), "money"),
        Column("loss_ratio", _l("Loss ratio"), "rate"),
        Column("commission", _l("Commissions"), "money"),
        Column("contribution", _l("Contribution"), "money"),
    ]


@report("channels", title=_l("Channel performance"), args=ChannelArgs, roles=ANALYSTS, order=60,
        description=_l("New premium, 13th-month persistency, loss ratio, commission and contribution per channel, "
                       "bank partner, bank branch or referrer."),
        help=(_l("New premium is the annualised premium of the new business taking effect in the period. 13th-month "
                 "persistency is that of the persistency report for the new business whose 13th month falls in the "
                 "period. Loss ratio, commissions and contribution are those of their reports, for the policies sold "
                 "through each channel, bank partner, bank branch or referrer; a channel's contribution counts only "
                 "the service costs recorded against its policies."),))
def channels(user: User, args: dict, today: date) -> ReportResult:
    filters = Filters.from_args(args, today)
    group_by = args.get("group_by") or "channel"
    dimension = channel_dimension(group_by)
    rows = channel_rows(user, filters, dimension)
    return ReportResult(
        tables=[
            Table("channels", _l("Performance by %(group)s", group=GROUPS[group_by]),
                  [group_column(dimension), *_figure_columns()], channel_statement(rows),
                  link=group_link("channels", group_by, finer={"channel": ("channel", "bank_partner")})),
            Table("total", _l("All of them"), _figure_columns(), select(*channel_figures(rows))),
        ],
        charts=[
            Chart("money", _l("New premium and contribution"), "channels", "group", ["new_premium", "contribution"]),
            Chart("rates", _l("Persistency and loss ratio"), "channels", "group", ["persistency_13", "loss_ratio"]),
        ],
        notes=[_l("From %(start)s to %(end)s. New premium: annualised premium of the new business taking effect in "
                  "the period. 13th-month persistency: of the new business whose 13th month (effective date + 13 "
                  "months) falls in the period, the share in force (or renewed) on that date, as the persistency "
                  "report counts it. Loss ratio, commission and contribution as in their reports; the contribution "
                  "of a channel counts the service costs recorded against its policies only.",
                  start=filters.start.isoformat(), end=filters.end.isoformat())],
    )
