"""The tasks API: the open tasks of the caller's list, and completing one (see :mod:`agents.task_services`)."""

from __future__ import annotations

from agents import task_services
from agents.task_schemas import TaskArgs, TaskCompleted, TaskCompleteSchema, TaskSchema
from insurecrm.api import api_blueprint, current_user, page_envelope, paginate
from insurecrm.auth import require_roles
from insurecrm.db import db

tasks_blp = api_blueprint("tasks_api", __name__,
                          description="Tasks: what the system asks of agents and managers (calls, callbacks, "
                                      "escalations), and their outcomes.")
API_BLUEPRINTS = (tasks_blp,)


@tasks_blp.route("/tasks", methods=["GET"])
@require_roles(*task_services.TASK_ROLES)
@tasks_blp.arguments(TaskArgs, location="query")
@tasks_blp.response(200, page_envelope(TaskSchema))
def list_tasks(args):
    """The open tasks of your list, earliest due first; filter by reason, due (overdue, today, upcoming) and, for
    managers, assignee (mine, pool, agents, all; default mine and the pool's)."""
    stmt = task_services.task_list(current_user(), reason=args.get("reason"), due=args.get("due"),
                                   assignee=args.get("assignee"))
    items, meta = paginate(stmt, args)
    return {"items": items, "meta": meta}


@tasks_blp.route("/tasks/<int:task_id>", methods=["GET"])
@require_roles(*task_services.TASK_ROLES)
@tasks_blp.response(200, TaskSchema)
def get_task(task_id):
    """One task you may see (open or completed)."""
    return task_services.task_or_404(task_id)


@tasks_blp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@require_roles(*task_services.TASK_ROLES)
@tasks_blp.arguments(TaskCompleteSchema)
@tasks_blp.response(200, TaskCompleted)
def complete_task(data, task_id):
    """Complete a task with its outcome: reached (with a note), no_answer, or call_back on a date (which plans
    the follow-up task). The call is logged on the policyholder's timeline."""
    task = task_services.task_or_404(task_id)
    follow_up = task_services.complete_task(task, outcome=data["outcome"], note=data.get("note"),
                                            call_back_on=data.get("call_back_on"), actor=current_user())
    db.session.commit()
    return {"task": task, "follow_up": follow_up}

