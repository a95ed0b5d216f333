"""Policyholders API: policyholders, household relationships, interactions, service requests."""

from __future__ import annotations

from flask import jsonify, url_for
from flask.views import MethodView
from sqlalchemy import not_, select
from werkzeug.exceptions import NotFound

import policyholders.permissions  # noqa: F401 - registers the scope rules
from insurecrm import clock
from insurecrm.api import api_blueprint, apply_sort, current_user, page_envelope, paginate
from insurecrm.auth import BOOK_WRITERS, require_roles
from insurecrm.db import db, list_of
from insurecrm.scope import get_visible_or_404, scoped_select, visible
from policyholders import household, services
from policyholders.duplicates import likely_duplicates
from policyholders.merging.schemas import MergedRedirectSchema
from policyholders.merging.services import redirect_target
from policyholders.models import Interaction, Policyholder, PolicyholderTag, ServiceRequest
from policyholders.schemas import (
    HouseholdSchema,
    InteractionArgs,
    InteractionSchema,
    InteractionUpdateSchema,
    PolicyholderArgs,
    PolicyholderCreatedSchema,
    PolicyholderDetailSchema,
    PolicyholderSchema,
    PolicyholderUpdateSchema,
    RelationshipSchema,
    ServiceRequestArgs,
    ServiceRequestSchema,
    ServiceRequestUpdateSchema,
    patch_schema,
)

policyholders_blp = api_blueprint("policyholders_api", __name__, description="Policyholders (保户) and households.")
interactions_blp = api_blueprint("interactions_api", __name__, description="Contacts with policyholders (接触记录).")
service_blp = api_blueprint("service_requests_api", __name__,
                            description="Service requests and complaints (客户服务/投诉).")
API_BLUEPRINTS = (policyholders_blp, interactions_blp, service_blp)
# On write views the role check comes first (outermost): a role that may not write gets 403 whatever it sends.

#: a page of the list: rows of the columns the schema dumps, with the tags' names, dumped as they are (no ORM objects
#: to build: a page costs half as much; docs/benchmarks.md, "API throughput"); the select is built once, each
#: request adds its conditions
LIST_SELECT = select(*(column for column in Policyholder.__table__.c if column.key in PolicyholderSchema().dump_fields),
                     select(list_of(PolicyholderTag.tag))
                     .where(PolicyholderTag.policyholder_id == Policyholder.id).scalar_subquery().label("tags"))
INTERACTION_SORTS = {"occurred_at", "channel", "created_at"}
SERVICE_REQUEST_SORTS = {"due_at", "opened_at", "status", "kind", "resolved_at"}


@policyholders_blp.route("/policyholders")
class Policyholders(MethodView):
    @policyholders_blp.arguments(PolicyholderArgs, location="query")
    @policyholders_blp.response(200, page_envelope(PolicyholderSchema))
    def get(self, args):
        """List policyholders; filter by status, owner, unit, channel, kind, a trait (region, occupation, gender,
        income band, age band today) or text (q)."""
        stmt = LIST_SELECT.where(visible(Policyholder), *services.trait_filters(args, clock.today()))
        for key in ("status", "owner_agent_id", "org_unit_id", "acquisition_channel", "kind"):
            if key in args:
                stmt = stmt.where(getattr(Policyholder, key) == args[key])
        if args.get("q"):
            stmt = stmt.where(services.policyholder_search(args["q"]))
        stmt = apply_sort(stmt, Policyholder, args["sort"], services.policyholder_sorts())
        items, meta = paginate(stmt, args, rows=True)
        return {"items": items, "meta": meta}

    @require_roles(*BOOK_WRITERS)
    @policyholders_blp.arguments(PolicyholderSchema)
    @policyholders_blp.response(201, PolicyholderCreatedSchema)
    def post(self, data):
        """Create a policyholder; the ID number and phones are validated, an ID already on file is refused.

        The record is created even when it looks like one already on file (same ID number of another type,
        same phone, or same name and birth date): `warnings` lists those, so that the caller can review them.
        """
        duplicates = likely_duplicates(data, user=current_user())
        policyholder = services.create_policyholder(data, actor=current_user())
        db.session.commit()
        policyholder.likely_duplicates = duplicates  # read by the response's `warnings`
        return policyholder


@policyholders_blp.route("/policyholders/<int:policyholder_id>")
class PolicyholderItem(MethodView):
    @policyholders_blp.response(200, PolicyholderDetailSchema)
    @policyholders_blp.alt_response(302, schema=MergedRedirectSchema, description=(
        "The id of a record merged into another: `Location` and `merged_into` name the surviving record."))
    def get(self, policyholder_id):
        """One policyholder, with tags and household relationships; the ID number masked. The old id of a merged
        record answers 302 to the record it was merged into (when you may see that one; 404 otherwise)."""
        try:
            return household.get_with_visible_relationships_or_404(policyholder_id)
        except NotFound:
            survivor = redirect_target(policyholder_id, current_user())
            if survivor is None:
                raise
            return merged_redirect(policyholder_id, survivor)

    @require_roles(*BOOK_WRITERS)
    @policyholders_blp.arguments(patch_schema(PolicyholderUpdateSchema))
    @policyholders_blp.response(200, PolicyholderDetailSchema)
    def patch(self, data, policyholder_id):
        """Change a policyholder (send the version you loaded; stale → 409)."""
        policyholder = get_visible_or_404(Policyholder, policyholder_id)
        services.update_policyholder(policyholder, data, actor=current_user())
        db.session.commit()
        return policyholder

    @require_roles(*BOOK_WRITERS)
    @policyholders_blp.response(204)
    def delete(self, policyholder_id):
        """Delete a prospect without policies; anyone else answers 409."""
        services.delete_policyholder(get_visible_or_404(Policyholder, policyholder_id))
        db.session.commit()


def merged_redirect(policyholder_id: int, survivor_id: int):
    """302 to the surviving record, with a body saying so for a client that does not follow redirects."""
    location = url_for("policyholders_api.PolicyholderItem", policyholder_id=survivor_id)
    response = jsonify(MergedRedirectSchema().dump({
        "error": "Found", "merged_into": survivor_id,
        "message": f"Policyholder {policyholder_id} was merged into policyholder {survivor_id}."}))
    response.status_code, response.headers["Location"] = 302, location
    return response


@policyholders_blp.route("/policyholders/<int:policyholder_id>/relationships")
class Relationships(MethodView):
    @policyholders_blp.response(200, RelationshipSchema(many=True))
    def get(self, policyholder_id):
        """The policyholder's relationships (to policyholders you may see)."""
        return household.visible_relationships(get_visible_or_404(Policyholder, policyholder_id))

    @require_roles(*BOOK_WRITERS)
    @policyholders_blp.arguments(RelationshipSchema)
    @policyholders_blp.response(201, RelationshipSchema)
    def post(self, data, policyholder_id):
        """Relate the policyholder to another; the inverse (spouse, parent/child, employer/employee) follows."""
        relationship = household.create_relationship(get_visible_or_404(Policyholder, policyholder_id), data,
                                                    actor=current_user())
        db.session.commit()
        return relationship


@policyholders_blp.route("/policyholders/<int:policyholder_id>/relationships/<int:relationship_id>")
class RelationshipItem(MethodView):
    @require_roles(*BOOK_WRITERS)
    @policyholders_blp.response(204)
    def delete(self, policyholder_id, relationship_id):
        """Remove a relationship and its inverse."""
        policyholder = get_visible_or_404(Policyholder, policyholder_id)
        household.delete_relationship(household.visible_relationship_or_404(policyholder, relationship_id))
        db.session.commit()


@policyholders_blp.route("/policyholders/<int:policyholder_id>/household")
class Household(MethodView):
    @policyholders_blp.response(200, HouseholdSchema)
    def get(self, policyholder_id):
        """The policyholder and those related to them (one level), with their policy counts."""
        return household.household_of(get_visible_or_404(Policyholder, policyholder_id))


@interactions_blp.route("/interactions")
class Interactions(MethodView):
    @interactions_blp.arguments(InteractionArgs, location="query")
    @interactions_blp.response(200, page_envelope(InteractionSchema))
    def get(self, args):
        """List contacts; filter by policyholder, channel, agent, and when they occurred."""
        stmt = scoped_select(Interaction)
        for key in ("policyholder_id", "channel", "agent_id"):
            if key in args:
                stmt = stmt.where(getattr(Interaction, key) == args[key])
        if "occurred_from" in args:
            stmt = stmt.where(Interaction.occurred_at >= args["occurred_from"])
        if "occurred_to" in args:
            stmt = stmt.where(Interaction.occurred_at < args["occurred_to"])
        items, meta = paginate(apply_sort(stmt, Interaction, args["sort"], INTERACTION_SORTS, "-occurred_at"), args)
        return {"items": items, "meta": meta}

    @require_roles(*BOOK_WRITERS)
    @interactions_blp.arguments(InteractionSchema)
    @interactions_blp.response(201, InteractionSchema)
    def post(self, data):
        """Log a contact (by you, now, unless said otherwise)."""
        interaction = services.create_interaction(data, actor=current_user())
        db.session.commit()
        return interaction


@interactions_blp.route("/interactions/<int:interaction_id>")
class InteractionItem(MethodView):
    @interactions_blp.response(200, InteractionSchema)
    def get(self, interaction_id):
        """One contact."""
        return get_visible_or_404(Interaction, interaction_id)

    @require_roles(*BOOK_WRITERS)
    @interactions_blp.arguments(InteractionUpdateSchema)
    @interactions_blp.response(200, InteractionSchema)
    def patch(self, data, interaction_id):
        """Correct a contact's summary, outcome or cost."""
        interaction = services.update_interaction(get_visible_or_404(Interaction, interaction_id), data)
        db.session.commit()
        return interaction


@service_blp.route("/service-requests")
class ServiceRequests(MethodView):
    @service_blp.arguments(ServiceRequestArgs, location="query")
    @service_blp.response(200, page_envelope(ServiceRequestSchema))
    def get(self, args):
        """List service requests and complaints; overdue=true lists those past due and unresolved."""
        stmt = scoped_select(ServiceRequest)
        for key in ("kind", "status", "priority", "policyholder_id", "assigned_agent_id"):
            if key in args:
                stmt = stmt.where(getattr(ServiceRequest, key) == args[key])
        if "overdue" in args:
            overdue = services.overdue_condition()
            stmt = stmt.where(overdue if args["overdue"] else not_(overdue))
        items, meta = paginate(apply_sort(stmt, ServiceRequest, args["sort"], SERVICE_REQUEST_SORTS, "due_at"), args)
        return {"items": items, "meta": meta}

    @require_roles(*BOOK_WRITERS)
    @service_blp.arguments(ServiceRequestSchema)
    @service_blp.response(201, ServiceRequestSchema)
    def post(self, data):
        """Open a service request or complaint; due by the SLA of its kind and priority unless given."""
        service_request = services.create_service_request(data, actor=current_user())
        db.session.commit()
        return service_request


@service_blp.route("/service-requests/<int:request_id>")
class ServiceRequestItem(MethodView):
    @service_blp.response(200, ServiceRequestSchema)
    def get(self, request_id):
        """One service request or complaint."""
        return get_visible_or_404(ServiceRequest, request_id)

    @require_roles(*BOOK_WRITERS)
    @service_blp.arguments(ServiceRequestUpdateSchema)
    @service_blp.response(200, ServiceRequestSchema)
    def patch(self, data, request_id):
        """Assign, re-prioritise, progress, resolve (a resolution is required) or close a request."""
        service_request = services.update_service_request(get_visible_or_404(ServiceRequest, request_id), data,
                                                          actor=current_user())
        db.session.commit()
        return service_request
