"""Tasks: what the system asks of a person, and completing them.

A task is an :class:`~agents.models.Activity` with a ``reason`` (see :class:`~agents.models.TaskReason`): the
daily jobs produce them (a renewal reminder owed to a policyholder who can be reached on no consented channel, an
escalation of an uncontacted renewal, a new-policy callback, a key-customer call) and completing one with a call
back produces the next. Each is assigned to an agent (``agent_id``), to a user who is not an agent — the branch
manager of an escalation — (``assignee_user_id``), or to neither: the pool of its unit, which the unit's managers
work. Who sees which task is the activity scope rule (:mod:`agents.permissions`).

Completing a task is done by whoever may see it (its agent, or a manager above it), with an outcome:

- ``reached`` (with a note: what was said);
- ``no_answer`` (optionally with a date to call back on);
- ``call_back`` (reached, and asked to be called again on a date).

A call back date creates the follow-up task, due that date, with the same reason, links and assignee. The call
is logged on the policyholder's timeline (an interaction); when the policyholder was reached and the task is
about a renewal case still worked, the case is marked contacted through the renewal service, exactly as logging a
contact on the renewal worklist does — a call nobody answered is logged, but does not count as a contact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import abort
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, Select, and_, case, or_, select

import agents.permissions  # noqa: F401 - registers the activity scope rule
import policies.permissions  # noqa: F401 - the renewal case rule
import policyholders.permissions  # noqa: F401 - the policyholder rule
from agents.models import Activity, ActivityStatus, TaskOutcome, TaskReason
from insurecrm import clock
from insurecrm.db import db, utcnow
from insurecrm.models import Role, User
from insurecrm.scope import get_visible_or_404, scoped_select, visible
from policies.models import WORKED_CASE_STATUSES, Policy, RenewalCase
from policyholders.models import InteractionChannel, Policyholder

#: the roles that work tasks (the Tasks page and the API)
TASK_ROLES = (Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.BRANCH_MANAGER)
#: the latest a call back may be planned
CALL_BACK_HORIZON = timedelta(days=366)
#: the hour (insurer's time zone) at which a task is planned on its due date
PLANNED_HOUR = time(9)

REASON_LABELS = {
    TaskReason.RENEWAL_CALL: _l("Renewal reminder call (no reachable channel)"),
    TaskReason.RENEWAL_ESCALATION: _l("Renewal escalation: not contacted"),
    TaskReason.NEW_POLICY_CALLBACK: _l("New-policy callback"),
    TaskReason.KEY_CUSTOMER_CALL: _l("Key-customer service call"),
    TaskReason.STALE_OPPORTUNITY: _l("Opportunity stale in its stage"),
    TaskReason.INBOUND_MESSAGE: _l("Message from a policyholder"),
    TaskReason.CAMPAIGN: _l("Campaign call"),
    TaskReason.CAMPAIGN_STOPPED: _l("Campaign stopped: hand it over"),
    TaskReason.OTHER: _l("Task"),
}
#: what to do, by reason (the jobs' own wording of a task is stored in English with it; pages show this instead)
REASON_HINTS = {
    TaskReason.RENEWAL_CALL: _l("The policyholder can be reached on no channel they consented to: call them about "
                                "the renewal."),
    TaskReason.RENEWAL_ESCALATION: _l("Nobody has contacted this policyholder and the policy expires soon: call "
                                      "them, or hand the case to an agent who will."),
    TaskReason.NEW_POLICY_CALLBACK: _l("Confirm the policyholder received the policy and understood its terms and "
                                       "cooling-off period."),
    TaskReason.KEY_CUSTOMER_CALL: _l("Periodic service call for a key customer: review their cover and needs."),
    TaskReason.STALE_OPPORTUNITY: _l("The opportunity has stayed in its stage longer than the stage's limit: move it "
                                     "on, close it, or plan what will."),
    TaskReason.INBOUND_MESSAGE: _l("The policyholder sent a message (on their timeline): read it and answer."),
    TaskReason.CAMPAIGN: _l("A campaign reaches this policyholder through you: call them with its message (below) "
                            "and record how it went — reached, with what they said, is their response."),
    TaskReason.CAMPAIGN_STOPPED: _l("This active campaign no longer runs: its owner is no longer active, or no "
                                    "longer manages its branch. Open it and hand it over to an active manager or "
                                    "admin, or end it."),
}
OUTCOME_LABELS = {TaskOutcome.REACHED: _l("Reached"), TaskOutcome.NO_ANSWER: _l("No answer"),
                  TaskOutcome.CALL_BACK: _l("Call back on a date")}
#: filters of the list: which tasks by due date
DUE_FILTERS = ("overdue", "today", "upcoming")
#: filters of a manager's list: whose tasks (the Tasks page starts with ``mine_and_pool``: what they must work)
ASSIGNEE_FILTERS = ("mine_and_pool", "mine", "pool", "agents", "all")


def task_or_404(task_id: int) -> Activity:
    """The task ``task_id`` if the current user may see it; 404 otherwise, and for an activity that is not a task."""
    task = get_visible_or_404(Activity, task_id)
    if task.reason is None:
        abort(404, description=f"Task {task_id} not found.")
    return task


def is_task() -> ColumnElement[bool]:
    return Activity.reason.is_not(None)


def open_tasks(user: User) -> Select:
    """``SELECT Activity`` of the open tasks ``user`` may see (the scope rule), in no order."""
    return scoped_select(Activity, user).where(is_task(), Activity.status == ActivityStatus.PLANNED)


def assigned_to(user: User, assignee: str | None) -> ColumnElement[bool] | None:
    """The condition of a manager's ``assignee`` filter (``None``: no condition, all they may see). An agent's
    list is their own whatever the filter (the scope rule sees to it)."""
    if user.role != Role.BRANCH_MANAGER or assignee in (None, "all"):
        return None
    mine = Activity.assignee_user_id == user.id
    pool = and_(Activity.agent_id.is_(None), Activity.assignee_user_id.is_(None))
    return {"mine": mine, "pool": pool, "agents": Activity.agent_id.is_not(None), "mine_and_pool": or_(mine, pool)}[
        assignee]


def task_list(user: User, *, reason: str | None = None, due: str | None = None, assignee: str | None = None,
              today: date | None = None) -> Select:
    """The open tasks of ``user``'s list, filtered, earliest due first (so the overdue lead), then the most
    urgent."""
    today = today or clock.today()
    stmt = open_tasks(user)
    if reason:
        stmt = stmt.where(Activity.reason == reason)
    if due:
        stmt = stmt.where({"overdue": Activity.due_date < today, "today": Activity.due_date == today,
                           "upcoming": Activity.due_date > today}[due])
    condition = assigned_to(user, assignee)
    if condition is not None:
        stmt = stmt.where(condition)
    return stmt.order_by(Activity.due_date, _urgency(), Activity.id)


def _urgency():
    return case({"urgent": 0, "high": 1, "normal": 2}, value=Activity.priority, else_=3)


def due_today_or_overdue(user: User, today: date) -> Select:
    """The open tasks of ``user`` due today or before (My day)."""
    return open_tasks(user).where(Activity.due_date <= today)


def follow_cases(case_ids: list[int], agent) -> int:
    """The open tasks of the agents working the renewal cases ``case_ids`` go with the cases to ``agent`` (and
    their unit); an escalation stays with the manager it was given to. Returns how many moved (audited: tasks are
    activities)."""
    tasks = db.session.scalars(select(Activity).where(
        Activity.renewal_case_id.in_(case_ids), is_task(), Activity.status == ActivityStatus.PLANNED,
        Activity.assignee_user_id.is_(None))).all()
    for task in tasks:
        task.agent_id, task.org_unit_id = agent.id, agent.org_unit_id
    return len(tasks)


def complete_task(task: Activity, *, outcome: TaskOutcome | str, note: str | None = None,
                  call_back_on: date | None = None, actor: User) -> Activity | None:
    """Complete the open task ``task`` (loaded through the scope rules) with ``outcome``; returns the follow-up
    task when a call back date was given (see the module).

    Refuses (422, nothing changed): an activity that is not a task or not open any more (on ``status``); an
    unknown outcome; ``reached`` without a note (on ``note``); ``call_back`` without a date, or a date before
    today or more than a year ahead (on ``call_back_on``); a call back date with ``reached`` (nothing to call
    back for)."""
    db.session.refresh(task, with_for_update=True)  # two clicks on "complete" finish it once
    outcome = _check(task, outcome, (note or "").strip() or None, call_back_on)
    note = (note or "").strip() or None
    now = utcnow()
    task.status, task.task_outcome, task.outcome = ActivityStatus.DONE, outcome, note
    task.actual_start = task.actual_end = now
    task.completed_by_user_id = actor.id
    _log_call(task, outcome, note, call_back_on, actor)
    follow_up = _follow_up(task, call_back_on) if call_back_on else None
    db.session.flush()
    return follow_up


def _check(task: Activity, outcome, note: str | None, call_back_on: date | None) -> TaskOutcome:
    if task.reason is None or task.status != ActivityStatus.PLANNED:
        raise ValidationError({"status": [_("This task is completed already.")]})
    if outcome not in set(TaskOutcome):
        raise ValidationError({"outcome": [_("Choose one of: %(choices)s.", choices=", ".join(TaskOutcome))]})
    outcome = TaskOutcome(outcome)
    errors: dict[str, list[str]] = {}
    if outcome is TaskOutcome.REACHED and note is None:
        errors["note"] = [_("Say what was agreed with the policyholder.")]
    if outcome is TaskOutcome.REACHED and call_back_on is not None:
        errors["call_back_on"] = [_("Choose “call back on a date” to plan another call.")]
    if outcome is TaskOutcome.CALL_BACK and call_back_on is None:
        errors["call_back_on"] = [_("Choose the day to call back.")]
    today = clock.today()
    if call_back_on is not None and not today <= call_back_on <= today + CALL_BACK_HORIZON:
        errors["call_back_on"] = [_("Choose a day from today to a year ahead.")]
    if errors:
        raise ValidationError(errors)
    return outcome


def _log_call(task: Activity, outcome: TaskOutcome, note: str | None, call_back_on: date | None,
              actor: User) -> None:
    """The call on the policyholder's timeline; a reached policyholder's renewal case is marked contacted."""
    from policies import renewals
    from policyholders.services import create_interaction

    if task.policyholder_id is None or not _visible(Policyholder, task.policyholder_id, actor):
        return
    summary = f"{REASON_LABELS[task.reason]}: {task.subject}"
    said = str(OUTCOME_LABELS[outcome]) if call_back_on is None else \
        _("%(outcome)s — call back on %(day)s", outcome=OUTCOME_LABELS[outcome], day=call_back_on.isoformat())
    said = f"{said}. {note}" if note else said
    case = _workable_case(task, actor) if outcome is not TaskOutcome.NO_ANSWER else None
    if case is not None:
        renewals.log_contact(case, channel=InteractionChannel.PHONE, summary=summary, outcome=said[:255], actor=actor)
        return
    policy_id = task.policy_id if task.policy_id and _visible(Policy, task.policy_id, actor) else None
    create_interaction({"policyholder_id": task.policyholder_id, "channel": InteractionChannel.PHONE,
                        "summary": summary, "outcome": said[:255], "policy_id": policy_id}, actor=actor)


def _visible(model, object_id: int, actor: User) -> bool:
    return db.session.scalar(select(model.id).where(model.id == object_id, visible(model, actor))) is not None


def _workable_case(task: Activity, actor: User) -> RenewalCase | None:
    if task.renewal_case_id is None:
        return None
    return db.session.scalar(scoped_select(RenewalCase, actor).where(
        RenewalCase.id == task.renewal_case_id, RenewalCase.status.in_(WORKED_CASE_STATUSES)))


def _follow_up(task: Activity, day: date) -> Activity:
    follow_up = Activity(
        source_key=f"follow_up:activity={task.id}", reason=task.reason, kind=task.kind, priority=task.priority,
        subject=task.subject, description=task.description, due_date=day, planned_start=planned_on(day),
        agent_id=task.agent_id, assignee_user_id=task.assignee_user_id, org_unit_id=task.org_unit_id,
        policyholder_id=task.policyholder_id, contact_name=task.contact_name, policy_id=task.policy_id,
        renewal_case_id=task.renewal_case_id, follow_up_of_id=task.id, status=ActivityStatus.PLANNED)
    db.session.add(follow_up)
    return follow_up


def planned_on(day: date) -> datetime:
    """:data:`PLANNED_HOUR` on ``day`` in the insurer's time zone, as a UTC instant."""
    return datetime.combine(day, PLANNED_HOUR, tzinfo=clock.zone()).astimezone(UTC)
