"""What comes in and goes out of the policyholders API.

Personal data carries ``pii`` markers (see :mod:`insurecrm.pii`): the actuary sees pseudonyms
instead of names and nothing of ID numbers, phones, emails, addresses, birth dates or free text.
ID numbers are only ever returned masked.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates

from insurecrm import clock
from insurecrm.api import Date, Id, Instant, Integer, ListArgs, Money, Schema, Version
from insurecrm.pii import mask_id_number
from insurecrm.validation_messages import catalogue_text
from policyholders.household import visible_relationships
from policyholders.models import (
    AGE_BANDS,
    AcquisitionChannel,
    ContactChannel,
    Direction,
    Gender,
    IdType,
    IncomeBand,
    InteractionChannel,
    MaritalStatus,
    PartyKind,
    PolicyholderStatus,
    RelationshipKind,
    ServiceCategory,
    ServiceKind,
    ServicePriority,
    ServiceStatus,
)

NAME = {"pii": "name"}
DROP = {"pii": "drop"}
NOT_NEGATIVE = validate.Range(min=0, error=catalogue_text(_l("Must not be negative.")))


def Enum(enum_cls, **kwargs) -> fields.Enum:  # noqa: N802 - reads like a field class
    return fields.Enum(enum_cls, by_value=True, **kwargs)


class MaskedIdNumber(fields.String):
    """An ID number: read in full, written out masked (``110105********1239``), never in full."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs) -> str | None:
        return mask_id_number(value)


class TagList(fields.List):
    """Tags: a list of strings in and out, sorted (stored as ``PolicyholderTag`` rows; dumped from the
    ``PolicyholderTag`` objects of a record or from the names a list's row carries)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(fields.String(validate=validate.Length(min=1, max=48)), validate=validate.Length(max=50),
                         **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs) -> list[str] | None:
        return None if value is None else sorted(tag if isinstance(tag, str) else tag.tag for tag in value)


class PolicyholderRefSchema(Schema):
    """A policyholder as referred to from elsewhere (relationships, household)."""

    pii_kind = "policyholder"

    id = Id()
    name = fields.String(metadata=NAME)
    kind = Enum(PartyKind)
    status = Enum(PolicyholderStatus)


class PolicyholderSchema(Schema):
    pii_kind = "policyholder"

    id = Id(dump_only=True)
    version = Version(dump_only=True)
    kind = Enum(PartyKind, load_default=PartyKind.PERSON)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120), metadata=NAME)
    gender = Enum(Gender, allow_none=True)
    date_of_birth = Date(allow_none=True, past_years=130, future_years=0, metadata=DROP)
    id_type = Enum(IdType, allow_none=True)
    id_number = MaskedIdNumber(allow_none=True, validate=validate.Length(min=1, max=32),
                               metadata={**DROP, "description": "Sent in full; always returned masked."})
    phone = fields.String(allow_none=True, validate=validate.Length(min=1, max=40),
                          metadata={**DROP, "description": "Any common format; stored and returned as E.164."})
    phone_alt = fields.String(allow_none=True, validate=validate.Length(min=1, max=40), metadata=DROP)
    email = fields.Email(allow_none=True, validate=validate.Length(max=255), metadata=DROP)
    address = fields.String(allow_none=True, validate=validate.Length(max=255), metadata=DROP)
    region = fields.String(allow_none=True, validate=validate.Length(max=64))
    occupation = fields.String(allow_none=True, validate=validate.Length(max=64))
    industry = fields.String(allow_none=True, validate=validate.Length(max=64))
    income_band = Enum(IncomeBand, allow_none=True)
    marital_status = Enum(MaritalStatus, allow_none=True)
    preferred_channel = Enum(ContactChannel, allow_none=True)
    preferred_language = fields.String(load_default="zh", validate=validate.Regexp(
        r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", error=catalogue_text(_l("Use a language code such as zh or en."))))
    consent_marketing = fields.Boolean(load_default=False)
    consent_sms = fields.Boolean(load_default=False)
    consent_email = fields.Boolean(load_default=False)
    owner_agent_id = Id(allow_none=True, metadata={"description": "Defaults to the acting agent."})
    org_unit_id = Id(metadata={"description": "Defaults to the owner's unit."})
    acquisition_channel = Enum(AcquisitionChannel, load_default=AcquisitionChannel.AGENCY)
    acquisition_source = fields.String(allow_none=True, validate=validate.Length(max=120))
    bank_partner_id = Id(allow_none=True)
    referrer_id = Id(allow_none=True)
    status = Enum(PolicyholderStatus, load_default=PolicyholderStatus.PROSPECT)
    tags = TagList(load_default=list)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @validates("date_of_birth")
    def _not_in_future(self, value: date | None, **_kwargs) -> None:
        if value is not None and value > clock.today():
            raise ValidationError(gettext("Must not be in the future."))


class PolicyholderUpdateSchema(PolicyholderSchema):
    """PATCH: any field of the policyholder, plus the ``version`` the client loaded."""

    version = Version(required=True)


class RelationshipSchema(Schema):
    pii_kind = "relationship"

    id = Id(dump_only=True)
    from_policyholder_id = Id(dump_only=True)
    to_policyholder_id = Id(required=True)
    kind = Enum(RelationshipKind, required=True, metadata={
        "description": "The path's policyholder is `kind` of the other: child means 'is the child of'."})
    note = fields.String(allow_none=True, validate=validate.Length(max=255), metadata=DROP)
    to_policyholder = fields.Nested(PolicyholderRefSchema, dump_only=True)


class VisibleRelationships(fields.List):
    """The policyholder's relationships whose other end the user may see as well."""

    def __init__(self, **kwargs) -> None:
        super().__init__(fields.Nested(RelationshipSchema), dump_only=True, **kwargs)

    def get_value(self, obj: Any, attr: str, accessor=None, default: Any = ma.missing) -> Any:
        return visible_relationships(obj)


class PolicyholderDetailSchema(PolicyholderSchema):
    relationships = VisibleRelationships()


class DuplicateSchema(Schema):
    """A policyholder on file that may be the same person (see :mod:`policyholders.duplicates`)."""

    reasons = fields.List(fields.String(), metadata={
        "description": "What matched: id_number, phone, name_and_birth_date (a similar name, read as pinyin, and "
                       "the same date of birth)."})
    score = Integer(metadata={"description": "How likely the same person, 0 to 100."})
    matched = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "By reason, what matched on the record: the phone, the name and date of birth with the "
                       "names' similarity, the ID type. Empty for a record outside your scope."})
    policyholder = fields.Nested(PolicyholderRefSchema, allow_none=True, metadata={
        "description": "null: a record outside your scope (a manager can see it)."})


class PolicyholderCreatedSchema(PolicyholderDetailSchema):
    warnings = fields.List(fields.Nested(DuplicateSchema), dump_only=True, attribute="likely_duplicates", metadata={
        "description": "Likely duplicates found before the record was created; empty when none."})


class PolicyholderArgs(ListArgs):
    status = Enum(PolicyholderStatus)
    region = fields.String(validate=validate.Length(min=1, max=64))
    owner_agent_id = Id()
    org_unit_id = Id()
    acquisition_channel = Enum(AcquisitionChannel)
    kind = Enum(PartyKind)
    occupation = fields.String(validate=validate.Length(min=1, max=64))
    gender = Enum(Gender)
    income_band = Enum(IncomeBand)
    age_band = fields.String(validate=validate.OneOf([code for code, _low, _high in AGE_BANDS]),
                             metadata={"description": "Age today in this band: "
                                                      + ", ".join(code for code, _low, _high in AGE_BANDS) + "."})
    q = fields.String(validate=validate.Length(min=1, max=120),
                      metadata={"description": "Part of the name, phone or ID number."})


class HouseholdMemberSchema(Schema):
    policyholder = fields.Nested(PolicyholderRefSchema)
    kinds = fields.List(Enum(RelationshipKind), metadata={"description": "How the member relates to the person."})
    policies_count = Integer()


class HouseholdSchema(Schema):
    policyholder = fields.Nested(PolicyholderRefSchema)
    policies_count = Integer()
    members = fields.List(fields.Nested(HouseholdMemberSchema))


class InteractionSchema(Schema):
    pii_kind = "interaction"

    id = Id(dump_only=True)
    policyholder_id = Id(required=True)
    agent_id = Id(allow_none=True, metadata={"description": "Defaults to the acting agent."})
    user_id = Id(dump_only=True, allow_none=True)
    channel = Enum(InteractionChannel, required=True)
    direction = Enum(Direction, load_default=Direction.OUTBOUND)
    occurred_at = Instant(past_years=60, future_years=1,
                          metadata={"description": "Defaults to now; never in the future."})
    summary = fields.String(required=True, validate=validate.Length(min=1, max=10_000), metadata=DROP)
    outcome = fields.String(allow_none=True, validate=validate.Length(max=255), metadata=DROP)
    cost = Money(allow_none=True, validate=NOT_NEGATIVE)
    policy_id = Id(allow_none=True)
    opportunity_id = Id(allow_none=True)
    created_at = fields.DateTime(dump_only=True)


class InteractionUpdateSchema(Schema):
    """Only what was said and what it cost can be corrected; who, when and where stay as logged."""

    summary = fields.String(validate=validate.Length(min=1, max=10_000))
    outcome = fields.String(allow_none=True, validate=validate.Length(max=255))
    cost = Money(allow_none=True, validate=NOT_NEGATIVE)


class InteractionArgs(ListArgs):
    policyholder_id = Id()
    channel = Enum(InteractionChannel)
    agent_id = Id()
    occurred_from = Instant(metadata={"description": "At or after this instant."})
    occurred_to = Instant(metadata={"description": "Before this instant."})


class ServiceRequestSchema(Schema):
    pii_kind = "service_request"

    id = Id(dump_only=True)
    policyholder_id = Id(required=True)
    policy_id = Id(allow_none=True)
    kind = Enum(ServiceKind, required=True)
    category = Enum(ServiceCategory, required=True)
    priority = Enum(ServicePriority, load_default=ServicePriority.NORMAL)
    status = Enum(ServiceStatus, dump_only=True)
    channel = Enum(InteractionChannel, allow_none=True)
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata=DROP)
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000), metadata=DROP)
    opened_at = fields.DateTime(dump_only=True)
    due_at = Instant(past_years=60, future_years=10,
                     metadata={"description": "Defaults to the SLA of the kind and priority."})
    assigned_agent_id = Id(allow_none=True,
                                       metadata={"description": "Defaults to the policyholder's owner."})
    resolved_at = fields.DateTime(dump_only=True, allow_none=True)
    resolution = fields.String(dump_only=True, allow_none=True, metadata=DROP)
    cost = Money(load_default=Decimal("0"), validate=NOT_NEGATIVE)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ServiceRequestUpdateSchema(Schema):
    """Assign, re-prioritise, progress, resolve (with a resolution) or close a request."""

    category = Enum(ServiceCategory)
    priority = Enum(ServicePriority, metadata={"description": "Re-bases due_at on the SLA unless due_at is given."})
    status = Enum(ServiceStatus)
    subject = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    due_at = Instant(past_years=60, future_years=10)
    assigned_agent_id = Id(allow_none=True)
    resolution = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    cost = Money(validate=NOT_NEGATIVE)


class ServiceRequestArgs(ListArgs):
    kind = Enum(ServiceKind)
    status = Enum(ServiceStatus)
    priority = Enum(ServicePriority)
    policyholder_id = Id()
    assigned_agent_id = Id()
    overdue = fields.Boolean(metadata={"description": "true: past due_at and neither resolved nor closed."})


def patch_schema(schema_cls: type[ma.Schema]) -> ma.Schema:
    """An instance of ``schema_cls`` for PATCH: fields optional (``version`` stays required), no defaults."""
    optional = tuple(name for name in schema_cls._declared_fields if name != "version")
    schema = schema_cls(partial=optional)
    for field in schema.load_fields.values():
        field.load_default = ma.missing
    return schema
