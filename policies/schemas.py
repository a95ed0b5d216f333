"""What comes in and goes out of the policies API."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, pre_load, validate, validates, validates_schema

from insurecrm import clock
from insurecrm.api import (
    LONG_TEXT,
    Date,
    DecimalString,
    Id,
    Integer,
    ListArgs,
    Money,
    Rate,
    Schema,
    Version,
    VersionedSchema,
)
from insurecrm.validation_messages import catalogue_text
from policies.models import (
    BusinessType,
    ClaimKind,
    ClaimStatus,
    CommissionKind,
    CommissionPayee,
    InstallmentStatus,
    PaymentMethod,
    PolicyStatus,
    PremiumFrequency,
    ProductLine,
    SalesChannel,
)
from policies.status import INITIAL_STATUSES

#: policy dates (issue, effective, payments, claims) lie within decades of today; expiry may be a lifetime away
POLICY_PAST, POLICY_FUTURE, EXPIRY_FUTURE = 60, 10, 120
#: insured persons or beneficiaries on one policy
PEOPLE = validate.Length(max=50)
RATE_RANGE = validate.Range(min=0, max=1, error=catalogue_text(_l("Must be a fraction between 0 and 1.")))


class ProductSchema(Schema):
    pii_kind = "product"

    id = Id(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z0-9][A-Z0-9_-]{1,31}$", error=catalogue_text(_l("Use 2–32 capitals, digits, '-' or '_'."))))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    name_zh = fields.String(allow_none=True, validate=validate.Length(max=120))
    line = fields.Enum(ProductLine, by_value=True, required=True)
    description = fields.String(allow_none=True, validate=LONG_TEXT)
    term_months = Integer(required=True, validate=validate.Range(min=1, max=1200))
    renewable = fields.Boolean(load_default=False)
    frequencies = fields.List(fields.String(validate=validate.OneOf([f.value for f in PremiumFrequency])),
                              required=True, validate=validate.Length(min=1, max=len(PremiumFrequency)))
    first_year_commission_rate = Rate(load_default=0, validate=RATE_RANGE)
    renewal_commission_rate = Rate(load_default=0, validate=RATE_RANGE)
    bank_share_rate = Rate(load_default=0, validate=RATE_RANGE)
    grace_period_days = Integer(load_default=60, validate=validate.Range(min=0, max=365))
    cooling_off_days = Integer(load_default=15, validate=validate.Range(min=0, max=90))
    callback_required = fields.Boolean(load_default=False)
    max_renewal_discount = Rate(load_default=0.1, validate=RATE_RANGE)
    renewal_window_days = Integer(allow_none=True, validate=validate.Range(min=1, max=365), metadata={
        "description": "Days before expiry at which a renewal case opens (empty: the installation's default)."})
    active = fields.Boolean(load_default=True)

    @validates("frequencies")
    def _distinct(self, value, **_kwargs):
        if len(set(value)) != len(value):
            raise ValidationError(gettext("List each frequency once."))


class ProductUpdateSchema(ProductSchema):
    """Partial update: every field optional, none defaulted."""

    class Meta(ProductSchema.Meta):
        pass


class ProductArgs(ListArgs):
    line = fields.Enum(ProductLine, by_value=True)
    active = fields.Boolean()
    renewable = fields.Boolean()
    q = fields.String(validate=validate.Length(min=1, max=120), metadata={"description": "Code or name contains."})


# -- policies -----------------------------------------------------------------------------------------

POSITIVE = validate.Range(min=0, min_inclusive=False, error=catalogue_text(_l("Must be greater than zero.")))
NOT_NEGATIVE = validate.Range(min=0, error=catalogue_text(_l("Must not be negative.")))
#: the refusal of a status a new policy may not be given
NEW_STATUS = catalogue_text(_l("A new policy is quoted or in_force."))


class _PersonSchema(Schema):
    """A person on a policy: a policyholder of the book (name taken from the record) or just a name."""

    id = Id(dump_only=True)
    policyholder_id = Id(allow_none=True, metadata={"description": "The person, if a policyholder."})
    name = fields.String(validate=validate.Length(min=1, max=120), metadata={"pii": "name"})

    @validates_schema
    def _named(self, data, **_kwargs):
        if not data.get("name") and not data.get("policyholder_id"):
            raise ValidationError(gettext("Give a name or a policyholder_id."), "name")


class InsuredPersonSchema(_PersonSchema):
    pii_kind = "insured"

    date_of_birth = Date(allow_none=True, past_years=130, future_years=0, metadata={"pii": "drop"})
    relation_to_holder = fields.String(load_default="self", validate=validate.Length(min=1, max=32))


class BeneficiarySchema(_PersonSchema):
    pii_kind = "beneficiary"

    relation_to_insured = fields.String(required=True, validate=validate.Length(min=1, max=32))
    priority = Integer(load_default=1, validate=validate.Range(min=1, max=9))
    share_percent = DecimalString(places=2, limit=Decimal("1000"), load_default=Decimal("100"),
                                  validate=validate.Range(min=0, max=100, min_inclusive=False))


class StatusChangeSchema(Schema):
    pii_kind = "status_change"

    from_status = fields.Enum(PolicyStatus, by_value=True, dump_only=True, allow_none=True)
    to_status = fields.Enum(PolicyStatus, by_value=True, dump_only=True)
    effective_date = Date(dump_only=True)
    reason = fields.String(dump_only=True, allow_none=True, metadata={"pii": "drop"})
    actor_label = fields.String(dump_only=True)
    recorded_at = fields.DateTime(dump_only=True)


class PolicySchema(Schema):
    """A policy as listed; :class:`PolicyDetailSchema` adds the people and the status history."""

    pii_kind = "policy"

    id = Id(dump_only=True)
    number = fields.String(validate=validate.Length(min=1, max=32),
                           metadata={"description": "Allocated when not given."})
    policyholder_id = Id(required=True)
    product_id = Id(required=True)
    servicing_agent_id = Id(allow_none=True)
    org_unit_id = Id(dump_only=True)
    channel = fields.Enum(SalesChannel, by_value=True, load_default=SalesChannel.AGENCY)
    bank_partner_id = Id(allow_none=True)
    bank_branch_id = Id(allow_none=True)
    referrer_id = Id(allow_none=True)
    business_type = fields.Enum(BusinessType, by_value=True, load_default=BusinessType.NEW)
    renews_policy_id = Id(allow_none=True)
    issue_date = Date(past_years=POLICY_PAST, future_years=POLICY_FUTURE,
                      metadata={"description": "Defaults to the effective date."})
    effective_date = Date(required=True, past_years=POLICY_PAST, future_years=POLICY_FUTURE)
    expiry_date = Date(allow_none=True, past_years=POLICY_PAST, future_years=EXPIRY_FUTURE,
                       metadata={"description": "Defaults to the product's term."})
    sum_insured = Money(required=True, validate=POSITIVE)
    premium = Money(required=True, validate=POSITIVE, metadata={"description": "Modal premium (per installment)."})
    frequency = fields.Enum(PremiumFrequency, by_value=True, required=True)
    annual_premium = Money(dump_only=True)
    status = fields.Enum(PolicyStatus, by_value=True, load_default=PolicyStatus.IN_FORCE,
                         validate=validate.OneOf(INITIAL_STATUSES, error=NEW_STATUS))
    status_date = Date(dump_only=True)
    cancellation_reason = fields.String(dump_only=True, allow_none=True, metadata={"pii": "drop"})
    cooling_off_cancellation = fields.Boolean(dump_only=True)
    version = Version(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class PolicyDetailSchema(PolicySchema):
    insured_persons = fields.List(fields.Nested(InsuredPersonSchema), validate=PEOPLE)
    beneficiaries = fields.List(fields.Nested(BeneficiarySchema), load_default=list, validate=PEOPLE)
    status_history = fields.List(fields.Nested(StatusChangeSchema), dump_only=True)
    renewed_by_policy_id = fields.Function(lambda policy: policy.renewed_by.id if policy.renewed_by else None)


class PolicyUpdateSchema(VersionedSchema):
    """What a PATCH may change; the status moves only through ``POST /policies/<id>/transitions``."""

    servicing_agent_id = Id(allow_none=True)
    sum_insured = Money(validate=POSITIVE)
    insured_persons = fields.List(fields.Nested(InsuredPersonSchema), validate=PEOPLE,
                                  metadata={"description": "Replaces all."})
    beneficiaries = fields.List(fields.Nested(BeneficiarySchema), validate=PEOPLE,
                                metadata={"description": "Replaces all."})

    @pre_load
    def _no_status(self, data, **_kwargs):
        if isinstance(data, dict) and "status" in data:
            raise ValidationError({"status": [gettext("Change the status with POST /policies/<id>/transitions.")]})
        return data


class TransitionSchema(Schema):
    to_status = fields.Enum(PolicyStatus, by_value=True, required=True)
    effective_date = Date(load_default=clock.today, past_years=POLICY_PAST, future_years=POLICY_FUTURE)
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))
    arrears_payment = fields.Nested(lambda: ArrearsPaymentSchema(), allow_none=True, metadata={
        "description": "A reinstatement only: the arrears paid with it, recorded as a payment first."})


class PolicyArgs(ListArgs):
    status = fields.Enum(PolicyStatus, by_value=True)
    product_id = Id()
    policyholder_id = Id()
    servicing_agent_id = Id()
    org_unit_id = Id()
    channel = fields.Enum(SalesChannel, by_value=True)
    business_type = fields.Enum(BusinessType, by_value=True)
    bank_partner_id = Id()
    expiry_from = Date(past_years=POLICY_PAST, future_years=EXPIRY_FUTURE,
                       metadata={"description": "Expiry on or after this date."})
    expiry_to = Date(past_years=POLICY_PAST, future_years=EXPIRY_FUTURE,
                     metadata={"description": "Expiry on or before this date."})
    number = fields.String(validate=validate.Length(min=1, max=32),
                           metadata={"description": "Number starts with."})


# -- premium, payments, commissions, claims -------------------------------------------------------------

class InstallmentSchema(Schema):
    pii_kind = "installment"

    id = Id(dump_only=True)
    sequence = Integer(dump_only=True)
    due_date = Date(dump_only=True)
    amount = Money(dump_only=True)
    paid_amount = Money(dump_only=True)
    paid_date = Date(dump_only=True, allow_none=True)
    status = fields.Enum(InstallmentStatus, by_value=True, dump_only=True)


class InstallmentChangeSchema(Schema):
    """An installment as a core system schedules it (the import of installments): its due date, its amount, and
    whether it is waived (``due`` or ``waived``; a paid installment is paid by payments)."""

    due_date = Date(required=True, past_years=POLICY_PAST, future_years=EXPIRY_FUTURE)
    amount = Money(required=True, validate=POSITIVE)
    status = fields.Enum(InstallmentStatus, by_value=True, validate=validate.OneOf(
        [InstallmentStatus.DUE, InstallmentStatus.WAIVED]))


class AllocationSchema(Schema):
    installment_id = Id(dump_only=True)
    amount = Money(dump_only=True)


class PaymentSchema(Schema):
    pii_kind = "payment"

    id = Id(dump_only=True)
    policy_id = Id(dump_only=True)
    paid_on = Date(load_default=clock.today, past_years=POLICY_PAST, future_years=1)
    amount = Money(required=True)
    method = fields.Enum(PaymentMethod, by_value=True, load_default=PaymentMethod.BANK_TRANSFER)
    reference = fields.String(allow_none=True, validate=validate.Length(max=64), metadata={"pii": "drop"})
    allocations = fields.List(fields.Nested(AllocationSchema), dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ArrearsPaymentSchema(Schema):
    """A payment recorded with a reinstatement (see ``TransitionSchema.arrears_payment``)."""

    paid_on = Date(load_default=clock.today, past_years=POLICY_PAST, future_years=1)
    amount = Money(required=True)
    method = fields.Enum(PaymentMethod, by_value=True, load_default=PaymentMethod.BANK_TRANSFER)
    reference = fields.String(allow_none=True, validate=validate.Length(max=64))


class CommissionSchema(Schema):
    id = Id(dump_only=True)
    policy_id = Id(dump_only=True)
    payment_id = Id(dump_only=True, allow_none=True)
    payee = fields.Enum(CommissionPayee, by_value=True, dump_only=True)
    agent_id = Id(dump_only=True, allow_none=True)
    bank_partner_id = Id(dump_only=True, allow_none=True)
    kind = fields.Enum(CommissionKind, by_value=True, dump_only=True)
    rate = Rate(dump_only=True)
    base_amount = Money(dump_only=True)
    amount = Money(dump_only=True)
    earned_on = Date(dump_only=True)


class ClaimSchema(Schema):
    pii_kind = "claim"

    id = Id(dump_only=True)
    number = fields.String(dump_only=True)
    policy_id = Id(dump_only=True)
    loss_date = Date(required=True, past_years=POLICY_PAST, future_years=1)
    report_date = Date(load_default=clock.today, past_years=POLICY_PAST, future_years=1)
    kind = fields.Enum(ClaimKind, by_value=True, load_default=ClaimKind.OTHER, metadata={
        "description": "What was lost; death, total disability and total loss end the policy once paid in full."})
    status = fields.Enum(ClaimStatus, by_value=True, dump_only=True)
    incurred_amount = Money(load_default=Decimal("0"))
    paid_amount = Money(dump_only=True)
    description = fields.String(allow_none=True, validate=LONG_TEXT, metadata={"pii": "drop"})
    rejection_reason = fields.String(dump_only=True, allow_none=True, metadata={"pii": "drop"})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ClaimUpdateSchema(Schema):
    status = fields.Enum(ClaimStatus, by_value=True)
    incurred_amount = Money()
    paid_amount = Money()
    rejection_reason = fields.String(allow_none=True, validate=validate.Length(max=255))
    description = fields.String(allow_none=True, validate=LONG_TEXT)


class ClaimArgs(ListArgs):
    status = fields.Enum(ClaimStatus, by_value=True)
    policy_id = Id()
