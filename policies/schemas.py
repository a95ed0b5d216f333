"""What comes in and goes out of the policies API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import ValidationError, fields, validate, validates

from insurecrm.api import ListArgs, Rate, Schema
from policies.models import PremiumFrequency, ProductLine

RATE_RANGE = validate.Range(min=0, max=1, error="Must be a fraction between 0 and 1.")


class ProductSchema(Schema):
    pii_kind = "product"

    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9][A-Z0-9_-]{1,31}$",
                                                                 error="Use 2–32 capitals, digits, '-' or '_'."))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    name_zh = fields.String(allow_none=True, validate=validate.Length(max=120))
    line = fields.Enum(ProductLine, by_value=True, required=True)
    description = fields.String(allow_none=True)
    term_months = fields.Integer(required=True, validate=validate.Range(min=1, max=1200))
    renewable = fields.Boolean(load_default=False)
    frequencies = fields.List(fields.String(validate=validate.OneOf([f.value for f in PremiumFrequency])),
                              required=True, validate=validate.Length(min=1))
    first_year_commission_rate = Rate(load_default=0, validate=RATE_RANGE)
    renewal_commission_rate = Rate(load_default=0, validate=RATE_RANGE)
    bank_share_rate = Rate(load_default=0, validate=RATE_RANGE)
    grace_period_days = fields.Integer(load_default=60, validate=validate.Range(min=0, max=365))
    cooling_off_days = fields.Integer(load_default=15, validate=validate.Range(min=0, max=90))
    callback_required = fields.Boolean(load_default=False)
    max_renewal_discount = Rate(load_default=0.1, validate=RATE_RANGE)
    active = fields.Boolean(load_default=True)

    @validates("frequencies")
    def _distinct(self, value, **_kwargs):
        if len(set(value)) != len(value):
            raise ValidationError("List each frequency once.")


class ProductUpdateSchema(ProductSchema):
    """Partial update: every field optional, none defaulted."""

    class Meta(ProductSchema.Meta):
        pass


class ProductArgs(ListArgs):
    line = fields.Enum(ProductLine, by_value=True)
    active = fields.Boolean()
    renewable = fields.Boolean()
    q = fields.String(metadata={"description": "Code or name contains."})


def partial(schema_cls: type[ma.Schema]) -> ma.Schema:
    """An instance of ``schema_cls`` for PATCH: fields optional, no defaults filled in."""
    schema = schema_cls(partial=True)
    for field in schema.load_fields.values():
        field.load_default = ma.missing
    return schema
