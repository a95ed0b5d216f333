"""Sales reports (SPEC §4): what the sales force did in one day, ISO week or month, by agent, team or branch —
new opportunities and their expected premium, stage moves, opportunities won and lost with their premium,
activities planned and done, renewal cases worked and renewed (docs/metrics.md, "Sales reports").

One SQL statement per table: each kind of event is selected from its own table in the user's scope (opportunities,
their stage changes, activities, renewal cases), as rows of (agent, unit, figures); the rows are summed per agent and
unit, and those sums per group. Instants (``created_at``, ``changed_at``, ...) are compared with the UTC instants the
period's local days begin and end at, so a figure is the same on SQLite and PostgreSQL.

The scheduled emails (:mod:`agents.pipeline.sales_mail`) attach this very report as a PDF.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, literal, null, or_, select, true, union_all
from sqlalchemy.orm import aliased

import agents.permissions  # noqa: F401 - registers the scope rules of opportunities and activities
import policies.permissions  # noqa: F401 - registers the scope rule of renewal cases
from agents.models import Activity, ActivityStatus, Agent, Opportunity, OpportunityStatus, OrgUnit, OrgUnitKind
from agents.models.pipeline import OpportunityStageChange
from insurecrm import clock
from insurecrm.api import Date
from insurecrm.models import User
from insurecrm.scope import visible
from policies.models import RenewalCase, RenewalStatus
from reports.catalogue import WITH_AGENTS, report
from reports.drill import group_link
from reports.earned import money
from reports.filters import MAX_PERIOD_YEARS, ReportArgs, choice
from reports.tables import Chart, Column, ReportResult, Table

PERIODS = {"day": _l("Day"), "week": _l("Week (Monday to Sunday)"), "month": _l("Month")}
GROUPS = {"agent": _l("Agent"), "team": _l("Team"), "branch": _l("Branch")}
#: the figures of a sales report, in the order of its columns: (key, label, kind)
FIGURES = (
    ("new_opportunities", _l("New opportunities"), "int"),
    ("new_premium", _l("Expected premium of new opportunities"), "money"),
    ("stage_moves", _l("Stage moves"), "int"),
    ("won", _l("Won"), "int"),
    ("won_premium", _l("Won premium"), "money"),
    ("lost", _l("Lost"), "int"),
    ("lost_premium", _l("Lost premium"), "money"),
    ("activities_planned", _l("Activities planned"), "int"),
    ("activities_done", _l("Activities done"), "int"),
    ("renewals_worked", _l("Renewals worked"), "int"),
    ("renewals_renewed", _l("Renewals renewed"), "int"),
)
MONEY_FIGURES = {key for key, _label, kind in FIGURES if kind == "money"}


# -- periods ------------------------------------------------------------------------------------------------------

def period_bounds(kind: str, day: date) -> tuple[date, date]:
    """The day, ISO week (Monday to Sunday) or calendar month holding ``day``: its first and last dates."""
    return clock.calendar_period(kind, day)


def last_closed(kind: str, today: date) -> tuple[date, date]:
    """The latest period of ``kind`` that has ended before ``today``: yesterday, last week, last month."""
    return period_bounds(kind, period_bounds(kind, today)[0] - timedelta(days=1))


def instants(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants the local day ``start`` begins and the day after ``end`` begins: ``[first, after)``."""
    zone = clock.zone()
    first = datetime.combine(start, time.min, tzinfo=zone)
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return first, after


# -- the events of a period -----------------------------------------------------------------------------------

def _in(column, first: datetime, after: datetime) -> ColumnElement[bool]:
    return and_(column >= first, column < after)


def _row(agent_id, org_unit_id, **figures) -> list[ColumnElement]:
    """The columns of one kind of event: agent, unit, then every figure (those not given are 0)."""
    return [agent_id.label("agent_id"), org_unit_id.label("org_unit_id"),
            *(figures.get(key, literal(0)).label(key) for key, _label, _kind in FIGURES)]


def _one(condition, value=1) -> ColumnElement:
    return case((condition, value), else_=0)


def unit_subtree(org_unit_id: int | None):
    """SQL condition builder: ``column`` lies in the unit ``org_unit_id`` or below it (no condition without one)."""
    if org_unit_id is None:
        return lambda column: true()
    path = select(OrgUnit.path).where(OrgUnit.id == org_unit_id).scalar_subquery()
    units = select(OrgUnit.id).where(OrgUnit.path.startswith(path, autoescape=False))
    return lambda column: column.in_(units)


def sales_events(user: User, start: date, end: date, org_unit_id: int | None = None) -> Subquery:
    """The period's events in ``user``'s scope, summed per (agent, unit): one row per agent and unit that did
    anything, with every figure of :data:`FIGURES`. Refuses nothing: an empty period gives no rows."""
    first, after = instants(start, end)
    in_unit = unit_subtree(org_unit_id)
    opportunities = select(*_row(
        Opportunity.owner_agent_id, Opportunity.org_unit_id,
        new_opportunities=_one(_in(Opportunity.created_at, first, after)),
        new_premium=_one(_in(Opportunity.created_at, first, after), Opportunity.expected_premium),
        won=_one(_in(Opportunity.closed_at, first, after) & (Opportunity.status == OpportunityStatus.WON)),
        won_premium=_one(_in(Opportunity.closed_at, first, after) & (Opportunity.status == OpportunityStatus.WON),
                         Opportunity.expected_premium),
        lost=_one(_in(Opportunity.closed_at, first, after) & (Opportunity.status == OpportunityStatus.LOST)),
        lost_premium=_one(_in(Opportunity.closed_at, first, after) & (Opportunity.status == OpportunityStatus.LOST),
                          Opportunity.expected_premium),
    )).where(visible(Opportunity, user), in_unit(Opportunity.org_unit_id),
             or_(_in(Opportunity.created_at, first, after), _in(Opportunity.closed_at, first, after)))
    moves = (select(*_row(Opportunity.owner_agent_id, Opportunity.org_unit_id, stage_moves=literal(1)))
             .select_from(OpportunityStageChange)
             .join(Opportunity, Opportunity.id == OpportunityStageChange.opportunity_id)
             .where(visible(Opportunity, user), in_unit(Opportunity.org_unit_id),
                    OpportunityStageChange.from_stage_id.is_not(None),
                    _in(OpportunityStageChange.changed_at, first, after)))
    done_at = func.coalesce(Activity.actual_end, Activity.actual_start, Activity.planned_start)
    planned = _in(Activity.planned_start, first, after) & (Activity.status != ActivityStatus.CANCELLED)
    done = _in(done_at, first, after) & (Activity.status == ActivityStatus.DONE)
    activities = select(*_row(Activity.agent_id, Activity.org_unit_id, activities_planned=_one(planned),
                              activities_done=_one(done))
                        ).where(visible(Activity, user), in_unit(Activity.org_unit_id), or_(planned, done))
    closed_worked = (_in(RenewalCase.closed_at, first, after)
                     & RenewalCase.status.in_((RenewalStatus.RENEWED, RenewalStatus.LOST)))
    worked = or_(_in(RenewalCase.first_contacted_at, first, after), _in(RenewalCase.last_contacted_at, first, after),
                 closed_worked)
    renewed = _in(RenewalCase.closed_at, first, after) & (RenewalCase.status == RenewalStatus.RENEWED)
    renewals = select(*_row(RenewalCase.assigned_agent_id, RenewalCase.org_unit_id, renewals_worked=literal(1),
                            renewals_renewed=_one(renewed))
                      ).where(visible(RenewalCase, user), in_unit(RenewalCase.org_unit_id), worked)
    events = union_all(opportunities, moves, activities, renewals).subquery("sales_events")
    return (select(events.c.agent_id, events.c.org_unit_id, *_sums(events))
            .group_by(events.c.agent_id, events.c.org_unit_id).subquery("sales_by_agent"))


def _sums(rows) -> list[ColumnElement]:
    # COALESCE: the totals of a period without events are zeros, not "no figure"
    total = {key: func.coalesce(func.sum(rows.c[key]), 0) for key, _label, _kind in FIGURES}
    return [(money(total[key]) if key in MONEY_FIGURES else total[key]).label(key) for key, _label, _kind in FIGURES]


# -- grouping -----------------------------------------------------------------------------------------------------

def branch_of(unit) -> ColumnElement:
    """SQL scalar: the id of the branch ``unit`` (an ``OrgUnit`` alias) lies in — itself when it is one, else the
    nearest unit of kind branch above it; NULL when none is (a unit directly under the company)."""
    branch = aliased(OrgUnit, name="branch")
    return (select(branch.id).where(branch.kind == OrgUnitKind.BRANCH, unit.path.startswith(branch.path,
                                                                                              autoescape=False))
            .order_by(func.length(branch.path).desc()).limit(1).correlate(unit).scalar_subquery())


def sales_statement(per_agent: Subquery, group_by: str) -> Select:
    """``SELECT`` of the table by ``group_by`` (agent, team: the unit of the record, branch: the branch above that
    unit) from :func:`sales_events`' sums: ``group_key``, ``group``, ``group_name`` and the figures."""
    unit = aliased(OrgUnit, name="unit")
    rows = per_agent.c
    if group_by == "branch":
        with_branch = (select(rows, branch_of(unit).label("branch_id"))
                       .join(unit, unit.id == rows.org_unit_id).subquery("with_branch"))
        shown = aliased(OrgUnit, name="shown")
        return (select(with_branch.c.branch_id.label("group_key"), shown.name.label("group"),
                       null().label("group_name"), *_sums(with_branch))
                .select_from(with_branch).outerjoin(shown, shown.id == with_branch.c.branch_id)
                .group_by(with_branch.c.branch_id, shown.name)
                .order_by(shown.name.is_(None), shown.name, with_branch.c.branch_id))
    if group_by == "agent":
        key, shown, name, sort = rows.agent_id, rows.agent_id, Agent.name, Agent.code
    else:
        key, shown, name, sort = rows.org_unit_id, unit.name, null(), unit.name
    grouped = [key, Agent.name, Agent.code] if group_by == "agent" else [key, unit.name]
    return (select(key.label("group_key"), shown.label("group"), name.label("group_name"), *_sums(per_agent))
            .select_from(per_agent).outerjoin(Agent, Agent.id == rows.agent_id).join(unit, unit.id == rows.org_unit_id)
            .group_by(*grouped).order_by(sort.is_(None), sort, key))


def figure_columns() -> list[Column]:
    return [Column(key, label, kind) for key, label, kind in FIGURES]


def group_column(group_by: str) -> Column:
    if group_by == "agent":
        return Column("group", GROUPS["agent"], "agent", name_key="group_name")
    return Column("group", GROUPS[group_by], "text")


class SalesArgs(ReportArgs):
    """The period is a day, an ISO week or a month: the one holding ``day`` (default: the last one that has
    ended). The common ``start`` and ``end`` are not read."""

    period = choice(PERIODS, label=_l("Period"), default="week", description="day, week or month.")
    day = Date(past_years=MAX_PERIOD_YEARS, future_years=1,
               metadata={"label": _l("A day of the period"),
                         "description": "Any day of the period (default: the last period that has ended)."})
    group_by = choice(GROUPS, label=_l("Group by"), default="agent", description="agent, team or branch.")


def resolve_period(args: dict, today: date) -> tuple[str, date, date]:
    """(kind, first day, last day) of the period the arguments ask for."""
    kind = args.get("period") or "week"
    start, end = period_bounds(kind, args["day"]) if args.get("day") else last_closed(kind, today)
    return kind, start, end


@report("sales", title=_l("Sales report"), args=SalesArgs, roles=WITH_AGENTS, order=15, period=False,
        description=_l("New opportunities, stage moves, won and lost premium, activities and renewals worked in a "
                       "day, a week or a month, by agent, team or branch."),
        help=(_l("The period is a day, an ISO week (Monday to Sunday) or a calendar month in the insurer's time "
                 "zone; by default the last one that has ended. New opportunities: created in the period, with the "
                 "sum of their expected premium. Stage moves: changes of stage recorded in the period (the first "
                 "stage of a new opportunity is not a move). Won and lost: opportunities closed in the period as won "
                 "or lost, with the sum of their expected premium."),
              _l("Activities planned: activities (tasks included) whose planned start lies in the period, unless "
                 "cancelled. Activities done: activities done whose actual end (else actual start) lies in the "
                 "period. Renewals worked: renewal cases first or last contacted in the period, or closed as "
                 "renewed or lost in it; renewed: closed as renewed in it."),
              _l("Opportunities and renewal cases count for their owner (assigned agent) and their unit, activities "
                 "for the agent they are assigned to; records of a unit's pool have no agent. Team is the record's "
                 "unit, branch the unit of kind branch it lies in. The channel and product filters do not apply.")))
def sales(user: User, args: dict, today: date) -> ReportResult:
    """The sales report of one period, per ``group_by``, in ``user``'s scope, with a line of totals."""
    kind, start, end = resolve_period(args, today)
    group_by = args.get("group_by") or "agent"
    per_agent = sales_events(user, start, end, args.get("org_unit_id"))
    link = group_link("sales", group_by, finer={"branch": ("org_unit_id", "team"), "team": ("org_unit_id", "agent")})
    return ReportResult(
        tables=[
            Table("sales", _l("Sales by %(group)s", group=GROUPS[group_by]), [group_column(group_by),
                                                                              *figure_columns()],
                  sales_statement(per_agent, group_by), link=link),
            Table("total", _l("All of them"), figure_columns(), select(*_sums(per_agent))),
        ],
        charts=[
            Chart("premium", _l("New, won and lost premium"), "sales", "group",
                  ["new_premium", "won_premium", "lost_premium"]),
            Chart("activities", _l("Activities and renewals"), "sales", "group",
                  ["activities_planned", "activities_done", "renewals_worked"]),
        ],
        notes=[_l("%(period)s from %(start)s to %(end)s. The channel and product filters do not apply to this report.",
                  period=PERIODS[kind], start=start.isoformat(), end=end.isoformat())],
    )
