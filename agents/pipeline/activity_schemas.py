"""What the activities API (and the activity pages' forms) take in and give out (see :mod:`.activities`)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from agents.models import ActivityKind, ActivityStatus, Priority, Recurrence, TaskOutcome, TaskReason
from agents.pipeline.activities import APPLY_TO, MAX_OCCURRENCES
from insurecrm.api import LONG_TEXT, Date, Id, Instant, Integer, ListArgs, Money, Schema

NAME = {"pii": "name"}
DROP = {"pii": "drop"}
NOT_NEGATIVE = validate.Range(min=0, error="Must not be negative.")
#: planned times: a year back (an activity logged late) to five years ahead
PLANNED = {"past_years": 1, "future_years": 5}


def _enum(enum_cls, **kwargs) -> fields.Enum:
    return fields.Enum(enum_cls, by_value=True, **kwargs)


class ActivitySchema(Schema):
    """An activity (销售活动) or a task, with every field of SPEC §3 and its place in a recurring series."""

    pii_kind = "activity"

    id = Id(dump_only=True)
    kind = _enum(ActivityKind, dump_only=True)
    priority = _enum(Priority, dump_only=True)
    status = _enum(ActivityStatus, dump_only=True)
    subject = fields.String(dump_only=True, metadata=DROP)
    description = fields.String(dump_only=True, allow_none=True, metadata=DROP)
    planned_start = fields.AwareDateTime(dump_only=True)
    planned_end = fields.AwareDateTime(dump_only=True, allow_none=True)
    actual_start = fields.AwareDateTime(dump_only=True, allow_none=True)
    actual_end = fields.AwareDateTime(dump_only=True, allow_none=True)
    agent_id = Id(dump_only=True, allow_none=True)
    assignee_user_id = Id(dump_only=True, allow_none=True)
    org_unit_id = Id(dump_only=True)
    policyholder_id = Id(dump_only=True, allow_none=True)
    contact_name = fields.String(dump_only=True, allow_none=True, metadata=NAME)
    opportunity_id = Id(dump_only=True, allow_none=True)
    policy_id = Id(dump_only=True, allow_none=True)
    recurrence = _enum(Recurrence, dump_only=True)
    recurrence_until = fields.Date(dump_only=True, allow_none=True)
    series_id = Id(dump_only=True, allow_none=True)
    series_position = Integer(dump_only=True, allow_none=True)
    cost = Money(dump_only=True, allow_none=True)
    outcome = fields.String(dump_only=True, allow_none=True, metadata=DROP)
    evaluation = fields.String(dump_only=True, allow_none=True, metadata=DROP)
    reason = _enum(TaskReason, dump_only=True, allow_none=True,
                   metadata={"description": "Set on a task of the renewal engine (completed through /tasks)."})
    due_date = fields.Date(dump_only=True, allow_none=True)
    task_outcome = _enum(TaskOutcome, dump_only=True, allow_none=True)
    completed_by_user_id = Id(dump_only=True, allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class ActivityArgs(ListArgs):
    date_from = Date(past_years=10, future_years=10,
                     metadata={"description": "Activities happening on or after this day (the insurer's zone)."})
    date_to = Date(past_years=10, future_years=10,
                   metadata={"description": "Activities happening on or before this day (the insurer's zone)."})
    agent_id = Id()
    status = fields.String(validate=validate.OneOf([s.value for s in ActivityStatus]))
    kind = fields.String(validate=validate.OneOf([k.value for k in ActivityKind]))
    opportunity_id = Id()
    policyholder_id = Id()
    series_id = Id()
    tasks = fields.Boolean(metadata={"description": "true: only tasks; false: only planned activities (no tasks)."})

    @ma.validates_schema
    def _period(self, data, **_kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ma.ValidationError({"date_to": ["Must not be before date_from."]})


class _ActivityFields(Schema):
    kind = _enum(ActivityKind, required=True)
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    priority = _enum(Priority, load_default=Priority.NORMAL)
    description = fields.String(allow_none=True, validate=LONG_TEXT)
    planned_start = Instant(required=True, **PLANNED)
    planned_end = Instant(allow_none=True, **PLANNED)
    policyholder_id = Id(allow_none=True)
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    opportunity_id = Id(allow_none=True)
    cost = Money(allow_none=True, validate=NOT_NEGATIVE)


class ActivityCreateSchema(_ActivityFields):
    """A new activity; with a recurrence, the series of its occurrences (up to a date or a count)."""

    agent_id = Id(allow_none=True, metadata={"description": "Managers: the agent of your branch it is for "
                                                            "(none: yourself). Agents: yourself only."})
    recurrence = _enum(Recurrence, load_default=Recurrence.NONE)
    recurrence_until = Date(allow_none=True, past_years=1, future_years=5,
                            metadata={"description": "The last day of the series (or give recurrence_count)."})
    recurrence_count = Integer(allow_none=True, validate=validate.Range(min=1, max=MAX_OCCURRENCES),
                               metadata={"description": "How many occurrences (or give recurrence_until)."})
    status = fields.String(load_default=ActivityStatus.PLANNED.value,
                           validate=validate.OneOf([ActivityStatus.PLANNED.value, ActivityStatus.DONE.value]),
                           metadata={"description": "planned, or done to log an activity that happened "
                                                    "(then with its outcome)."})
    outcome = fields.String(allow_none=True, validate=validate.Length(max=255))
    evaluation = fields.String(allow_none=True, validate=LONG_TEXT)
    actual_start = Instant(allow_none=True, past_years=1, future_years=1)
    actual_end = Instant(allow_none=True, past_years=1, future_years=1)


class ActivityUpdateSchema(_ActivityFields):
    """Reschedule or edit a planned activity (every field optional); ``apply_to: following`` also moves the
    following occurrences of its series."""

    apply_to = fields.String(load_default="this", validate=validate.OneOf(APPLY_TO))


class ActivityCompleteSchema(Schema):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=255),
                            metadata={"description": "What came of it."})
    evaluation = fields.String(allow_none=True, validate=LONG_TEXT, metadata={"description": "How it went (评价)."})
    actual_start = Instant(allow_none=True, past_years=1, future_years=1,
                           metadata={"description": "Default: now (or the actual end)."})
    actual_end = Instant(allow_none=True, past_years=1, future_years=1, metadata={"description": "Default: now."})
    cost = Money(allow_none=True, validate=NOT_NEGATIVE)


class ActivityCancelSchema(Schema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=255))
    apply_to = fields.String(load_default="this", validate=validate.OneOf(APPLY_TO))


class ActivityChanged(ma.Schema):
    """The activity asked about, and the other occurrences of its series the request changed or created."""

    activity = fields.Nested(ActivitySchema)
    series = fields.List(fields.Nested(ActivitySchema))
