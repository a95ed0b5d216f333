"""What comes in and goes out of the merge API and pages."""

from __future__ import annotations

from marshmallow import fields, validate

from insurecrm.api import Id, Instant, Integer, Schema
from policyholders.merging.services import FIELDS


class MergeSchema(Schema):
    """A merge asked for: the record folded into the path's record, and the fields taken from it."""

    merged_id = Id(required=True, metadata={"description": "The record merged into the path's record (deleted; "
                                                           "its old id then redirects to the path's record)."})
    take = fields.List(fields.String(validate=validate.OneOf(FIELDS)), load_default=list,
                       validate=validate.Length(max=len(FIELDS)), metadata={
                           "description": "Fields whose value is taken from the merged record; the others keep the "
                                          "surviving record's value. id_number takes the ID type with it."})


class MergeResultSchema(Schema):
    """A merge done (or undone)."""

    id = Id(dump_only=True)
    survivor_id = Id(dump_only=True)
    merged_id = Id(dump_only=True)
    merged_at = Instant(dump_only=True)
    undone_at = Instant(dump_only=True, allow_none=True)
    taken = fields.Method("_taken", dump_only=True, metadata={
        "description": "The surviving record's columns that took the merged record's value."})
    moved = Integer(dump_only=True, attribute="moved_count", metadata={
        "description": "Rows of other tables moved to the surviving record."})
    dropped = Integer(dump_only=True, attribute="dropped_count", metadata={
        "description": "Rows dropped: tags and memberships the survivor had already, relationships between the two "
                       "records, figures recomputed by the next nightly run."})

    def _taken(self, merge) -> list[str]:
        return sorted(merge.survivor_before)


class MergedRedirectSchema(Schema):
    """The answer for the id of a merged record: the record it was merged into."""

    error = fields.String()
    message = fields.String()
    merged_into = Id(metadata={"description": "The surviving record's id (also in the Location header)."})
