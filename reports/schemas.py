"""Report outputs."""

from __future__ import annotations

from marshmallow import fields

from insurecrm.api import ArgsSchema, Date, Integer, Money, Schema


class SummaryArgs(ArgsSchema):
    as_of = Date(metadata={"description": "The date the book is seen at (default: today)."})


class ChannelLine(Schema):
    channel = fields.String()
    policies = Integer()
    annualised_premium = Money()


class BookSummary(Schema):
    as_of = Date()
    policyholders_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    policies_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    in_force_by_channel = fields.List(fields.Nested(ChannelLine))
    in_force_policies = Integer()
    in_force_annualised_premium = Money()
