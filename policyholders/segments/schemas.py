"""What comes in and goes out of the segments API (the filter itself: :mod:`policyholders.segments.filters`)."""

from __future__ import annotations

from marshmallow import fields, validate

from insurecrm.api import Date, Id, Integer, ListArgs, Schema, VersionedSchema
from policyholders.segments.filters import SegmentFilterSchema

NAME = validate.Length(min=1, max=120)
DESCRIPTION = validate.Length(max=2000)
#: how far from today a segment may be evaluated
ON_WINDOW = {"past_years": 10, "future_years": 5}


def _filter(**kwargs) -> fields.Nested:
    return fields.Nested(SegmentFilterSchema, data_key="filter", metadata={
        "description": "The filter: every field optional, a list matches any of its values, the fields given all "
                       "hold. Unknown fields are refused."}, **kwargs)


class SegmentSchema(Schema):
    """A segment as kept: its name, description and filter, whose it is and in which unit."""

    id = Id(dump_only=True)
    version = Integer(dump_only=True, minimum=0)
    name = fields.String(required=True, validate=NAME, metadata={"description": "Unique among your segments."})
    description = fields.String(allow_none=True, validate=DESCRIPTION)
    criteria = _filter(load_default=dict)
    owner_user_id = Id(dump_only=True)
    org_unit_id = Id(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class SegmentUpdateSchema(VersionedSchema):
    """PATCH: any of the name, description and filter (a filter sent replaces the whole filter)."""

    name = fields.String(validate=NAME)
    description = fields.String(allow_none=True, validate=DESCRIPTION)
    criteria = _filter()


class SegmentArgs(ListArgs):
    """The list of segments: by name."""


class CountSchema(Schema):
    """A filter to count without saving it, on a date (default today)."""

    criteria = _filter(load_default=dict)
    on = Date(**ON_WINDOW, metadata={"description": "The date the filter is judged on (default today)."})


class CountResultSchema(Schema):
    count = fields.Integer(metadata={"description": "Policyholders of your scope the filter holds."})


class MemberArgs(ListArgs):
    """A page of a segment's members, on a date (default today)."""

    on = Date(**ON_WINDOW, metadata={"description": "The date the filter is judged on (default today)."})
