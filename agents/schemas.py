"""What comes in and goes out of the agents API: organisation, agents, bancassurance, referrals, stages."""

from __future__ import annotations

import phonenumbers
from marshmallow import ValidationError, fields, validate, validates_schema

from agents.models import AgentChannel, AgentStatus, OrgUnitKind, PartnerStatus, ReferralStatus
from insurecrm.api import LONG_TEXT, Date, Id, Integer, ListArgs, Rate, Schema
from policies.models import ProductLine

CODE = validate.Regexp(r"^[A-Z0-9][A-Z0-9_-]{1,31}$", error="Use 2–32 capitals, digits, '-' or '_'.")
STAGE_CODE = validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$", error="Use 2–32 lower-case letters, digits or '_'.")
NAME = validate.Length(min=1, max=120)
FRACTION = validate.Range(min=0, max=1, error="Must be a fraction between 0 and 1.")
PER_CENT = validate.Range(min=0, max=100, error="Must be a percentage between 0 and 100.")
DEFAULT_PIPELINE = "default"
PRODUCT_LINES = [line.value for line in ProductLine]


class PhoneNumber(fields.String):
    """A phone number, normalised to E.164; numbers without a country code are read as Chinese."""

    default_region = "CN"

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("validate", validate.Length(min=1, max=40))
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            number = phonenumbers.parse(text, self.default_region)
        except phonenumbers.NumberParseException:
            raise ValidationError("Not a phone number.") from None
        if not phonenumbers.is_valid_number(number):
            raise ValidationError("Not a valid phone number.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class RelatedIds(fields.List):
    """Ids in, ids out: loads a list of ids and dumps the ids of a relationship's objects."""

    def __init__(self, relationship: str, **kwargs) -> None:
        super().__init__(Id(), validate=validate.Length(max=100), **kwargs)
        self.relationship = relationship

    def get_value(self, obj, attr, accessor=None, default=None):
        return sorted(related.id for related in getattr(obj, self.relationship))


# -- organisation -------------------------------------------------------------------------------------

class OrgUnitSchema(Schema):
    pii_kind = "org_unit"

    id = Id(dump_only=True)
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME)
    kind = fields.Enum(OrgUnitKind, by_value=True, required=True)
    parent_id = Id(allow_none=True, load_default=None)
    path = fields.String(dump_only=True, metadata={"description": "Ids from the root, e.g. /1/4/9/."})
    region = fields.String(allow_none=True, validate=validate.Length(max=64))


class OrgUnitUpdateSchema(OrgUnitSchema):
    """For PATCH, through ``partial()``: every field optional, none defaulted."""


class OrgUnitArgs(ListArgs):
    parent_id = Id()
    kind = fields.Enum(OrgUnitKind, by_value=True)
    q = fields.String(validate=NAME, metadata={"description": "Code or name contains."})


# -- agents ---------------------------------------------------------------------------------------------

class AgentSchema(Schema):
    pii_kind = "agent"

    id = Id(dump_only=True)
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME, metadata={"pii": "name"})
    licence_number = fields.String(allow_none=True, validate=validate.Length(max=64), metadata={"pii": "drop"})
    licence_expiry = Date(allow_none=True, past_years=60, future_years=60)
    org_unit_id = Id(required=True)
    manager_id = Id(allow_none=True)
    channel = fields.Enum(AgentChannel, by_value=True, required=True)
    status = fields.Enum(AgentStatus, by_value=True, load_default=AgentStatus.ACTIVE)
    hire_date = Date(required=True, past_years=80, future_years=1)
    phone = PhoneNumber(allow_none=True, metadata={"pii": "drop"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=255), metadata={"pii": "drop"})
    bank_partner_ids = RelatedIds("bank_partners", metadata={
        "description": "Bank partners a bancassurance specialist is stationed at (bancassurance channel only)."})


class AgentUpdateSchema(AgentSchema):
    """For PATCH, through ``partial()``: every field optional, none defaulted."""


class AgentArgs(ListArgs):
    org_unit_id = Id()
    channel = fields.Enum(AgentChannel, by_value=True)
    status = fields.Enum(AgentStatus, by_value=True)
    q = fields.String(validate=NAME, metadata={"description": "Code or name contains."})


# -- bancassurance ----------------------------------------------------------------------------------------

class BankPartnerSchema(Schema):
    pii_kind = "bank_partner"

    id = Id(dump_only=True)
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME)
    commission_rate = Rate(load_default=0, validate=FRACTION)
    commission_terms = fields.String(allow_none=True, validate=LONG_TEXT)
    status = fields.Enum(PartnerStatus, by_value=True, load_default=PartnerStatus.ACTIVE)


class BankPartnerUpdateSchema(BankPartnerSchema):
    """For PATCH, through ``partial()``: every field optional, none defaulted."""


class BankPartnerArgs(ListArgs):
    status = fields.Enum(PartnerStatus, by_value=True)
    q = fields.String(validate=NAME, metadata={"description": "Code or name contains."})


class BankBranchSchema(Schema):
    pii_kind = "bank_branch"

    id = Id(dump_only=True)
    bank_partner_id = Id(required=True)
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME)
    address = fields.String(allow_none=True, validate=validate.Length(max=255))
    region = fields.String(allow_none=True, validate=validate.Length(max=64))
    org_unit_id = Id(allow_none=True, metadata={"description": "Our unit serving it."})
    status = fields.Enum(PartnerStatus, by_value=True, load_default=PartnerStatus.ACTIVE)


class BankBranchUpdateSchema(BankBranchSchema):
    """For PATCH, through ``partial()``: every field optional, none defaulted."""


class BankBranchArgs(ListArgs):
    bank_partner_id = Id()
    org_unit_id = Id()
    status = fields.Enum(PartnerStatus, by_value=True)
    q = fields.String(validate=NAME, metadata={"description": "Code or name contains."})


class ReferrerSchema(Schema):
    pii_kind = "referrer"

    id = Id(dump_only=True)
    bank_branch_id = Id(required=True)
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME, metadata={"pii": "name"})
    phone = PhoneNumber(allow_none=True, metadata={"pii": "drop"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=255), metadata={"pii": "drop"})
    status = fields.Enum(PartnerStatus, by_value=True, load_default=PartnerStatus.ACTIVE)


class ReferrerUpdateSchema(ReferrerSchema):
    """For PATCH, through ``partial()``: every field optional, none defaulted."""


class ReferrerArgs(ListArgs):
    bank_branch_id = Id()
    status = fields.Enum(PartnerStatus, by_value=True)
    q = fields.String(validate=NAME, metadata={"description": "Code or name contains."})


# -- referrals --------------------------------------------------------------------------------------------

class ReferralSchema(Schema):
    """A referral as shown; also what a referrer (or a specialist on their behalf) submits."""

    pii_kind = "referral"

    id = Id(dump_only=True)
    referrer_id = Id(metadata={
        "description": "Specialists and admins: the referrer submitting; referrers: leave out (your login)."})
    bank_branch_id = Id(dump_only=True)
    prospect_name = fields.String(required=True, validate=NAME, metadata={"pii": "name"})
    prospect_phone = PhoneNumber(allow_none=True, metadata={"pii": "drop"})
    product_id = Id(allow_none=True)
    notes = fields.String(allow_none=True, validate=validate.Length(max=2000), metadata={"pii": "drop"})
    status = fields.Enum(ReferralStatus, by_value=True, dump_only=True)
    submitted_at = fields.DateTime(dump_only=True)
    specialist_agent_id = Id(dump_only=True, allow_none=True)
    policyholder_id = Id(dump_only=True, allow_none=True)
    rejection_reason = fields.String(dump_only=True, allow_none=True, metadata={"pii": "drop"})


class ReferralUpdateSchema(Schema):
    """How specialists, managers and admins work a referral."""

    status = fields.Enum(ReferralStatus, by_value=True)
    rejection_reason = fields.String(allow_none=True, validate=validate.Length(min=1, max=255))
    policyholder_id = Id(allow_none=True)
    specialist_agent_id = Id(allow_none=True)


class ReferralArgs(ListArgs):
    status = fields.Enum(ReferralStatus, by_value=True)
    referrer_id = Id()
    bank_branch_id = Id()
    specialist_agent_id = Id()


# -- pipeline stages --------------------------------------------------------------------------------------

class PipelineStageSchema(Schema):
    pii_kind = "stage"

    id = Id(dump_only=True)
    code = fields.String(required=True, validate=STAGE_CODE)
    name = fields.String(required=True, validate=NAME)
    name_zh = fields.String(allow_none=True, validate=validate.Length(max=120))
    position = Integer(required=True, validate=validate.Range(min=0, max=1000))
    probability = Rate(required=True, validate=PER_CENT, metadata={"description": "Win probability in per cent."})
    product_line = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(PRODUCT_LINES),
                                 metadata={"description": "A product line; none for the default pipeline."})
    max_days = Integer(allow_none=True, validate=validate.Range(min=1, max=3650))
    is_won = fields.Boolean(load_default=False)
    is_lost = fields.Boolean(load_default=False)
    active = fields.Boolean(load_default=True)

    @validates_schema
    def _won_or_lost(self, data, **_kwargs):
        if data.get("is_won") and data.get("is_lost"):
            raise ValidationError("A stage is won or lost, not both.", "is_lost")


class PipelineStageUpdateSchema(Schema):
    name = fields.String(validate=NAME)
    name_zh = fields.String(allow_none=True, validate=validate.Length(max=120))
    position = Integer(validate=validate.Range(min=0, max=1000))
    probability = Rate(validate=PER_CENT)
    max_days = Integer(allow_none=True, validate=validate.Range(min=1, max=3650))
    active = fields.Boolean()


class PipelineStageArgs(ListArgs):
    product_line = fields.String(validate=validate.OneOf([DEFAULT_PIPELINE, *PRODUCT_LINES]),
                                 metadata={"description": "A product line, or 'default' for the default pipeline."})
    active = fields.Boolean()
