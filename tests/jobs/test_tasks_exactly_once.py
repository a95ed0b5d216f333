"""Tasks are inserted exactly once: a key a concurrent run wrote first is skipped by the database itself."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, literal, select

from agents.models import Activity, ActivityKind, Priority, TaskReason
from policyholders.models import Policyholder
from policyholders.tasks import plan_tasks, task_row

DAY = date(2026, 12, 1)


def rows_for(holder_id: int):
    """The tasks a job would plan for one policyholder, *without* the job's own ``NOT EXISTS`` check: what a run
    racing another one sees before the other commits."""
    return select(*task_row(
        source_key=literal(f"race:holder={holder_id}"), reason=TaskReason.KEY_CUSTOMER_CALL, kind=ActivityKind.CALL,
        priority=Priority.NORMAL, subject="Call", description="Call them.", due=DAY,
        agent_id=Policyholder.owner_agent_id, org_unit_id=Policyholder.org_unit_id, policyholder_id=Policyholder.id,
        contact_name=Policyholder.name,
    )).where(Policyholder.id == holder_id)


def test_a_key_written_first_by_another_run_is_skipped_not_duplicated_nor_an_error(make, session):
    holder = make.policyholder()
    assert plan_tasks(rows_for(holder.id)) == 1
    assert plan_tasks(rows_for(holder.id)) == 0  # ON CONFLICT (source_key) DO NOTHING
    [task] = session.scalars(select(Activity)).all()
    assert (task.source_key, task.due_date, task.agent_id) == (f"race:holder={holder.id}", DAY, holder.owner_agent_id)
    assert session.scalar(select(func.count(Activity.id))) == 1
