"""Breakdowns of the book (多维分析): policyholders, policies, premium and lapses by occupation, region, age band,
gender or income band — one dimension, or two crossed.

The book here is the policies the user may see that the filters keep, and their policyholders. Definitions
(docs/metrics.md, "Breakdowns of the book"):

- policyholders: distinct policyholders holding a policy of the book in force at the period's end;
- policies in force and annualised premium in force at the period's end (``reports.book.in_force_as_of``);
- new policies: new business effective in the period (``reports.services.new_business``);
- lapses: policies whose status moved to lapsed with an effective date inside the period;
- contribution: the contribution of the group's policies over the period (``reports.earned.policy_figures``), less
  the service costs of the period that name no policy, once per policyholder;
- lapse rate: lapses ÷ policies in force at the end of the day before the period (NULL when none was).

Age bands are taken on the period's end from the date of birth. A policyholder without a value (an organisation's
age, an empty region or occupation) is counted in a group of its own, shown as "—".
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import has_request_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, literal, select

from insurecrm.models import User
from policies.models import Policy, PolicyStatus, PolicyStatusChange
from policyholders.models import AGE_BANDS, Policyholder
from reports import services, sql
from reports.book import in_force_as_of
from reports.catalogue import ANALYSTS, report
from reports.earned import holder_service_costs, money, policy_figures
from reports.filters import Filters, ReportArgs, choice, policies_in_scope
from reports.tables import Chart, Column, ReportResult, Table

DIMENSIONS = {"occupation": _l("Occupation"), "region": _l("Region"), "age_band": _l("Age band"),
              "gender": _l("Gender"), "income_band": _l("Income band")}
#: how each dimension's codes are shown
DIMENSION_KINDS = {"occupation": "text", "region": "text", "age_band": "label:age_band", "gender": "label:gender",
                   "income_band": "label:income_band"}


class BreakdownArgs(ReportArgs):
    by = choice(DIMENSIONS, label=_l("Break down by"), default="age_band")
    then_by = choice({"": _l("Nothing more"), **DIMENSIONS}, label=_l("Then by"), default="")


def dimension(key: str, on: date):
    """SQL expression of a policyholder's value for the dimension ``key`` (NULL when it has none)."""
    if key == "age_band":
        age = sql.age_on(Policyholder.date_of_birth, on)
        return case(*[(age.between(low, high), literal(code)) for code, low, high in AGE_BANDS], else_=None)
    if key in ("occupation", "region"):
        return func.nullif(getattr(Policyholder, key), "")
    return {"gender": Policyholder.gender, "income_band": Policyholder.income_band}[key]


@report("breakdowns", title=_l("Breakdowns of the book"), args=BreakdownArgs, roles=ANALYSTS, order=80,
        description=_l("Policyholders, policies, premium and lapses by occupation, region, age band, gender or "
                       "income band; two dimensions crossed."),
        help=(_l("The book is the policies in your scope that the filters keep, grouped by a trait of their "
                 "policyholder (age bands on the period's end). Policyholders and policies in force, and their "
                 "annualised premium, are counted on the period's end; new policies are the new business taking "
                 "effect in the period; contribution is that of the Contribution report for the group's policies "
                 "(costs that name no policy counted once per policyholder); lapses are the lapses taking effect in "
                 "it. Lapse rate = lapses ÷ policies in force the day before the period starts."),))
def breakdowns(user: User, args: dict, today: date) -> ReportResult:
    filters = Filters.from_args(args, today)
    keys = [args["by"]] + ([args["then_by"]] if args.get("then_by") and args["then_by"] != args["by"] else [])
    groups = [dimension(key, filters.end).label(f"dim_{n}") for n, key in enumerate(keys)]
    in_scope = policies_in_scope(user, filters)
    at_end, at_start = in_force_as_of(filters.end), in_force_as_of(filters.start - timedelta(days=1))
    lapses = (select(PolicyStatusChange.policy_id, func.count().label("lapses"))
              .where(PolicyStatusChange.to_status == PolicyStatus.LAPSED,
                     PolicyStatusChange.effective_date.between(filters.start, filters.end))
              .group_by(PolicyStatusChange.policy_id).subquery())
    new = services.new_business() & Policy.effective_date.between(filters.start, filters.end)
    # contribution: each policy's (reports.earned), and the costs that name no policy once per policyholder, at
    # their first policy of the book, so that a policyholder with several policies is not charged twice
    figures = policy_figures(filters.start, filters.end, in_scope)
    holder_costs = holder_service_costs(filters.start, filters.end)
    first_policy = (select(Policy.policyholder_id, func.min(Policy.id).label("first_id"))
                    .where(in_scope, Policy.status != PolicyStatus.QUOTED).group_by(Policy.policyholder_id)
                    .subquery("first_policy"))
    charged_once = case((Policy.id == first_policy.c.first_id, func.coalesce(holder_costs.c.service_cost, 0)),
                        else_=0)
    contribution = func.sum(func.coalesce(figures.c.contribution, 0)) - func.sum(charged_once)
    in_force = func.count(case((at_end, Policy.id)))
    starting = func.count(case((at_start, Policy.id)))
    lapsed = func.coalesce(func.sum(lapses.c.lapses), 0)
    statement = (
        select(*groups,
               func.count(func.distinct(case((at_end, Policy.policyholder_id)))).label("policyholders"),
               in_force.label("in_force"),
               func.coalesce(func.sum(case((at_end, services.annualised_premium()))), 0).label("premium"),
               func.count(case((new, Policy.id))).label("new_policies"),
               money(contribution).label("contribution"),
               lapsed.label("lapses"), sql.ratio(lapsed, starting).label("lapse_rate"))
        .select_from(Policy).join(Policyholder, Policyholder.id == Policy.policyholder_id)
        .outerjoin(lapses, lapses.c.policy_id == Policy.id)
        .outerjoin(figures, figures.c.policy_id == Policy.id)
        .outerjoin(first_policy, first_policy.c.policyholder_id == Policy.policyholder_id)
        .outerjoin(holder_costs, holder_costs.c.policyholder_id == Policy.policyholder_id)
        .where(in_scope, Policy.status != PolicyStatus.QUOTED)
        .group_by(*[group.element for group in groups])
        .order_by(*[group.element for group in groups])
    )
    columns = [Column(f"dim_{n}", DIMENSIONS[key], DIMENSION_KINDS[key]) for n, key in enumerate(keys)]
    columns += [Column("policyholders", _l("Policyholders"), "int"), Column("in_force", _l("Policies in force"), "int"),
                Column("premium", _l("Annualised premium in force"), "money"),
                Column("new_policies", _l("New policies"), "int"),
                Column("contribution", _l("Contribution"), "money"), Column("lapses", _l("Lapses"), "int"),
                Column("lapse_rate", _l("Lapse rate"), "rate")]
    table = Table("breakdown", _l("The book by %(dimension)s", dimension=DIMENSIONS[keys[0]]), columns, statement,
                  link=_policyholder_list(keys))
    charts = [Chart("premium", _l("Annualised premium in force and lapse rate"), "breakdown", "dim_0",
                    ["premium", "lapse_rate"], secondary=["lapse_rate"])] if len(keys) == 1 else []
    return ReportResult([table], charts)


def _policyholder_list(keys: list[str]):
    """A group's row (or bar) opens the policyholder list filtered by the group's traits. The list takes an age band
    on today's date (it takes no other day: a pseudonymised reader could otherwise find a birth date by moving the
    day), so a band may hold a few more or fewer policyholders there than on the period's end. A group without a
    value ("—") opens nothing: the list cannot filter on a trait left empty."""
    def link(row) -> str | None:
        if not has_request_context():
            return None
        values = {key: row[f"dim_{n}"] for n, key in enumerate(keys)}
        if any(value is None for value in values.values()):
            return None
        return url_for("policyholders_web.index", **values)

    return link
