"""The Tasks page (/tasks): the open tasks of an agent, a specialist or a branch manager, and completing them.

The list reads through the activity scope rule (:func:`agents.task_services.task_list`); completing goes through
:func:`agents.task_services.complete_task`, with the form read by the API's own schema.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import aliased

from agents import task_services
from agents.models import Activity, Agent
from agents.task_schemas import TaskArgs, TaskCompleteSchema
from insurecrm import clock
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import Role, User
from insurecrm.web import load_form, page_roles, paginate_page
from policies.models import Policy
from policyholders.models import Policyholder

bp = Blueprint("tasks_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
PER_PAGE = 25
FILTERS = ("reason", "due", "assignee")


@bp.get("/tasks")
@page_roles(*task_services.TASK_ROLES)
def index():
    """The open tasks, earliest due first, filtered by reason, due and (managers) assignee."""
    return _page()


@bp.post("/tasks/<int:task_id>/complete")
@page_roles(*task_services.TASK_ROLES)
def complete(task_id: int):
    """Complete a task with its outcome; a call back date plans the follow-up task."""
    task = task_services.task_or_404(task_id)
    try:
        data = load_form(TaskCompleteSchema())
        follow_up = task_services.complete_task(task, outcome=data["outcome"], note=data.get("note"),
                                                call_back_on=data.get("call_back_on"), actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _page(failed={"task_id": task_id, "errors": flatten_messages(exc.normalized_messages())},
                     status=422)
    db.session.commit()
    if follow_up is not None:
        flash(_("Task completed. A follow-up call is planned for %(day)s.", day=follow_up.due_date.isoformat()),
              "success")
    else:
        flash(_("Task completed."), "success")
    return redirect(request.form.get("next") if _safe(request.form.get("next")) else url_for(".index"))


def _safe(target: str | None) -> bool:
    return bool(target) and target.startswith("/") and not target.startswith("//")


def _page(*, failed: dict | None = None, status: int = 200):
    try:
        filters = TaskArgs(only=FILTERS).load({k: v for k, v in request.args.items() if k in FILTERS and v.strip()})
    except ValidationError as exc:
        filters, failed = {}, failed or {"task_id": None, "errors": flatten_messages(exc.normalized_messages())}
        status = 422
    user, today = g.user, clock.today()
    # a manager's page starts with what they must work themselves: theirs and the pool's
    filters.setdefault("assignee", "mine_and_pool")
    stmt = task_services.task_list(user, today=today, **filters)
    page = paginate_page(stmt, PER_PAGE)
    return render_template(
        "agents/tasks.html", page=page, rows=with_people(page.items), filters=filters, today=today,
        failed=failed or {}, values=request.form if failed else {}, manager=user.role == Role.BRANCH_MANAGER,
        reason_labels=task_services.REASON_LABELS, outcome_labels=task_services.OUTCOME_LABELS,
        reason_hints=task_services.REASON_HINTS,
    ), status


def with_people(tasks: list[Activity]) -> list[tuple]:
    """(task, policyholder, policy number, agent, assignee user) for each task: one query for all of them (run
    even for an empty page, so the page's query count never depends on the book)."""
    holder, agent, assignee = aliased(Policyholder), aliased(Agent), aliased(User)
    rows = db.session.execute(
        select(Activity.id, holder, Policy.number, agent, assignee)
        .outerjoin(holder, holder.id == Activity.policyholder_id).outerjoin(Policy, Policy.id == Activity.policy_id)
        .outerjoin(agent, agent.id == Activity.agent_id).outerjoin(assignee, assignee.id == Activity.assignee_user_id)
        .where(Activity.id.in_([task.id for task in tasks]))
    ).all()
    by_id = {row[0]: row[1:] for row in rows}
    return [(task, *by_id[task.id]) for task in tasks]
