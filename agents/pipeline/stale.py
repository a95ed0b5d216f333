"""Stale opportunities: the daily job that tells the owner, and past twice the limit the branch manager, of an open
opportunity staying in its stage longer than the stage's residence limit (``PipelineStage.max_days``).

An opportunity is *stale* on a date when the whole days from the local date it entered its stage
(``stage_entered_at`` in the insurer's time zone) to that date are more than the stage's ``max_days``: a stage
with a limit of 14 days entered on 1 March is stale from 16 March (15 days). A stage without a limit (signed,
lost) never makes one stale, nor does a closed opportunity.

Each stale opportunity gets one task (reason ``stale_opportunity``) for its owner agent (the pool of its unit when
the owner is not active), and past twice the limit one more for the manager leading its unit (else the unit's
pool) — once per *stage entry*: the key names the opportunity, its stage and the instant it entered it
(``stale_opportunity:opportunity=42:stage=5:entered=1772323200``, the manager's key ends in ``:manager``), so a
rerun, a catch-up or a concurrent run adds nothing, and an opportunity moved on and back is told of again.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import BigInteger, Date, Integer, Select, String, cast, func, literal, select

from agents.models import Activity, ActivityKind, Opportunity, OpportunityStatus, PipelineStage, Priority, TaskReason
from insurecrm import clock
from insurecrm.batches import in_batches
from insurecrm.db import db
from insurecrm.jobs import daily_job
from policyholders.models import Policyholder
from policyholders.tasks import (
    TASK_COLUMNS,
    active_agent,
    days_between,
    insert_new,
    key_of,
    task_exists,
    task_row,
    unit_manager,
)

JOB_ID = "agents.stale_opportunities"
KEY = "stale_opportunity:opportunity="
#: the columns of a task (policyholders.tasks.task_row), and the opportunity it is about
COLUMNS = [*TASK_COLUMNS, "opportunity_id"]
SUBJECT = "Opportunity stale in its stage: "
DESCRIPTION = ("The opportunity has stayed in its stage longer than the stage's limit: move it on, close it, or plan "
               "what will.")


def entered_on(logical_date: date):
    """SQL: the local date (insurer's time zone) an opportunity entered its stage. SQLite has no time zones: the
    zone's offset on ``logical_date`` is used."""
    if db.dialect == "postgresql":
        return cast(func.timezone(clock.zone().key, Opportunity.stage_entered_at), Date)
    offset = int(datetime.combine(logical_date, time(), clock.zone()).utcoffset().total_seconds())
    return func.date(Opportunity.stage_entered_at, f"{offset:+d} seconds")


def days_in_stage(logical_date: date):
    """SQL: whole days from the local date an opportunity entered its stage to ``logical_date``."""
    return days_between(literal(logical_date, Date()), entered_on(logical_date))


def stage_entry_key(prefix: str, suffix: str = ""):
    """SQL: the task's key, naming the opportunity, its stage and the instant (epoch seconds) it entered it."""
    if db.dialect == "postgresql":
        epoch = cast(func.extract("epoch", Opportunity.stage_entered_at), BigInteger)
    else:
        epoch = cast(func.strftime("%s", Opportunity.stage_entered_at), Integer)
    return (key_of(prefix, Opportunity.id, ":stage=") + cast(Opportunity.stage_id, String)
            + literal(":entered=") + cast(epoch, String) + literal(suffix))


def _stale_tasks(logical_date: date, *, times: int, manager: bool) -> tuple[Select, list, Select]:
    """(rows to insert, conditions, keys to work on) of the tasks owed when an open opportunity has been in its
    stage more than ``times`` × its limit."""
    key = stage_entry_key(KEY, ":manager" if manager else "")
    owed = [Opportunity.status == OpportunityStatus.OPEN, PipelineStage.max_days.is_not(None),
            days_in_stage(logical_date) > PipelineStage.max_days * times, ~task_exists(key)]
    assignee = unit_manager(Opportunity.org_unit_id) if manager else None
    rows = (
        select(*task_row(
            source_key=key, reason=TaskReason.STALE_OPPORTUNITY, kind=ActivityKind.CALL,
            priority=Priority.URGENT if manager else Priority.HIGH, subject=literal(SUBJECT) + Opportunity.title,
            description=DESCRIPTION, due=logical_date,
            agent_id=None if manager else active_agent(Opportunity.owner_agent_id), assignee_user_id=assignee,
            org_unit_id=Opportunity.org_unit_id, policyholder_id=Opportunity.policyholder_id,
            contact_name=func.coalesce(Policyholder.name, Opportunity.prospect_name)), Opportunity.id)
        .select_from(Opportunity).join(PipelineStage, PipelineStage.id == Opportunity.stage_id)
        .outerjoin(Policyholder, Policyholder.id == Opportunity.policyholder_id)
    )
    keys = (select(Opportunity.id).join(PipelineStage, PipelineStage.id == Opportunity.stage_id).where(*owed))
    return rows, owed, keys


@daily_job(JOB_ID, order=55)
def stale_opportunities(logical_date: date) -> dict[str, int]:
    """Plan a task for the owner of every open opportunity stale on ``logical_date`` (see the module), and one for
    the manager of those past twice their stage's limit; never twice for the same stage entry. Opportunities
    closed, in a stage without a limit, or moved since (a later ``stage_entered_at``) get nothing. Returns
    ``stale_tasks`` and ``stale_escalations``, the tasks written."""
    counts = {}
    for name, times, manager in (("stale_tasks", 1, False), ("stale_escalations", 2, True)):
        rows, owed, keys = _stale_tasks(logical_date, times=times, manager=manager)
        counts[name] = in_batches(keys, lambda ids, rows=rows, owed=owed: insert_new(
            Activity, COLUMNS, rows.where(Opportunity.id.in_(ids), *owed), ["source_key"]))
    return counts
