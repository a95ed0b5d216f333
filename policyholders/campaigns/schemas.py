"""What comes in and goes out of the campaigns API, and what the campaign form loads."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from insurecrm.api import Date, Id, Integer, ListArgs, Money, Schema, VersionedSchema
from insurecrm.outbox.rendering import compile_error
from policyholders.campaigns.models import (
    CampaignChannel,
    CampaignKind,
    CampaignSchedule,
    CampaignStatus,
    MemberOutcome,
    RunStatus,
)

NAME = validate.Length(min=1, max=200)
DESCRIPTION = validate.Length(max=2000)
LANGUAGES = ("en", "zh")
#: a campaign's dates: from a year back (a campaign entered late) to five years ahead
SPAN = {"past_years": 1, "future_years": 5}
NOT_NEGATIVE = validate.Range(min=0, error="Must not be negative.")


class CampaignMessageSchema(Schema):
    """The campaign's message in one language: the subject (of an email or a task) and the body, Jinja with
    ``{{ policyholder_name }}``."""

    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    subject = fields.String(allow_none=True, validate=validate.Length(max=255))
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))

    @validates("subject")
    def _subject_compiles(self, value, **_kwargs) -> None:
        if (problem := compile_error(value)) is not None:
            raise ValidationError(f"The subject is not a valid template: {problem}")

    @validates("body")
    def _body_compiles(self, value, **_kwargs) -> None:
        if (problem := compile_error(value)) is not None:
            raise ValidationError(f"The message is not a valid template: {problem}")


def _messages(**kwargs) -> fields.List:
    return fields.List(fields.Nested(CampaignMessageSchema), validate=validate.Length(max=len(LANGUAGES)),
                       metadata={"description": "The message per language (one each); a policyholder gets it in "
                                                "their language, else in English, else in the other."}, **kwargs)


class _CampaignFields(Schema):
    name = fields.String(validate=NAME)
    kind = fields.Enum(CampaignKind, by_value=True)
    channel = fields.Enum(CampaignChannel, by_value=True)
    description = fields.String(allow_none=True, validate=DESCRIPTION)
    segment_id = Id(allow_none=True, metadata={"description": "The segment it reaches (one you may see)."})
    schedule = fields.Enum(CampaignSchedule, by_value=True)
    start_date = Date(**SPAN)
    end_date = Date(allow_none=True, **SPAN)
    control_percent = Integer(minimum=0, maximum=50, metadata={
        "description": "The share of each run's members held out (sent nothing), in percent."})
    conversion_window_days = Integer(minimum=1, maximum=365, metadata={
        "description": "A conversion counts within this many days after the message."})
    cost_per_message = Money(validate=NOT_NEGATIVE)
    budget = Money(allow_none=True, validate=NOT_NEGATIVE, metadata={
        "description": "No message is sent once the campaign's messages have cost this much (none: no limit)."})
    messages = _messages()

    @validates("messages")
    def _one_per_language(self, value, **_kwargs) -> None:
        languages = [message.get("language") for message in value]
        if len(set(languages)) != len(languages):
            raise ValidationError("One message per language.")

    @validates_schema
    def _dates_in_order(self, data, **_kwargs) -> None:
        if data.get("end_date") and data.get("start_date") and data["end_date"] < data["start_date"]:
            raise ValidationError({"end_date": ["The end date is on or after the start date."]})


class CampaignSchema(_CampaignFields):
    """A campaign: what it reaches, when, how, for how much, and how it is measured."""

    id = Id(dump_only=True)
    version = Integer(dump_only=True, minimum=0)
    name = fields.String(required=True, validate=NAME)
    kind = fields.Enum(CampaignKind, by_value=True, required=True)
    channel = fields.Enum(CampaignChannel, by_value=True, required=True)
    status = fields.Enum(CampaignStatus, by_value=True, dump_only=True, metadata={
        "description": "draft, active (runs on its schedule), paused or ended: see POST /campaigns/{id}/status."})
    schedule = fields.Enum(CampaignSchedule, by_value=True, load_default=CampaignSchedule.ONCE)
    start_date = Date(required=True, **SPAN)
    control_percent = Integer(minimum=0, maximum=50, load_default=0)
    conversion_window_days = Integer(minimum=1, maximum=365, load_default=30)
    cost_per_message = Money(validate=NOT_NEGATIVE, load_default="0")
    messages = _messages(load_default=list)
    owner_user_id = Id(dump_only=True, allow_none=True, metadata={
        "description": "Whose scope its segment is read in: who made it, or to whom it was handed over (POST "
                       "/campaigns/{id}/owner). None for a built-in campaign."})
    org_unit_id = Id(dump_only=True, allow_none=True)
    system_key = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "A built-in campaign (renewal reminders, birthday greetings): worded by the message "
                       "templates of its kinds."})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class CampaignUpdateSchema(VersionedSchema, _CampaignFields):
    """PATCH: any of the fields (messages sent replace all the messages). Once a campaign has run, its segment,
    channel, schedule and control share stay as they were (its runs are measured by them)."""


class StatusSchema(Schema):
    status = fields.Enum(CampaignStatus, by_value=True, required=True, metadata={
        "description": "active (from draft or paused), paused (from active), ended (from active or paused)."})


class OwnerSchema(VersionedSchema):
    """Hand a campaign over: its new owner, who reads its segment from the next run on."""

    owner_user_id = Id(required=True, metadata={
        "description": "An active admin, or an active branch manager of the campaign's branch or of a branch above "
                       "it."})


class CampaignArgs(ListArgs):
    """The list of campaigns: newest first by default."""

    status = fields.Enum(CampaignStatus, by_value=True)


class RunSchema(Schema):
    id = Id(dump_only=True)
    campaign_id = Id(dump_only=True)
    run_date = fields.Date(dump_only=True)
    status = fields.Enum(RunStatus, by_value=True, dump_only=True)
    started_at = fields.DateTime(dump_only=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), dump_only=True, metadata={
        "description": "Members by outcome (control, sent, task, no_consent, over_cap, over_budget) and in all."})
    cost = Money(dump_only=True)


class MemberSchema(Schema):
    policyholder_id = Id(dump_only=True)
    outcome = fields.Enum(MemberOutcome, by_value=True, dump_only=True)
    touched_at = fields.DateTime(dump_only=True)
    outbox_id = Id(dump_only=True, allow_none=True)
    activity_id = Id(dump_only=True, allow_none=True)
    responded_at = fields.DateTime(dump_only=True, allow_none=True)
    response = fields.String(dump_only=True, allow_none=True)


class MemberArgs(ListArgs):
    outcome = fields.Enum(MemberOutcome, by_value=True)


class PreviewArgs(Schema):
    language = fields.String(validate=validate.OneOf(LANGUAGES), load_default="zh")
    policyholder_id = Id(metadata={"description": "A member of the segment to word it for (default: the first)."})


class PreviewSchema(Schema):
    language = fields.String()
    policyholder_id = Id(allow_none=True)
    subject = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    problem = fields.String(allow_none=True, metadata={"description": "Why the message does not word, if it does "
                                                                      "not."})
