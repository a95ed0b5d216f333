"""The sales funnel (销售漏斗): open opportunities and their weighted premium per stage, conversion between
consecutive stages, time spent in each stage (median and 90th percentile), a forecast of premium by expected close
month, win rate and lost reasons, by agent, team or branch (docs/metrics.md, "Sales funnel").

Every figure is SQL over the opportunities the user may see (``visible(Opportunity)``) that the filters keep, and
their stage history (``opportunity_stage_changes``); the percentiles are computed with window functions
(``row_number``/``count`` over the stays of a stage), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    exists,
    extract,
    func,
    literal,
    null,
    nulls_last,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased

from agents.models import (
    Agent,
    Opportunity,
    OpportunityLossReason,
    OpportunityProduct,
    OpportunityStageChange,
    OpportunityStatus,
    OrgUnit,
    OrgUnitKind,
    PipelineStage,
)
from insurecrm import labels
from insurecrm.api import Id
from insurecrm.db import db
from insurecrm.models import Role, User
from insurecrm.scope import visible
from policies.models import ProductLine
from reports.catalogue import WITH_AGENTS, report
from reports.earned import local_day_start, money, rate
from reports.filters import Filters, ReportArgs, choice
from reports.persistency import Dimension, group_column, group_columns
from reports.sql import month_of
from reports.tables import Chart, Column, ReportResult, Table

GROUPS = {"agent": _l("Agent"), "team": _l("Team"), "branch": _l("Branch")}
#: the opportunities list (another page of the pipeline); bars link to it only where it exists
OPPORTUNITIES_ENDPOINT = "pipeline_web.opportunities"
#: percentiles as fractions k/d, so that ranks are computed in integers on both databases
MEDIAN, P90 = (1, 2), (9, 10)


class FunnelArgs(ReportArgs):
    group_by = choice(GROUPS, label=_l("Group by"), default="agent",
                      description="agent (the owner), team (the opportunity's unit) or branch (the branch above it).")
    agent_id = Id(metadata={"description": "Only the opportunities this agent owns.", "label": _l("Agent")})


# -- which opportunities ----------------------------------------------------------------------------------------

def opportunities_in_scope(user: User, filters: Filters, agent_id: int | None = None) -> ColumnElement[bool]:
    """SQL condition on ``Opportunity``: those ``user`` may see that the filters keep — the branch (the unit and
    those below it), the channel (of the owner agent), the product (among the opportunity's products), the owner."""
    conditions = [visible(Opportunity, user)]
    if filters.org_unit_id is not None:
        subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(
            select(OrgUnit.path).where(OrgUnit.id == filters.org_unit_id).scalar_subquery(), autoescape=False))
        conditions.append(Opportunity.org_unit_id.in_(subtree))
    if filters.channel is not None:
        conditions.append(Opportunity.owner_agent_id.in_(select(Agent.id).where(Agent.channel == filters.channel)))
    if filters.product_id is not None:
        conditions.append(exists().where(OpportunityProduct.opportunity_id == Opportunity.id,
                                         OpportunityProduct.product_id == filters.product_id))
    if agent_id is not None:
        conditions.append(Opportunity.owner_agent_id == agent_id)
    return and_(true(), *conditions)


def _period(filters: Filters) -> tuple:
    """The period's first instant and the instant after its last day (insurer's time zone)."""
    return local_day_start(filters.start), local_day_start(filters.end + timedelta(days=1))


def _chinese() -> bool:
    try:
        locale = get_locale()
    except (RuntimeError, AttributeError):  # no application or request context: English
        return False
    return locale is not None and locale.language == "zh"


def stage_name(stage=PipelineStage) -> ColumnElement:
    """SQL: a stage's name in the reader's language, followed by its product line for a line's own pipeline."""
    name = func.coalesce(stage.name_zh, stage.name) if _chinese() else stage.name
    line = case({line.value: literal(labels.label(line.value, "product_line")) for line in ProductLine},
                value=stage.product_line, else_=stage.product_line)
    return case((stage.product_line.is_(None), name), else_=name + literal(" (") + line + literal(")"))


def weighted(premium=Opportunity.expected_premium, probability=PipelineStage.probability) -> ColumnElement:
    """SQL: expected premium × the stage's probability (stored in per cent)."""
    return premium * probability / 100


# -- per stage: the open pipeline, conversion, time in stage ----------------------------------------------------

def open_by_stage(in_scope) -> Subquery:
    return (select(Opportunity.stage_id, func.count().label("open"),
                   func.sum(Opportunity.expected_premium).label("premium"))
            .where(in_scope, Opportunity.status == OpportunityStatus.OPEN)
            .group_by(Opportunity.stage_id).subquery("open_by_stage"))


def conversions(in_scope, first, after) -> Subquery:
    """Per stage: the opportunities that entered it in the period (``entered``) and those of them that reached a
    later stage of the pipeline (a higher position, the lost stage aside) from that entry to the period's end
    (``moved_on``)."""
    change = OpportunityStageChange
    entered = (select(change.opportunity_id, change.to_stage_id.label("stage_id"),
                      func.min(change.changed_at).label("entered_at"))
               .join(Opportunity, Opportunity.id == change.opportunity_id)
               .where(in_scope, change.changed_at >= first, change.changed_at < after)
               .group_by(change.opportunity_id, change.to_stage_id).subquery("entered"))
    here, later, later_stage = aliased(PipelineStage), aliased(OpportunityStageChange), aliased(PipelineStage)
    moved_on = (exists().where(later.opportunity_id == entered.c.opportunity_id,
                               later.changed_at >= entered.c.entered_at, later.changed_at < after,
                               later_stage.id == later.to_stage_id, later_stage.position > here.position,
                               later_stage.is_lost.is_(False))
                .correlate(entered, here))
    return (select(entered.c.stage_id, func.count().label("entered"),
                   func.sum(case((moved_on, 1), else_=0)).label("moved_on"))
            .join(here, here.id == entered.c.stage_id)
            .group_by(entered.c.stage_id).subquery("conversions"))


def days_between_instants(start, end) -> ColumnElement:
    """SQL: the days (with their fraction) from the instant ``start`` to the instant ``end``."""
    if db.dialect == "postgresql":
        return extract("epoch", end - start) / 86400
    return func.round(func.julianday(end) - func.julianday(start), 6)


def percentile(ranked: Subquery, fraction: tuple[int, int]) -> ColumnElement:
    """SQL aggregate over ``ranked`` (``days``, its rank ``rn`` from 1 and the count ``n`` of its group): the
    percentile ``k/d`` by linear interpolation between the closest ranks (docs/metrics.md, "Time in stage"):
    position ``h = (n − 1)·k/d`` from 0, the value ``v[⌊h⌋] + (h − ⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋])``."""
    k, d = fraction
    steps = (ranked.c.n - 1) * k
    low, rest = steps // d, steps % d
    return func.sum(case((ranked.c.rn == low + 1, ranked.c.days * (d - rest)),
                         (ranked.c.rn == low + 2, ranked.c.days * rest), else_=0)) / d


def residence(in_scope, first, after) -> Subquery:
    """Per stage: the stays in it that ended in the period (the next stage change of the same opportunity falls in
    the period), their count, median and 90th percentile in days."""
    change = OpportunityStageChange
    left_at = func.lead(change.changed_at).over(partition_by=change.opportunity_id,
                                                order_by=(change.changed_at, change.id))
    stays = (select(change.to_stage_id.label("stage_id"), change.changed_at.label("entered_at"),
                    left_at.label("left_at"))
             .join(Opportunity, Opportunity.id == change.opportunity_id).where(in_scope).subquery("stays"))
    ended = (select(stays.c.stage_id, days_between_instants(stays.c.entered_at, stays.c.left_at).label("days"))
             .where(stays.c.left_at >= first, stays.c.left_at < after).subquery("ended"))
    ranked = select(ended.c.stage_id, ended.c.days,
                    func.row_number().over(partition_by=ended.c.stage_id, order_by=ended.c.days).label("rn"),
                    func.count().over(partition_by=ended.c.stage_id).label("n")).subquery("ranked")
    return (select(ranked.c.stage_id, func.count().label("stays"), percentile(ranked, MEDIAN).label("median_days"),
                   percentile(ranked, P90).label("p90_days"))
            .group_by(ranked.c.stage_id).subquery("residence"))


def stage_statement(in_scope, first, after) -> Select:
    """One row per stage (active, or with a figure), in pipeline order: the default pipeline, then each line's."""
    opened, converted, stayed = open_by_stage(in_scope), conversions(in_scope, first, after), \
        residence(in_scope, first, after)
    closing = or_(PipelineStage.is_won, PipelineStage.is_lost)
    premium = func.coalesce(opened.c.premium, 0)
    entered, moved_on = func.coalesce(converted.c.entered, 0), func.coalesce(converted.c.moved_on, 0)
    return (
        select(PipelineStage.id.label("stage_id"), stage_name().label("stage"),
               (PipelineStage.probability / 100).label("probability"),
               func.coalesce(opened.c.open, 0).label("open"), money(premium).label("expected_premium"),
               money(weighted(premium)).label("weighted_premium"),
               entered.label("entered"), moved_on.label("moved_on"),
               case((closing, null()), else_=rate(moved_on, entered)).label("conversion"),
               func.coalesce(stayed.c.stays, 0).label("stays"), stayed.c.median_days.label("median_days"),
               stayed.c.p90_days.label("p90_days"))
        .select_from(PipelineStage)
        .outerjoin(opened, opened.c.stage_id == PipelineStage.id)
        .outerjoin(converted, converted.c.stage_id == PipelineStage.id)
        .outerjoin(stayed, stayed.c.stage_id == PipelineStage.id)
        .where(or_(PipelineStage.active, opened.c.stage_id.is_not(None), converted.c.stage_id.is_not(None),
                   stayed.c.stage_id.is_not(None)))
        .order_by(case((PipelineStage.product_line.is_(None), 0), else_=1), PipelineStage.product_line,
                  PipelineStage.position, PipelineStage.id)
    )


# -- by close month, by group, lost reasons -----------------------------------------------------------------------

def forecast_statement(in_scope) -> Select:
    """The open opportunities by the month of their expected close date (none: last): count, expected and
    weighted premium."""
    rows = (select(month_of(Opportunity.expected_close_date).label("close_month"),
                   Opportunity.expected_premium.label("premium"), weighted().label("weighted"))
            .join(PipelineStage, PipelineStage.id == Opportunity.stage_id)
            .where(in_scope, Opportunity.status == OpportunityStatus.OPEN).subquery("forecast_rows"))
    return (select(rows.c.close_month, func.count().label("open"),
                   money(func.sum(rows.c.premium)).label("expected_premium"),
                   money(func.sum(rows.c.weighted)).label("weighted_premium"))
            .group_by(rows.c.close_month).order_by(nulls_last(rows.c.close_month)))


def dimension(group_by: str) -> Dimension:
    """How opportunities are grouped: by owner agent, by their unit (team) or by the nearest branch above it."""
    if group_by == "agent":
        return Dimension(GROUPS["agent"], "agent", Opportunity.owner_agent_id, name=Agent.name, sort=Agent.code)
    if group_by == "team":
        return Dimension(GROUPS["team"], "text", OrgUnit.name, key=Opportunity.org_unit_id, sort=OrgUnit.path)
    branch = aliased(OrgUnit)
    branch_id = (select(branch.id).where(branch.kind == OrgUnitKind.BRANCH, OrgUnit.path.startswith(branch.path))
                 .order_by(func.length(branch.path).desc()).limit(1).correlate(OrgUnit).scalar_subquery())
    named = aliased(OrgUnit)
    return Dimension(GROUPS["branch"], "text", select(named.name).where(named.id == branch_id).scalar_subquery(),
                     key=branch_id, sort=select(named.path).where(named.id == branch_id).scalar_subquery())


def deal_rows(in_scope, first, after, group: Dimension) -> Subquery:
    """Per opportunity open now or closed in the period: its group and its parts of the figures."""
    is_open = Opportunity.status == OpportunityStatus.OPEN
    closed_in = and_(Opportunity.closed_at >= first, Opportunity.closed_at < after)
    won, lost = and_(Opportunity.status == OpportunityStatus.WON, closed_in), \
        and_(Opportunity.status == OpportunityStatus.LOST, closed_in)
    premium = Opportunity.expected_premium

    def when(condition, value):
        return case((condition, value), else_=0)

    return (
        select(*group_columns(group), when(is_open, 1).label("open"), when(is_open, premium).label("open_premium"),
               when(is_open, weighted()).label("weighted"), when(won, 1).label("won"), when(lost, 1).label("lost"),
               when(won, premium).label("won_premium"), when(lost, premium).label("lost_premium"))
        .select_from(Opportunity).join(PipelineStage, PipelineStage.id == Opportunity.stage_id)
        .outerjoin(Agent, Agent.id == Opportunity.owner_agent_id)
        .outerjoin(OrgUnit, OrgUnit.id == Opportunity.org_unit_id)
        .where(in_scope, or_(is_open, won, lost)).subquery("deals")
    )


def deal_figures(deals: Subquery) -> list:
    won, lost = func.sum(deals.c.won), func.sum(deals.c.lost)
    return [func.count().label("opportunities"), func.sum(deals.c.open).label("open"),
            money(func.sum(deals.c.open_premium)).label("expected_premium"),
            money(func.sum(deals.c.weighted)).label("weighted_premium"), won.label("won"), lost.label("lost"),
            rate(won, won + lost).label("win_rate"), money(func.sum(deals.c.won_premium)).label("won_premium"),
            money(func.sum(deals.c.lost_premium)).label("lost_premium")]


def group_statement(deals: Subquery) -> Select:
    keys = (deals.c.group_key, deals.c.group, deals.c.group_name, deals.c.group_sort)
    return (select(*keys, *deal_figures(deals)).group_by(*keys)
            .order_by(nulls_last(deals.c.group_sort), nulls_last(deals.c.group_key)))


def lost_reason_statement(in_scope, first, after, *, free_text: bool) -> Select:
    """The opportunities lost in the period by reason: the reason of the admins' list (in the reader's language),
    else — for one lost before the list existed — the text stored with it (not for a role that may not read free
    text); count and expected premium."""
    reason = OpportunityLossReason
    name = func.coalesce(reason.name_zh, reason.name) if _chinese() else reason.name
    shown = func.coalesce(name, Opportunity.won_lost_reason) if free_text else name
    rows = (select(shown.label("reason"), Opportunity.expected_premium.label("premium"))
            .outerjoin(reason, reason.id == Opportunity.loss_reason_id)
            .where(in_scope, Opportunity.status == OpportunityStatus.LOST, Opportunity.closed_at >= first,
                   Opportunity.closed_at < after).subquery("lost_rows"))
    return (select(rows.c.reason, func.count().label("lost"), money(func.sum(rows.c.premium)).label("lost_premium"))
            .group_by(rows.c.reason).order_by(func.count().desc(), nulls_last(rows.c.reason)))


# -- links to the opportunities behind a bar -------------------------------------------------------------------

def opportunities_link(agent_id: int | None, build) -> object:
    """``row -> URL`` of the opportunities list filtered by ``build(row)`` (a dict, or None for no link), with the
    owner filter of the report; ``None`` while the opportunities list does not exist."""
    if OPPORTUNITIES_ENDPOINT not in current_app.view_functions:
        return None

    def link(row) -> str | None:
        query = build(row)
        if query is None:
            return None
        if agent_id is not None:
            query.setdefault("owner_agent_id", agent_id)
        return url_for(OPPORTUNITIES_ENDPOINT, **query)

    return link


def _group_link(group_by: str, agent_id: int | None):
    if group_by == "agent":
        return opportunities_link(agent_id, lambda row: {"owner_agent_id": row["group_key"]}
                                  if row["group_key"] is not None else None)
    return None


# -- the report ----------------------------------------------------------------------------------------------------

def _deal_columns() -> list[Column]:
    return [
        Column("opportunities", _l("Opportunities"), "int"),
        Column("open", _l("Open"), "int"),
        Column("expected_premium", _l("Open expected premium"), "money"),
        Column("weighted_premium", _l("Weighted premium"), "money"),
        Column("won", _l("Won"), "int"),
        Column("lost", _l("Lost"), "int"),
        Column("win_rate", _l("Win rate"), "rate"),
        Column("won_premium", _l("Won premium"), "money"),
        Column("lost_premium", _l("Lost premium"), "money"),
    ]


#: analysts, agents (their own and their teams' opportunities) and bancassurance specialists (theirs and their
#: bank partners')
FUNNEL_ROLES = WITH_AGENTS | {Role.BANCASSURANCE_SPECIALIST}


@report("funnel", title=_l("Sales funnel"), args=FunnelArgs, roles=FUNNEL_ROLES, order=70,
        description=_l("Open opportunities and weighted premium per stage, conversion between stages, time in each "
                       "stage, forecast by close month, win rate and lost reasons, by agent, team or branch."),
        help=(_l("Weighted premium = expected premium × the probability of the opportunity's stage. Conversion of a "
                 "stage: of the opportunities that entered it in the period, the share that reached a later stage "
                 "of the pipeline (the lost stage aside) by the period's end. Time in stage: the stays that ended in "
                 "the period, from the stage change into the stage to the next one; the median and the 90th "
                 "percentile interpolate linearly between ranks. Win rate = won ÷ (won + lost) among the "
                 "opportunities closed in the period. The open pipeline and the forecast are as of today."),))
def funnel(user: User, args: dict, today: date) -> ReportResult:
    filters = Filters.from_args(args, today)
    group_by, agent_id = args.get("group_by") or "agent", args.get("agent_id")
    in_scope = opportunities_in_scope(user, filters, agent_id)
    first, after = _period(filters)
    group = dimension(group_by)
    deals = deal_rows(in_scope, first, after, group)
    return ReportResult(
        tables=[
            Table("stages", _l("By stage"), [
                Column("stage", _l("Stage")), Column("probability", _l("Probability"), "rate"),
                Column("open", _l("Open"), "int"), Column("expected_premium", _l("Open expected premium"), "money"),
                Column("weighted_premium", _l("Weighted premium"), "money"),
                Column("entered", _l("Entered in the period"), "int"),
                Column("moved_on", _l("Moved on to a later stage"), "int"),
                Column("conversion", _l("Conversion"), "rate"),
                Column("stays", _l("Stays ended in the period"), "int"),
                Column("median_days", _l("Median days in stage"), "decimal"),
                Column("p90_days", _l("90th percentile days in stage"), "decimal"),
            ], stage_statement(in_scope, first, after),
                link=opportunities_link(agent_id, lambda row: {"stage_id": row["stage_id"], "status": "open"})),
            Table("forecast", _l("Forecast by expected close month"), [
                Column("close_month", _l("Expected close month")), Column("open", _l("Open"), "int"),
                Column("expected_premium", _l("Expected premium"), "money"),
                Column("weighted_premium", _l("Weighted premium"), "money"),
            ], forecast_statement(in_scope),
                link=opportunities_link(agent_id, lambda row: {"close_month": row["close_month"], "status": "open"}
                                        if row["close_month"] else None)),
            Table("by_group", _l("By %(group)s", group=GROUPS[group_by]), [group_column(group), *_deal_columns()],
                  group_statement(deals), link=_group_link(group_by, agent_id)),
            Table("lost_reasons", _l("Lost reasons"), [
                Column("reason", _l("Reason")), Column("lost", _l("Lost"), "int"),
                Column("lost_premium", _l("Lost premium"), "money"),
            ], lost_reason_statement(in_scope, first, after, free_text=user.role != Role.ACTUARY),
                link=opportunities_link(agent_id, lambda row: {"status": "lost"})),
            Table("total", _l("All opportunities"), _deal_columns(), select(*deal_figures(deals))),
        ],
        charts=[
            Chart("funnel", _l("Open pipeline by stage"), "stages", "stage", ["weighted_premium", "open"],
                  secondary=["open"]),
            Chart("conversion", _l("Conversion to a later stage"), "stages", "stage", ["conversion"]),
            Chart("residence", _l("Days in stage"), "stages", "stage", ["median_days", "p90_days"]),
            Chart("forecast", _l("Forecast by expected close month"), "forecast", "close_month",
                  ["weighted_premium", "expected_premium"]),
            Chart("win_rate", _l("Won and lost premium, win rate"), "by_group", "group",
                  ["won_premium", "lost_premium", "win_rate"], secondary=["win_rate"]),
            Chart("lost_reasons", _l("Lost reasons"), "lost_reasons", "reason", ["lost"]),
        ],
        notes=[_l("From %(start)s to %(end)s (conversion, time in stage, won and lost); the open pipeline and the "
                  "forecast are the open opportunities today. Weighted premium = expected premium × the stage's "
                  "probability. Conversion: of the opportunities entering a stage in the period, the share reaching "
                  "a later stage (not the lost one) by the period's end. Time in stage: stays ended in the period; "
                  "median and 90th percentile interpolated between ranks. Win rate = won ÷ (won + lost).",
                  start=filters.start.isoformat(), end=filters.end.isoformat())],
    )
