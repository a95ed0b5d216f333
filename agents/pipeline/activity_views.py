"""The agenda and activity pages: the agent's agenda by day and week, the manager's team agenda, an activity's page
(plan, reschedule, complete, cancel) and the calendar files (iCalendar).

Thin views over :mod:`agents.pipeline.activities`: forms are read by the API's own schemas (times typed on the
insurer's clock), records through the scope rules; every page runs a fixed number of queries.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import groupby

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from marshmallow import ValidationError, fields
from sqlalchemy import func, null, select
from sqlalchemy.orm import aliased

from agents.models import Activity, Agent, AgentStatus, Opportunity, Recurrence
from agents.pipeline import activities as services
from agents.pipeline.activity_schemas import (
    ActivityCancelSchema,
    ActivityCompleteSchema,
    ActivityCreateSchema,
    ActivityUpdateSchema,
)
from agents.pipeline.calendar_export import calendar_file
from agents.task_services import REASON_LABELS
from insurecrm import clock
from insurecrm.api import Date
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import Role, User
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import id_or_404, load_form, page_roles
from policyholders.models import Policyholder
from policyholders.services import find_in_book

bp = Blueprint("agenda_web", __name__, template_folder="../templates")
WEB_BLUEPRINTS = (bp,)
VIEWS = ("day", "week")
#: the most activities one agenda page lists (a day or a week of one person, or of a branch)
LIMIT = 500
_DAY = Date(past_years=10, future_years=10)


@bp.context_processor
def _labels() -> dict:
    return {"kind_labels": services.KIND_LABELS, "status_labels": services.STATUS_LABELS,
            "priority_labels": services.PRIORITY_LABELS, "recurrence_labels": services.RECURRENCE_LABELS,
            "reason_labels": REASON_LABELS, "clock_time": lambda value: format_time(value, "short"),
            "local_day": lambda value: value.astimezone(clock.zone()).date()}


@bp.app_template_global()
def opportunity_activities(opportunity: Opportunity) -> list[Activity]:
    """The activities of ``opportunity`` the reader may see, in the order they happen (at most :data:`LIMIT`): for
    the opportunity's page."""
    return list(db.session.scalars(scoped_select(Activity).where(Activity.opportunity_id == opportunity.id)
                                   .order_by(services.when(), Activity.id).limit(LIMIT)))


@bp.app_template_global()
def activity_labels() -> dict:
    """The labels of an activity's kind and status, for pages outside the agenda's blueprint."""
    return {"kind": services.KIND_LABELS, "status": services.STATUS_LABELS}


# -- agendas ----------------------------------------------------------------------------------------------

@bp.get("/agenda")
@page_roles(*services.PLANNERS)
def agenda():
    """The user's agenda for a day or a week (?view=day|week&date=YYYY-MM-DD): planned and done activities and the
    tasks due, each linking to its page."""
    period, errors = _period()
    first, last = period["first"], period["last"]
    holder = aliased(Policyholder)
    rows = db.session.execute(
        services.agenda(g.user, first, last).add_columns(holder)
        .outerjoin(holder, holder.id == Activity.policyholder_id).limit(LIMIT)).all()
    return render_template("pipeline/agenda.html", period=period, rows=rows, by_day=_by_day(rows, period),
                           limit=LIMIT, errors=errors), 422 if errors else 200


@bp.get("/agenda/team")
@page_roles(Role.BRANCH_MANAGER, Role.ADMIN)
def team():
    """The team's agenda for a day or a week: the activities of the agents of the manager's branch (an admin's:
    every agent's), grouped by agent, each agent of the branch listed even with nothing planned."""
    period, errors = _period()
    holder = aliased(Policyholder)
    rows = db.session.execute(
        services.team_agenda(g.user, period["first"], period["last"]).add_columns(holder)
        .outerjoin(holder, holder.id == Activity.policyholder_id).limit(LIMIT)).all()
    agents = db.session.scalars(scoped_select(Agent).where(Agent.status == AgentStatus.ACTIVE)
                                .order_by(Agent.name_sort_key, Agent.id)).all()
    by_agent = {agent_id: list(group) for agent_id, group in groupby(rows, key=lambda row: row[0].agent_id)}
    return render_template("pipeline/agenda_team.html", period=period, agents=agents, by_agent=by_agent,
                           shown=len(rows), limit=LIMIT, errors=errors), 422 if errors else 200


def _period() -> tuple[dict, dict]:
    """The agenda's view and days from the query string (today's week by default), with the links around it."""
    errors: dict[str, list[str]] = {}
    view = request.args.get("view", "week")
    if view not in VIEWS:
        errors["view"] = [_("Choose a day or a week.")]
        view = "week"
    today = clock.today()
    try:
        chosen = _DAY.deserialize(request.args["date"]) if request.args.get("date", "").strip() else today
    except ValidationError as exc:
        errors["date"] = flatten_messages(exc.normalized_messages()).get("_schema", [_("Not a valid date.")])
        chosen = today
    if view == "day":
        first = last = chosen
        step = timedelta(days=1)
    else:
        first = chosen - timedelta(days=chosen.weekday())  # the week starts on Monday
        last, step = first + timedelta(days=6), timedelta(days=7)
    return {"view": view, "date": chosen, "first": first, "last": last, "today": today,
            "days": [first + timedelta(days=n) for n in range((last - first).days + 1)],
            "previous": first - step, "next": first + step}, errors


def _by_day(rows, period) -> dict[date, list]:
    days: dict[date, list] = {day: [] for day in period["days"]}
    for row in rows:
        days.setdefault(services.when_of(row[0]).astimezone(clock.zone()).date(), []).append(row)
    return days


# -- calendar files ---------------------------------------------------------------------------------------

@bp.get("/agenda.ics")
@page_roles(*services.PLANNERS)
def agenda_ics():
    """The user's planned activities from 30 days ago to a year ahead, as an iCalendar file."""
    activities = db.session.scalars(services.calendar_activities(g.user).limit(5000)).all()
    return _ics(calendar_file(activities, name=_("InsureCRM agenda")), "agenda.ics")


@bp.get("/activities/<int:activity_id>.ics")
@page_roles(*services.READERS)
def activity_ics(activity_id: int):
    """One activity as an iCalendar file."""
    activity = services.activity_or_404(activity_id)
    return _ics(calendar_file([activity], name=activity.subject), f"activity-{activity.id}.ics")


def _ics(body: bytes, filename: str) -> Response:
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- an activity ------------------------------------------------------------------------------------------

@bp.route("/activities/new", methods=["GET", "POST"])
@page_roles(*services.PLANNERS)
def new():
    """Plan an activity (?policyholder_id=…&opportunity_id=… link it; else a search of the book, ?q=…, offers the
    policyholders to choose from), once or repeating."""
    holder_id, opportunity_id = id_or_404("policyholder_id"), id_or_404("opportunity_id")
    holder = get_visible_or_404(Policyholder, holder_id) if holder_id else None
    opportunity = get_visible_or_404(Opportunity, opportunity_id) if opportunity_id else None
    # without a policyholder in the link, the page offers a search of the user's book (never a typed id)
    q = request.values.get("q", "").strip()[:120] if holder is None else ""
    choices = find_in_book(q) if q else []
    if request.method == "GET":
        return _form("pipeline/activity_new.html", {"kind": "call", "priority": "normal", "recurrence": "none"},
                     {}, holder=holder, opportunity=opportunity, q=q, choices=choices)
    try:
        data = load_form(_local_times(ActivityCreateSchema(exclude=("status", "outcome", "evaluation",
                                                                    "actual_start", "actual_end"))))
        created = services.create_activity(data, actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _form("pipeline/activity_new.html", request.form, flatten_messages(exc.normalized_messages()),
                     holder=holder, opportunity=opportunity, q=q, choices=choices, status=422)
    db.session.commit()
    flash(_("Activity planned.") if len(created) == 1
          else _("%(count)s occurrences planned.", count=len(created)), "success")
    return redirect(url_for(".detail", activity_id=created[0].id))


@bp.get("/activities/<int:activity_id>")
@page_roles(*services.READERS)
def detail(activity_id: int):
    """An activity or task with what it is about, its series, and the forms to complete or cancel it."""
    return _detail(services.activity_or_404(activity_id))


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@page_roles(*services.PLANNERS)
def edit(activity_id: int):
    """Reschedule or edit a planned activity — or it and the following occurrences of its series."""
    activity = services.activity_or_404(activity_id)
    if request.method == "GET":
        return _form("pipeline/activity_edit.html", _values_of(activity), {}, activity=activity)
    try:
        data = load_form(_local_times(ActivityUpdateSchema(exclude=("policyholder_id", "opportunity_id"))),
                         clearing=True)
        apply_to = data.pop("apply_to", "this")
        changed = services.reschedule_activity(activity, data, apply_to=apply_to, actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _form("pipeline/activity_edit.html", request.form, flatten_messages(exc.normalized_messages()),
                     activity=activity, status=422)
    db.session.commit()
    flash(_("Activity rescheduled.") if len(changed) == 1
          else _("%(count)s occurrences rescheduled.", count=len(changed)), "success")
    return redirect(url_for(".detail", activity_id=activity.id))


@bp.post("/activities/<int:activity_id>/complete")
@page_roles(*services.PLANNERS)
def complete(activity_id: int):
    """Record the activity as done with its outcome and evaluation."""
    activity = services.activity_or_404(activity_id)
    try:
        data = load_form(_local_times(ActivityCompleteSchema()))
        services.complete_activity(activity, actor=g.user, **data)
    except ValidationError as exc:
        return _refused(activity, "complete", exc)
    db.session.commit()
    flash(_("Activity done."), "success")
    return redirect(url_for(".detail", activity_id=activity.id))


@bp.post("/activities/<int:activity_id>/cancel")
@page_roles(*services.PLANNERS)
def cancel(activity_id: int):
    """Cancel the activity, or it and the following occurrences of its series."""
    activity = services.activity_or_404(activity_id)
    try:
        data = load_form(ActivityCancelSchema())
        cancelled = services.cancel_activity(activity, reason=data.get("reason"), apply_to=data["apply_to"],
                                             actor=g.user)
    except ValidationError as exc:
        return _refused(activity, "cancel", exc)
    db.session.commit()
    flash(_("Activity cancelled.") if len(cancelled) == 1
          else _("%(count)s occurrences cancelled.", count=len(cancelled)), "success")
    return redirect(url_for(".detail", activity_id=activity.id))


def _refused(activity: Activity, form: str, exc: ValidationError):
    db.session.rollback()
    return _detail(activity, failed={"form": form, "errors": flatten_messages(exc.normalized_messages())},
                   status=422)


def _detail(activity: Activity, *, failed: dict | None = None, status: int = 200):
    agent, assignee_name, holder, opportunity, series_size = _context_of(activity)
    return render_template(
        "pipeline/activity.html", activity=activity, agent=agent, assignee_name=assignee_name, holder=holder,
        opportunity=opportunity, series_size=series_size, failed=failed or {},
        values=request.form if failed else {}, writer=g.user.role in services.PLANNERS,
        open=activity.status == "planned" and activity.reason is None), status


def _context_of(activity: Activity) -> tuple:
    """(agent, assignee's name, policyholder, opportunity, occurrences in its series) in one query."""
    series = (select(func.count()).where(Activity.series_id == activity.series_id).scalar_subquery()
              if activity.series_id else None)
    return db.session.execute(
        select(Agent, User.display_name, Policyholder, Opportunity,
               series if series is not None else null())
        .select_from(Activity)
        .outerjoin(Agent, Agent.id == Activity.agent_id).outerjoin(User, User.id == Activity.assignee_user_id)
        .outerjoin(Policyholder, Policyholder.id == Activity.policyholder_id)
        .outerjoin(Opportunity, Opportunity.id == Activity.opportunity_id)
        .where(Activity.id == activity.id)).one()


def _form(template: str, values, errors: dict, *, status: int = 200, **context):
    agents = (db.session.scalars(scoped_select(Agent).where(Agent.status == AgentStatus.ACTIVE)
                                 .order_by(Agent.name_sort_key, Agent.id)).all()
              if g.user.role == Role.BRANCH_MANAGER else [])
    return render_template(template, values=values, errors=errors, agents=agents, recurring=Recurrence,
                           max_occurrences=services.MAX_OCCURRENCES, **context), status


def _local_times(schema):
    """A form's date-times are typed on the insurer's clock (``<input type="datetime-local">``); the API reads a
    time without a zone as UTC. The schema instance's fields are its own copies: the API's schemas stay as they
    are."""
    for field in schema.load_fields.values():
        if isinstance(field, fields.AwareDateTime):
            field.default_timezone = clock.zone()
    return schema


def _values_of(activity: Activity) -> dict:
    """The edit form's values: the activity's, times on the insurer's clock."""
    def local(value: datetime | None) -> str:
        return value.astimezone(clock.zone()).strftime("%Y-%m-%dT%H:%M") if value else ""

    return {"kind": activity.kind.value, "priority": activity.priority.value, "subject": activity.subject,
            "description": activity.description or "", "contact_name": activity.contact_name or "",
            "cost": "" if activity.cost is None else str(activity.cost),
            "planned_start": local(activity.planned_start), "planned_end": local(activity.planned_end),
            "apply_to": "this"}

