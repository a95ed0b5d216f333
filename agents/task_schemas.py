"""What the tasks API (and the Tasks page's forms) take in and give out."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from agents.models import ActivityKind, ActivityStatus, Priority, TaskOutcome, TaskReason
from agents.task_services import ASSIGNEE_FILTERS, DUE_FILTERS
from insurecrm.api import Date, Id, ListArgs, Schema

NAME = {"pii": "name"}
DROP = {"pii": "drop"}


def _enum(enum_cls, **kwargs) -> fields.Enum:
    return fields.Enum(enum_cls, by_value=True, **kwargs)


class TaskArgs(ListArgs):
    reason = fields.String(validate=validate.OneOf([r.value for r in TaskReason]))
    due = fields.String(validate=validate.OneOf(DUE_FILTERS),
                        metadata={"description": "overdue, today or upcoming (by due date in the insurer's zone)."})
    assignee = fields.String(validate=validate.OneOf(ASSIGNEE_FILTERS),
                             metadata={"description": "Managers: mine_and_pool, mine, pool, agents or all "
                                                      "(the default: all the tasks you may see)."})


class TaskSchema(Schema):
    """An open or completed task: an activity the system gave a person, with its reason and due date."""

    pii_kind = "activity"

    id = Id(dump_only=True)
    reason = _enum(TaskReason, dump_only=True)
    kind = _enum(ActivityKind, dump_only=True)
    priority = _enum(Priority, dump_only=True)
    status = _enum(ActivityStatus, dump_only=True)
    subject = fields.String(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True, metadata=DROP)
    due_date = fields.Date(dump_only=True, allow_none=True)
    planned_start = fields.AwareDateTime(dump_only=True)
    agent_id = Id(dump_only=True, allow_none=True)
    assignee_user_id = Id(dump_only=True, allow_none=True)
    org_unit_id = Id(dump_only=True)
    policyholder_id = Id(dump_only=True, allow_none=True)
    contact_name = fields.String(dump_only=True, allow_none=True, metadata=NAME)
    policy_id = Id(dump_only=True, allow_none=True)
    renewal_case_id = Id(dump_only=True, allow_none=True)
    follow_up_of_id = Id(dump_only=True, allow_none=True)
    task_outcome = _enum(TaskOutcome, dump_only=True, allow_none=True)
    outcome = fields.String(dump_only=True, allow_none=True, metadata=DROP)
    actual_end = fields.AwareDateTime(dump_only=True, allow_none=True)
    source_key = fields.String(dump_only=True, allow_none=True)


class TaskCompleteSchema(Schema):
    outcome = _enum(TaskOutcome, required=True,
                    metadata={"description": "reached (with a note), no_answer, or call_back (with call_back_on)."})
    note = fields.String(allow_none=True, validate=validate.Length(max=255))
    call_back_on = Date(allow_none=True, past_years=0, future_years=1,
                        metadata={"description": "The follow-up task's due date (today to a year ahead)."})


class TaskCompleted(ma.Schema):
    task = fields.Nested(TaskSchema)
    follow_up = fields.Nested(TaskSchema, allow_none=True)
