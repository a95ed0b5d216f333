"""The segments API: keep filters over policyholders by name, count a filter, list a segment's members."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy.orm import joinedload

import policyholders.segments.permissions  # noqa: F401 - registers the segment scope rule
from insurecrm.api import api_blueprint, apply_sort, current_user, page_envelope, paginate
from insurecrm.auth import BOOK_WRITERS, require_roles
from insurecrm.db import db
from insurecrm.scope import get_visible_or_404, scoped_select
from policyholders import services as holder_services
from policyholders.models import Policyholder
from policyholders.schemas import PolicyholderSchema
from policyholders.segments import services
from policyholders.segments.models import Segment
from policyholders.segments.schemas import (
    CountResultSchema,
    CountSchema,
    MemberArgs,
    SegmentArgs,
    SegmentSchema,
    SegmentUpdateSchema,
)

blp = api_blueprint("segments_api", __name__, description="Segments: saved filters over policyholders, evaluated in "
                                                           "your scope.")
API_BLUEPRINTS = (blp,)
#: who keeps segments: whoever works a book (agents their own, managers their branch, admins); the actuary, who
#: sees no personal data, and the bank referrers have none
SEGMENT_ROLES = BOOK_WRITERS
SEGMENT_SORTS = {"id", "name", "created_at", "updated_at"}


@blp.route("/segments")
class Segments(MethodView):
    @require_roles(*SEGMENT_ROLES)
    @blp.arguments(SegmentArgs, location="query")
    @blp.response(200, page_envelope(SegmentSchema))
    def get(self, args):
        """The segments you may see: yours (a manager: also those made in the branch; an admin: all), by name."""
        items, meta = paginate(apply_sort(scoped_select(Segment), Segment, args["sort"], SEGMENT_SORTS, "name"), args)
        return {"items": items, "meta": meta}

    @require_roles(*SEGMENT_ROLES)
    @blp.arguments(SegmentSchema)
    @blp.response(201, SegmentSchema)
    def post(self, data):
        """Keep a filter by name (unique among your segments)."""
        segment = services.create_segment(data, actor=current_user())
        db.session.commit()
        return segment


@blp.route("/segments/count")
class Count(MethodView):
    @require_roles(*SEGMENT_ROLES)
    @blp.arguments(CountSchema)
    @blp.response(200, CountResultSchema)
    def post(self, data):
        """Count the policyholders of your scope a filter holds, without saving it (the builder's live count)."""
        criteria = services.stored_filter(data["criteria"])
        return {"count": services.count(criteria, current_user(), on=data.get("on"))}


@blp.route("/segments/<int:segment_id>")
class SegmentItem(MethodView):
    @require_roles(*SEGMENT_ROLES)
    @blp.response(200, SegmentSchema)
    def get(self, segment_id):
        """One segment (404 when not yours to see)."""
        return get_visible_or_404(Segment, segment_id)

    @require_roles(*SEGMENT_ROLES)
    @blp.arguments(SegmentUpdateSchema)
    @blp.response(200, SegmentSchema)
    def patch(self, data, segment_id):
        """Rename, describe or change the filter (send the version you loaded; stale → 409)."""
        segment = get_visible_or_404(Segment, segment_id)
        services.update_segment(segment, data)
        db.session.commit()
        return segment

    @require_roles(*SEGMENT_ROLES)
    @blp.response(204)
    def delete(self, segment_id):
        """Forget a segment; its policyholders are untouched."""
        services.delete_segment(get_visible_or_404(Segment, segment_id))
        db.session.commit()


@blp.route("/segments/<int:segment_id>/members")
class Members(MethodView):
    @require_roles(*SEGMENT_ROLES)
    @blp.arguments(MemberArgs, location="query")
    @blp.response(200, page_envelope(PolicyholderSchema))
    def get(self, args, segment_id):
        """The policyholders of your scope the segment holds on `on` (default today), a page at a time."""
        segment = get_visible_or_404(Segment, segment_id)
        members = (scoped_select(Policyholder).options(joinedload(Policyholder.tags))
                   .where(Policyholder.id.in_(services.segment_query(segment, current_user(), on=args.get("on")))))
        stmt = apply_sort(members, Policyholder, args["sort"], holder_services.policyholder_sorts())
        items, meta = paginate(stmt, args)
        return {"items": items, "meta": meta}
