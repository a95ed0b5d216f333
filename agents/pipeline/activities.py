"""Sales activities (销售活动): planning, recurring series, rescheduling, completing, cancelling, and the agenda.

An activity is a call, a visit, a meeting... that an agent (or a branch manager) plans, does and evaluates. It
carries every field of SPEC §3: kind, priority, planned start and end, status, description, actual start and end,
policyholder, contact, opportunity, recurrence, cost and evaluation. The tasks of the renewal engine are activities
too (:mod:`agents.task_services`): they show in the agenda, but are completed on the Tasks page, which logs the
call on the policyholder's timeline; the functions here refuse to change them.

A **recurring** activity is planned as its occurrences, expanded by python-dateutil's ``rrule`` in the insurer's
time zone (a weekly visit at 10:00 stays at 10:00 across a change of daylight saving time), up to a date or a
number of occurrences (at most :data:`MAX_OCCURRENCES`). The occurrences form one series (``series_id``: the first
one's id; ``series_position``: 1, 2, 3...), so that one occurrence, or it and the following ones, can be rescheduled
or cancelled; each is completed alone. A monthly series started on the 29th to the 31st skips the months that have
no such day, as RFC 5545 (and ``rrule``) do.

Who: agents and specialists plan and work their own activities; a branch manager plans for an agent of their
branch (the agents the agent scope rule lets them see) or for themselves, and works the branch's; admins read.
Who sees which activity is the activity scope rule (:mod:`agents.permissions`). Every function flushes, never
commits; activities are audited (``__audited__``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice

from dateutil import rrule
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, Select, and_, func, or_, select

import agents.permissions  # noqa: F401 - registers the activity, agent and opportunity scope rules
import policyholders.permissions  # noqa: F401 - the policyholder rule
from agents.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Agent,
    AgentStatus,
    Opportunity,
    Priority,
    Recurrence,
)
from insurecrm import clock
from insurecrm.db import db, utcnow
from insurecrm.models import Role, User
from insurecrm.scope import RoleForbidden, get_visible_or_404, scoped_select, visible
from policyholders.models import Policyholder

#: the roles that plan and work activities
PLANNERS = (Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.BRANCH_MANAGER)
#: the roles that may read them (admins read every activity)
READERS = (*PLANNERS, Role.ADMIN)
#: the most occurrences one recurring activity may have
MAX_OCCURRENCES = 100
#: the longest one activity may last
MAX_DURATION = timedelta(days=31)
ONE_DAY = timedelta(days=1)
#: "this occurrence" or "this and the following ones" of a series
APPLY_TO = ("this", "following")

#: the recurrence rule of each choice: (rrule frequency, interval)
RULES = {Recurrence.DAILY: (rrule.DAILY, 1), Recurrence.WEEKLY: (rrule.WEEKLY, 1),
         Recurrence.MONTHLY: (rrule.MONTHLY, 1), Recurrence.QUARTERLY: (rrule.MONTHLY, 3),
         Recurrence.YEARLY: (rrule.YEARLY, 1)}

KIND_LABELS = {ActivityKind.CALL: _l("Call"), ActivityKind.VISIT: _l("Visit"), ActivityKind.MEETING: _l("Meeting"),
               ActivityKind.PRESENTATION: _l("Presentation"), ActivityKind.EMAIL: _l("Email"),
               ActivityKind.CALLBACK: _l("Callback"), ActivityKind.OTHER: _l("Other")}
STATUS_LABELS = {ActivityStatus.PLANNED: _l("Planned"), ActivityStatus.DONE: _l("Done"),
                 ActivityStatus.CANCELLED: _l("Cancelled")}
PRIORITY_LABELS = {Priority.LOW: _l("Low"), Priority.NORMAL: _l("Normal"), Priority.HIGH: _l("High"),
                   Priority.URGENT: _l("Urgent")}
RECURRENCE_LABELS = {Recurrence.NONE: _l("Does not repeat"), Recurrence.DAILY: _l("Daily"),
                     Recurrence.WEEKLY: _l("Weekly"), Recurrence.MONTHLY: _l("Monthly"),
                     Recurrence.QUARTERLY: _l("Quarterly"), Recurrence.YEARLY: _l("Yearly")}


def activity_or_404(activity_id: int, user: User | None = None) -> Activity:
    """The activity (or task) ``activity_id`` if ``user`` (default: the current user) may see it; 404 otherwise."""
    return get_visible_or_404(Activity, activity_id, user)


# -- planning -------------------------------------------------------------------------------------------

def create_activity(data: dict, *, actor: User) -> list[Activity]:
    """Plan an activity — or, with a ``recurrence``, its series of occurrences — and return them in order.

    ``data`` holds the fields of :class:`~agents.pipeline.activity_schemas.ActivityCreateSchema`. With ``status``
    ``done`` the activity is recorded as done at once (an activity logged afterwards), as :func:`complete_activity`
    does. Refuses (422, nothing written): a planner who is not an agent, specialist or manager (403); an agent
    planning for another agent, a manager planning for an agent outside their branch or an inactive one (on
    ``agent_id``); a policyholder or opportunity the actor may not see, or an opportunity of another policyholder
    (on ``policyholder_id`` / ``opportunity_id``); an end before the start or more than 31 days after it (on
    ``planned_end``); a recurrence without exactly one of ``recurrence_until`` and ``recurrence_count``, an end
    date before the start, more than :data:`MAX_OCCURRENCES` occurrences, or a recurring activity recorded as done.
    """
    if actor.role not in PLANNERS:
        raise RoleForbidden()
    errors: dict[str, list[str]] = {}
    agent_id, assignee_user_id, org_unit_id = _owner(data.get("agent_id"), actor, errors)
    holder_id, opportunity_id = _links(data.get("policyholder_id"), data.get("opportunity_id"), actor, errors)
    start, end = data["planned_start"], data.get("planned_end")
    _check_times(start, end, errors)
    recurrence = Recurrence(data.get("recurrence") or Recurrence.NONE)
    starts = _expand(start, recurrence, data.get("recurrence_until"), data.get("recurrence_count"), errors)
    done = data.get("status") == ActivityStatus.DONE
    if done and recurrence is not Recurrence.NONE:
        errors.setdefault("recurrence", []).append(_("A recurring activity is planned, then done one by one."))
    if errors:
        raise ValidationError(errors)
    duration = end - start if end is not None else None
    common = {"agent_id": agent_id, "assignee_user_id": assignee_user_id, "org_unit_id": org_unit_id,
              "kind": data["kind"], "priority": data.get("priority") or Priority.NORMAL,
              "subject": data["subject"].strip(), "description": data.get("description"),
              "policyholder_id": holder_id, "contact_name": data.get("contact_name"),
              "opportunity_id": opportunity_id, "recurrence": recurrence, "cost": data.get("cost"),
              "status": ActivityStatus.PLANNED}
    activities = [Activity(**common, planned_start=moment, planned_end=moment + duration if duration else None)
                  for moment in starts]
    db.session.add_all(activities)
    db.session.flush()
    if recurrence is not Recurrence.NONE:
        until = data.get("recurrence_until") or _local(starts[-1]).date()
        for position, activity in enumerate(activities, start=1):
            activity.series_id, activity.series_position, activity.recurrence_until = activities[0].id, position, until
        db.session.flush()
    if done:
        complete_activity(activities[0], outcome=data.get("outcome"), evaluation=data.get("evaluation"),
                          actual_start=data.get("actual_start") or start,
                          actual_end=data.get("actual_end") or end or data.get("actual_start") or start,
                          actor=actor)
    return activities


def occurrences(start: datetime, recurrence: Recurrence, *, until: date | None = None,
                count: int | None = None, limit: int = MAX_OCCURRENCES + 1) -> list[datetime]:
    """The planned starts (UTC) of a series starting at ``start``, by python-dateutil's ``rrule`` on the insurer's
    wall clock, up to the end of ``until`` (a local date) or ``count`` occurrences, and at most ``limit``."""
    if recurrence is Recurrence.NONE:
        return [start]
    frequency, interval = RULES[recurrence]
    bound = {"count": count} if count else {"until": datetime.combine(until, time.max)}
    rule = rrule.rrule(frequency, interval=interval, dtstart=_wall(start), **bound)
    return [_from_wall(moment) for moment in islice(rule, limit)]


def _expand(start: datetime, recurrence: Recurrence, until: date | None, count: int | None,
            errors: dict) -> list[datetime]:
    if recurrence is Recurrence.NONE:
        if until is not None or count is not None:
            errors["recurrence"] = [_("Choose how often the activity repeats.")]
        return [start]
    if (until is None) == (count is None):
        errors["recurrence_until"] = [_("Give either the date the series ends or its number of occurrences.")]
        return [start]
    if until is not None and until < _local(start).date():
        errors["recurrence_until"] = [_("The series cannot end before its first occurrence.")]
        return [start]
    starts = occurrences(start, recurrence, until=until, count=count)
    if len(starts) > MAX_OCCURRENCES:
        errors["recurrence_until"] = [_("A series has at most %(max)s occurrences: choose an earlier end date.",
                                        max=MAX_OCCURRENCES)]
    return starts


def _owner(agent_id: int | None, actor: User, errors: dict) -> tuple[int | None, int | None, int | None]:
    """(agent_id, assignee_user_id, org_unit_id) of a new activity planned by ``actor``."""
    if actor.role in (Role.AGENT, Role.BANCASSURANCE_SPECIALIST):
        if agent_id not in (None, actor.agent_id) or actor.agent_id is None:
            errors["agent_id"] = [_("You plan your own activities.")]
            return None, None, None
        unit = db.session.scalar(select(Agent.org_unit_id).where(Agent.id == actor.agent_id))
        return actor.agent_id, None, unit
    if agent_id is None:  # a manager's own activity
        if actor.org_unit_id is None:
            errors["agent_id"] = [_("Choose the agent the activity is for.")]
        return None, actor.id, actor.org_unit_id
    agent = db.session.scalar(scoped_select(Agent, actor).where(Agent.id == agent_id,
                                                                Agent.status == AgentStatus.ACTIVE))
    if agent is None:
        errors["agent_id"] = [_("Choose an active agent of your branch.")]
        return None, None, None
    return agent.id, None, agent.org_unit_id


def _links(holder_id: int | None, opportunity_id: int | None, actor: User, errors: dict) -> tuple:
    """The policyholder and opportunity of an activity, each visible to ``actor``; the opportunity's policyholder
    when only the opportunity is given."""
    if holder_id is not None and not _sees(Policyholder, holder_id, actor):
        errors["policyholder_id"] = [_("Choose a policyholder of your book.")]
    if opportunity_id is None:
        return holder_id, None
    opportunity = db.session.scalar(scoped_select(Opportunity, actor).where(Opportunity.id == opportunity_id))
    if opportunity is None:
        errors["opportunity_id"] = [_("Choose an opportunity you work on.")]
        return holder_id, None
    if holder_id is None:
        return opportunity.policyholder_id, opportunity_id
    if opportunity.policyholder_id not in (None, holder_id):
        errors["opportunity_id"] = [_("This opportunity is another policyholder's.")]
    return holder_id, opportunity_id


def _sees(model, object_id: int, actor: User) -> bool:
    return db.session.scalar(select(model.id).where(model.id == object_id, visible(model, actor))) is not None


def _check_times(start: datetime, end: datetime | None, errors: dict, field: str = "planned_end") -> None:
    if end is None:
        return
    if end < start:
        errors[field] = [_("The end must not be before the start.")]
    elif end - start > MAX_DURATION:
        errors[field] = [_("An activity lasts at most %(days)s days.", days=MAX_DURATION.days)]


# -- changing -------------------------------------------------------------------------------------------

def reschedule_activity(activity: Activity, changes: dict, *, apply_to: str = "this", actor: User) -> list[Activity]:
    """Change a planned activity (loaded through the scope rules): new planned start and end, and any of subject,
    kind, priority, description, contact, policyholder, opportunity and cost. Moving the start keeps the duration
    unless a new end is given. With ``apply_to="following"`` the following planned occurrences of its series move
    by the same time on the wall clock and take the same other changes. Returns the activities changed.

    Refuses (422, nothing changed): a task (completed on the Tasks page) or an activity done or cancelled (on
    ``status``); an end before the start (on ``planned_end``); a policyholder or opportunity the actor may not
    see (as :func:`create_activity`).
    """
    _refuse_closed(activity)
    errors: dict[str, list[str]] = {}
    start = changes.get("planned_start", activity.planned_start)
    if "planned_end" in changes:
        end = changes["planned_end"]
    else:
        end = activity.planned_end + (start - activity.planned_start) if activity.planned_end else None
    _check_times(start, end, errors)
    links = {}
    if "policyholder_id" in changes or "opportunity_id" in changes:
        holder_id, opportunity_id = _links(changes.get("policyholder_id", activity.policyholder_id),
                                           changes.get("opportunity_id", activity.opportunity_id), actor, errors)
        links = {"policyholder_id": holder_id, "opportunity_id": opportunity_id}
    if errors:
        raise ValidationError(errors)
    others = {key: value for key, value in changes.items() if key not in ("planned_start", "planned_end")} | links
    if "subject" in others:
        others["subject"] = others["subject"].strip()
    shift = _wall(start) - _wall(activity.planned_start)
    duration = end - start if end is not None else None
    changed = [activity]
    for key, value in {**others, "planned_start": start, "planned_end": end}.items():
        setattr(activity, key, value)
    for following in _following(activity) if apply_to == "following" else ():
        following.planned_start = _from_wall(_wall(following.planned_start) + shift)
        following.planned_end = following.planned_start + duration if duration is not None else None
        for key, value in others.items():
            setattr(following, key, value)
        changed.append(following)
    db.session.flush()
    return changed


def complete_activity(activity: Activity, *, outcome: str | None, evaluation: str | None = None,
                      actual_start: datetime | None = None, actual_end: datetime | None = None,
                      cost: Decimal | None = None, actor: User) -> Activity:
    """Record a planned activity as done: its outcome (what came of it), an evaluation (评价: how it went), the
    actual start and end (both now by default; a start alone ends now, an end alone started then), and its cost.

    Refuses (422, nothing changed): a task, or an activity done or cancelled already (on ``status``; the row is
    locked, so two clicks complete it once); no outcome (on ``outcome``); an actual end before the start or in the
    future (on ``actual_end``), an actual start in the future (on ``actual_start``).
    """
    db.session.refresh(activity, with_for_update=True)
    _refuse_closed(activity)
    now = utcnow()
    errors: dict[str, list[str]] = {}
    outcome = (outcome or "").strip() or None
    if outcome is None:
        errors["outcome"] = [_("Say what came of the activity.")]
    if actual_start is None and actual_end is None:
        actual_start = actual_end = now
    elif actual_end is None:
        actual_end = max(now, actual_start)
    elif actual_start is None:
        actual_start = actual_end
    if actual_start > now:
        errors["actual_start"] = [_("An activity is done once it has happened: not in the future.")]
    if actual_end > now:
        errors["actual_end"] = [_("An activity is done once it has happened: not in the future.")]
    _check_times(actual_start, actual_end, errors, field="actual_end")
    if errors:
        raise ValidationError(errors)
    activity.status, activity.outcome = ActivityStatus.DONE, outcome
    activity.evaluation = (evaluation or "").strip() or None
    activity.actual_start, activity.actual_end = actual_start, actual_end
    if cost is not None:
        activity.cost = cost
    activity.completed_by_user_id = actor.id
    db.session.flush()
    return activity


def cancel_activity(activity: Activity, *, reason: str | None = None, apply_to: str = "this",
                    actor: User) -> list[Activity]:
    """Cancel a planned activity — with ``apply_to="following"``, it and the following planned occurrences of its
    series (those done stay done) — with an optional reason, kept as its outcome. Returns the activities
    cancelled. Refuses (422, nothing changed): a task, or an activity done or cancelled already (on ``status``)."""
    _refuse_closed(activity)
    reason = (reason or "").strip() or None
    cancelled = [activity, *(_following(activity) if apply_to == "following" else ())]
    for item in cancelled:
        item.status, item.outcome, item.completed_by_user_id = ActivityStatus.CANCELLED, reason, actor.id
    db.session.flush()
    return cancelled


def _refuse_closed(activity: Activity) -> None:
    if activity.reason is not None:
        raise ValidationError({"status": [_("This is a task: complete it on the Tasks page.")]})
    if activity.status != ActivityStatus.PLANNED:
        raise ValidationError({"status": [_("This activity is %(status)s: it can no longer be changed.",
                                            status=STATUS_LABELS[activity.status])]})


def _following(activity: Activity) -> list[Activity]:
    """The planned occurrences after ``activity`` in its series (none for a single activity)."""
    if activity.series_id is None:
        return []
    return list(db.session.scalars(select(Activity).where(
        Activity.series_id == activity.series_id, Activity.series_position > activity.series_position,
        Activity.status == ActivityStatus.PLANNED, Activity.reason.is_(None)).order_by(Activity.series_position)))


# -- the agenda -----------------------------------------------------------------------------------------

def own(user: User) -> ColumnElement[bool]:
    """The activities that are ``user``'s own: an agent's (or specialist's), and those given to a user by name."""
    conditions = [Activity.assignee_user_id == user.id]
    if user.agent_id is not None:
        conditions.append(Activity.agent_id == user.agent_id)
    return or_(*conditions)


def when() -> ColumnElement:
    """When an activity happens for the agenda: when it was done, else when it is planned."""
    return func.coalesce(Activity.actual_start, Activity.planned_start)


def when_of(activity: Activity) -> datetime:
    """:func:`when` of one loaded activity."""
    return activity.actual_start or activity.planned_start


def in_period(first_day: date, last_day: date) -> ColumnElement[bool]:
    """Activities (and tasks) happening from ``first_day`` to ``last_day`` (local dates, both included), not
    cancelled."""
    return and_(when() >= local_midnight(first_day), when() < local_midnight(last_day + ONE_DAY),
                Activity.status != ActivityStatus.CANCELLED)


def agenda(user: User, first_day: date, last_day: date) -> Select:
    """``SELECT Activity`` of ``user``'s own agenda over the days, in the order they happen."""
    return (scoped_select(Activity, user).where(own(user), in_period(first_day, last_day))
            .order_by(when(), Activity.id))


def team_agenda(user: User, first_day: date, last_day: date) -> Select:
    """``SELECT Activity`` of the agents ``user`` may see (a manager: their branch's; an admin: all) over the days,
    by agent then time."""
    return (scoped_select(Activity, user).where(Activity.agent_id.is_not(None), in_period(first_day, last_day))
            .order_by(Activity.agent_id, when(), Activity.id))


def calendar_activities(user: User, today: date | None = None) -> Select:
    """``SELECT Activity`` of ``user``'s planned activities from 30 days ago to a year ahead (the calendar file)."""
    today = today or clock.today()
    return (scoped_select(Activity, user).where(
        own(user), Activity.status == ActivityStatus.PLANNED,
        Activity.planned_start >= local_midnight(today - timedelta(days=30)),
        Activity.planned_start < local_midnight(today + timedelta(days=366)))
        .order_by(Activity.planned_start, Activity.id))


def local_midnight(day: date) -> datetime:
    """The instant (UTC) the local day ``day`` of the insurer's time zone begins."""
    return datetime.combine(day, time.min, tzinfo=clock.zone()).astimezone(UTC)


def _local(instant: datetime) -> datetime:
    return instant.astimezone(clock.zone())


def _wall(instant: datetime) -> datetime:
    """The insurer's wall-clock time of ``instant`` (naive): where recurrence rules and shifts apply."""
    return _local(instant).replace(tzinfo=None)


def _from_wall(wall: datetime) -> datetime:
    return wall.replace(tzinfo=clock.zone()).astimezone(UTC)
