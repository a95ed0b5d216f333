"""What comes in and goes out of the quote pages and the rate table page: rate rows, a flat premium, loadings and
quotes. Every field is bounded."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates_schema

from insurecrm.api import Date, DecimalString, Id, Integer, ListArgs, Money, Schema
from policies.models import PremiumFrequency

MAX_AGE = 150
AGE = validate.Range(min=0, max=MAX_AGE)
NAME = validate.Length(min=1, max=120)
#: genders a rate row is written for (no value: any gender)
RATE_GENDERS = ("female", "male")
#: genders a quote is asked for ("other": only the rows for any gender apply)
QUOTE_GENDERS = ("female", "male", "other")
FREQUENCIES = [f.value for f in PremiumFrequency]


def RatePerThousand(**kwargs) -> DecimalString:  # noqa: N802 - reads like a field class
    """A premium per 1,000 of sum insured (Numeric(12, 4)), zero or more."""
    return DecimalString(places=4, limit=Decimal("100000000"), validate=validate.Range(min=0), **kwargs)


class RateRowSchema(Schema):
    """A row of a product's rate table."""

    id = Id(dump_only=True)
    age_min = Integer(required=True, validate=AGE)
    age_max = Integer(required=True, validate=AGE)
    gender = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(RATE_GENDERS),
                           metadata={"description": "female or male; none for any gender."})
    rate_per_thousand = RatePerThousand(required=True)

    @validates_schema
    def _band_in_order(self, data: dict, **_kwargs) -> None:
        if data.get("age_min") is not None and data.get("age_max") is not None and data["age_min"] > data["age_max"]:
            raise ValidationError(str(_l("The band ends before it starts.")), "age_max")


class FlatPremiumSchema(Schema):
    """A product's flat annual premium (empty: quoted from the rate rows)."""

    flat_premium = Money(allow_none=True, load_default=None, validate=validate.Range(min=0))


class LoadingSchema(Schema):
    """The loading of a premium frequency on a product."""

    frequency = fields.String(required=True, validate=validate.OneOf(FREQUENCIES))
    loading = DecimalString(places=4, limit=Decimal("100"), required=True,
                            validate=validate.Range(min=0, min_inclusive=False))


class ProductQuoteSchema(Schema):
    """A quote as asked for (the premiums are computed, never sent) and as returned."""

    pii_kind = "quote"

    id = Id(dump_only=True)
    opportunity_id = Id(allow_none=True, load_default=None)
    policyholder_id = Id(allow_none=True, load_default=None)
    prospect_name = fields.String(allow_none=True, load_default=None, validate=NAME, metadata={"pii": "name"})
    date_of_birth = Date(allow_none=True, load_default=None, past_years=MAX_AGE, future_years=0,
                         metadata={"pii": "drop"})
    age = Integer(allow_none=True, load_default=None, validate=AGE,
                  metadata={"description": "Whole years; read from the date of birth when one is given."})
    gender = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(QUOTE_GENDERS))
    product_id = Id(required=True)
    sum_insured = Money(required=True, validate=validate.Range(min=0, min_inclusive=False))
    frequency = fields.String(required=True, validate=validate.OneOf(FREQUENCIES))
    # written as the other amounts of the API are: decimal strings (none for a product quoted at a flat premium)
    rate_per_thousand = DecimalString(places=4, limit=Decimal("100000000"), dump_only=True, allow_none=True)
    loading = DecimalString(places=4, limit=Decimal("100"), dump_only=True)
    annual_premium = Money(dump_only=True)
    installment_premium = Money(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    created_by_user_id = Id(dump_only=True, allow_none=True)


class ProductQuoteArgs(ListArgs):
    opportunity_id = Id(metadata={"description": "Only the quotes of this opportunity."})
    policyholder_id = Id(metadata={"description": "Only the quotes for this policyholder."})
