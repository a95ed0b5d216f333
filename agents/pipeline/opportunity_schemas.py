"""What comes in and goes out of the opportunities API and forms: opportunities, their moves, win and loss,
influencers, competitors and the admins' loss reasons. Every field is bounded."""

from __future__ import annotations

import re
from datetime import date

from marshmallow import ValidationError, fields, validate

from agents.models import Attitude, InfluencerRole, OpportunitySource, OpportunityStatus
from agents.pipeline.opportunities import DEFAULT_SORT, MAX_PRODUCTS, MAX_TEAM, SORTS, TEAM_ROLES
from agents.schemas import PhoneNumber
from insurecrm.api import Date, Id, Integer, ListArgs, Money, Rate, Schema, Version, VersionedSchema
from policies.models import PremiumFrequency

TITLE = validate.Length(min=1, max=200)
NAME = validate.Length(min=1, max=120)
NOTE = validate.Length(max=255)
#: a description or a SWOT part: bounded well below the TEXT column's limit
DESCRIPTION = validate.Length(max=4000)
NOT_NEGATIVE = validate.Range(min=0)
POSITIVE = validate.Range(min=0, min_inclusive=False)
SCORE = validate.Range(min=-2, max=2, error="A score from -2 (much worse than us) to +2 (much better).")
SCORE_FIELDS = ("brand_score", "product_score", "service_score", "relationship_score", "price_score")
#: how far ahead an expected close date may lie
CLOSE_FUTURE_YEARS = 10


class OpportunityTeamMemberSchema(Schema):
    pii_kind = "team_member"

    agent_id = Id(required=True)
    role = fields.String(load_default="member", validate=validate.OneOf(TEAM_ROLES))


class OpportunityStageChangeSchema(Schema):
    pii_kind = "stage_change"

    from_stage_id = Id(allow_none=True)
    to_stage_id = Id()
    changed_at = fields.DateTime()
    actor_user_id = Id(allow_none=True)


class OpportunitySchema(Schema):
    """An opportunity as listed and as created (``POST``): for a policyholder, a prospect or a referral."""

    pii_kind = "opportunity"

    id = Id(dump_only=True)
    title = fields.String(required=True, validate=TITLE)
    description = fields.String(allow_none=True, validate=DESCRIPTION, metadata={"pii": "drop"})
    policyholder_id = Id(allow_none=True, metadata={"description": "A policyholder of your book; or a prospect."})
    prospect_name = fields.String(allow_none=True, validate=NAME, metadata={"pii": "name"})
    prospect_phone = PhoneNumber(allow_none=True, metadata={"pii": "drop"})
    referral_id = Id(allow_none=True, metadata={
        "description": "Create from this referral: its prospect, product and bank partner; it becomes accepted."})
    owner_agent_id = Id(allow_none=True, metadata={
        "description": "Managers and admins: the owning agent; agents and specialists: yourself (leave out)."})
    org_unit_id = Id(dump_only=True)
    stage_id = Id(allow_none=True, metadata={"description": "An open stage; the pipeline's first by default."})
    stage_entered_at = fields.DateTime(dump_only=True)
    probability = Rate(dump_only=True, metadata={"description": "The stage's win probability, in per cent."})
    expected_premium = Money(load_default=None, allow_none=True, validate=NOT_NEGATIVE)
    expected_close_date = Date(allow_none=True, past_years=5, future_years=CLOSE_FUTURE_YEARS)
    source = fields.Enum(OpportunitySource, by_value=True, allow_none=True)
    bank_partner_id = Id(dump_only=True, allow_none=True)
    status = fields.Enum(OpportunityStatus, by_value=True, dump_only=True)
    is_group_deal = fields.Boolean(load_default=False, metadata={"description": "A team deal (项目型销售)."})
    product_ids = fields.List(Id(), validate=validate.Length(max=MAX_PRODUCTS))
    team = fields.List(fields.Nested(OpportunityTeamMemberSchema), validate=validate.Length(max=MAX_TEAM), metadata={
        "description": "The owner is the lead; name the other members with their role."})
    policy_id = Id(dump_only=True, allow_none=True)
    loss_reason_id = Id(dump_only=True, allow_none=True)
    won_lost_reason = fields.String(dump_only=True, allow_none=True, metadata={"pii": "drop"})
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    version = Version(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    def get_attribute(self, obj, attr, default):
        if attr == "product_ids":
            return sorted(product.product_id for product in obj.products)
        if attr == "team":
            return [{"agent_id": member.agent_id, "role": member.role} for member in obj.team]
        return super().get_attribute(obj, attr, default)


class OpportunityDetailSchema(OpportunitySchema):
    stage_changes = fields.List(fields.Nested(OpportunityStageChangeSchema), dump_only=True)


class OpportunityUpdateSchema(VersionedSchema):
    """What a PATCH may change; the stage moves with ``/move``, the close with ``/win`` and ``/lose``."""

    title = fields.String(validate=TITLE)
    description = fields.String(allow_none=True, validate=DESCRIPTION)
    policyholder_id = Id(allow_none=True)
    prospect_name = fields.String(allow_none=True, validate=NAME)
    prospect_phone = PhoneNumber(allow_none=True)
    expected_premium = Money(validate=NOT_NEGATIVE)
    expected_close_date = Date(allow_none=True, past_years=5, future_years=CLOSE_FUTURE_YEARS)
    source = fields.Enum(OpportunitySource, by_value=True)
    is_group_deal = fields.Boolean()
    product_ids = fields.List(Id(), validate=validate.Length(max=MAX_PRODUCTS))
    team = fields.List(fields.Nested(OpportunityTeamMemberSchema), validate=validate.Length(max=MAX_TEAM))


class OpportunityMoveSchema(Schema):
    stage_id = Id(required=True)


class OpportunityWinSchema(Schema):
    """Link an existing policy, or the terms of the policy to write (a saved quote gives the first four)."""

    policy_id = Id(allow_none=True, metadata={"description": "An existing policy of the policyholder to link."})
    product_id = Id(allow_none=True)
    sum_insured = Money(allow_none=True, validate=POSITIVE)
    premium = Money(allow_none=True, validate=POSITIVE, metadata={"description": "Modal premium (per installment)."})
    frequency = fields.Enum(PremiumFrequency, by_value=True, allow_none=True)
    effective_date = Date(allow_none=True, past_years=1, future_years=1,
                          metadata={"description": "Today by default."})


class OpportunityLoseSchema(Schema):
    reason_id = Id(required=True, metadata={"description": "An active reason of GET /loss-reasons."})
    note = fields.String(allow_none=True, validate=NOTE)


def _month(text: str) -> date:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", text or ""):
        raise ValidationError("Use YYYY-MM, e.g. 2026-12.")
    try:
        return date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise ValidationError("Not a month.") from None


class CloseMonth(fields.Field):
    """``YYYY-MM``, read as the first day of that month."""

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        if not isinstance(value, str):
            raise ValidationError("Use YYYY-MM, e.g. 2026-12.")
        return _month(value)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%Y-%m")


class OpportunityArgs(ListArgs):
    stage_id = Id()
    status = fields.Enum(OpportunityStatus, by_value=True)
    owner_agent_id = Id()
    source = fields.Enum(OpportunitySource, by_value=True)
    close_month = CloseMonth(metadata={"description": "The month of the expected close, YYYY-MM.",
                                       "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"})
    q = fields.String(validate=NAME, metadata={"description": "Title or prospect's name contains."})
    sort = fields.String(load_default=DEFAULT_SORT, validate=validate.Length(max=40), metadata={
        "description": f"One of {', '.join(sorted(SORTS))}; a leading '-' sorts descending."})


class InfluencerSchema(Schema):
    pii_kind = "influencer"

    id = Id(dump_only=True)
    opportunity_id = Id(dump_only=True)
    name = fields.String(required=True, validate=NAME, metadata={"pii": "name"})
    title = fields.String(allow_none=True, validate=validate.Length(max=120), metadata={"pii": "drop"})
    role = fields.Enum(InfluencerRole, by_value=True, required=True,
                       metadata={"description": "CUTE: coach, user, technical buyer, economic buyer."})
    attitude = fields.Enum(Attitude, by_value=True, load_default=Attitude.NEUTRAL)
    notes = fields.String(allow_none=True, validate=DESCRIPTION, metadata={"pii": "drop"})


class InfluencerUpdateSchema(InfluencerSchema):
    """For PATCH, through ``partial()``."""


class CompetitorSchema(Schema):
    pii_kind = "competitor"

    id = Id(dump_only=True)
    opportunity_id = Id(dump_only=True)
    name = fields.String(required=True, validate=NAME)
    strengths = fields.String(allow_none=True, validate=DESCRIPTION)
    weaknesses = fields.String(allow_none=True, validate=DESCRIPTION)
    opportunities = fields.String(allow_none=True, validate=DESCRIPTION)
    threats = fields.String(allow_none=True, validate=DESCRIPTION)
    brand_score = Integer(load_default=0, validate=SCORE)
    product_score = Integer(load_default=0, validate=SCORE)
    service_score = Integer(load_default=0, validate=SCORE)
    relationship_score = Integer(load_default=0, validate=SCORE)
    price_score = Integer(load_default=0, validate=SCORE)


class CompetitorUpdateSchema(CompetitorSchema):
    """For PATCH, through ``partial()``."""


class LossReasonSchema(Schema):
    pii_kind = "loss_reason"

    id = Id(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{1,31}$", error="Use 2–32 lower-case letters, digits or '_'."))
    name = fields.String(required=True, validate=NAME)
    name_zh = fields.String(allow_none=True, validate=validate.Length(max=120))
    position = Integer(validate=validate.Range(min=0, max=1000))
    active = fields.Boolean(dump_only=True)


class LossReasonArgs(ListArgs):
    active = fields.Boolean()


class LossReasonUpdateSchema(Schema):
    name = fields.String(validate=NAME)
    name_zh = fields.String(allow_none=True, validate=validate.Length(max=120))
    position = Integer(validate=validate.Range(min=0, max=1000))
    active = fields.Boolean()

