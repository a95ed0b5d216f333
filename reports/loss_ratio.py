"""Loss ratios: incurred and paid claims over earned premium, by product, channel, agent, branch or issue year
(docs/metrics.md, "Loss ratio"). The figures are those of :func:`reports.earned.policy_figures`; the groupings are
the persistency report's (:func:`reports.persistency.dimensions`), so a branch or a cohort means the same there."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, Subquery, func, nulls_last, select

from insurecrm.models import User
from policies.models import Policy
from reports.catalogue import ANALYSTS, report
from reports.drill import group_link
from reports.earned import money, policy_figures, rate
from reports.filters import Filters, ReportArgs, choice, policies_in_scope
from reports.persistency import Dimension, dimensions, group_column, group_columns, joined
from reports.tables import Chart, Column, ReportResult, Table

GROUPS = {"product": _l("Product"), "channel": _l("Channel"), "agent": _l("Agent"), "branch": _l("Branch"),
          "issue_year": _l("Issue year (cohort)")}


class LossRatioArgs(ReportArgs):
    group_by = choice(GROUPS, label=_l("Group by"), default="product",
                      description="product, channel, agent, branch (the policy's unit) or issue_year (the year of "
                                  "the effective date).")


def policy_claims(user: User, filters: Filters, dimension: Dimension) -> Subquery:
    """Per policy the user may see with earned premium or claims in the period: its group and its figures."""
    figures = policy_figures(filters.start, filters.end, policies_in_scope(user, filters))
    return joined(
        select(figures.c.earned, figures.c.incurred, figures.c.paid, figures.c.claims, *group_columns(dimension))
        .select_from(Policy).join(figures, figures.c.policy_id == Policy.id)
    ).where((figures.c.earned != 0) | (figures.c.claims > 0)).subquery("policy_claims")


def loss_ratio_figures(policies: Subquery) -> list:
    """The aggregates of a group of :func:`policy_claims` rows."""
    earned, incurred, paid = func.sum(policies.c.earned), func.sum(policies.c.incurred), func.sum(policies.c.paid)
    return [
        func.count().label("policies"), money(func.coalesce(earned, 0)).label("earned"),
        money(func.coalesce(incurred, 0)).label("incurred"), money(func.coalesce(paid, 0)).label("paid"),
        func.coalesce(func.sum(policies.c.claims), 0).label("claims"),
        rate(incurred, earned).label("loss_ratio"), rate(paid, earned).label("paid_loss_ratio"),
    ]


def loss_ratio_statement(policies: Subquery) -> Select:
    keys = (policies.c.group_key, policies.c.group, policies.c.group_name, policies.c.group_sort)
    return (select(*keys, *loss_ratio_figures(policies)).group_by(*keys)
            .order_by(nulls_last(policies.c.group_sort), nulls_last(policies.c.group_key)))


def _figure_columns() -> list[Column]:
    return [
        Column("policies", _l("Policies"), "int"),
        Column("earned", _l("Earned premium"), "money"),
        Column("incurred", _l("Incurred claims"), "money"),
        Column("paid", _l("Paid claims"), "money"),
        Column("claims", _l("Claims"), "int"),
        Column("loss_ratio", _l("Loss ratio"), "rate"),
        Column("paid_loss_ratio", _l("Paid loss ratio"), "rate"),
    ]


@report("loss-ratio", title=_l("Loss ratio"), args=LossRatioArgs, roles=ANALYSTS, order=50,
        description=_l("Incurred and paid claims over earned premium, by product, channel, agent, branch or issue "
                       "year."),
        help=(_l("Loss ratio = incurred claims ÷ earned premium over the period; paid loss ratio = paid claims ÷ "
                 "earned premium. Incurred claims are the amounts paid and still outstanding of the claims whose loss "
                 "date falls in the period, rejected claims left out. Earned premium is the premium received, earned "
                 "day by day over the cover it pays for. No ratio when nothing was earned."),))
def loss_ratio(user: User, args: dict, today: date) -> ReportResult:
    filters = Filters.from_args(args, today)
    dimension = dimensions()[args.get("group_by") or "product"]
    policies = policy_claims(user, filters, dimension)
    return ReportResult(
        tables=[
            Table("loss_ratio", _l("Loss ratio by %(group)s", group=GROUPS[args.get("group_by") or "product"]),
                  [group_column(dimension), *_figure_columns()], loss_ratio_statement(policies),
                  link=group_link("loss-ratio", args.get("group_by") or "product")),
            Table("total", _l("All policies"), _figure_columns(), select(*loss_ratio_figures(policies))),
        ],
        charts=[Chart("loss_ratio", _l("Loss ratios"), "loss_ratio", "group", ["loss_ratio", "paid_loss_ratio"])],
        notes=[_l("From %(start)s to %(end)s. Loss ratio = incurred claims (paid + outstanding, of the claims with a "
                  "loss date in the period, rejected claims excluded) ÷ earned premium (premium received, earned day "
                  "by day over the cover it pays for); paid loss ratio = paid claims ÷ earned premium. None when "
                  "nothing was earned.", start=filters.start.isoformat(), end=filters.end.isoformat())],
    )
