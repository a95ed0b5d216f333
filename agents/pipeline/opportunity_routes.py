"""Opportunities API (``/api/v1/opportunities``): list, get, create, change, move, win, lose, and the influencers
(CUTE) and competitors of an opportunity. Agents and specialists work their own, their teams' and (specialists)
their bank partners'; branch managers their branch's; admins all; the actuary and bank referrers get 403."""

from __future__ import annotations

from flask import abort
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload

import agents.permissions  # noqa: F401 - registers the scope rules
from agents.models import Competitor, Influencer, Opportunity, OpportunityLossReason, PipelineStage
from agents.pipeline import opportunities as services
from agents.pipeline.opportunity_schemas import (
    CompetitorSchema,
    CompetitorUpdateSchema,
    InfluencerSchema,
    InfluencerUpdateSchema,
    LossReasonArgs,
    LossReasonSchema,
    OpportunityArgs,
    OpportunityDetailSchema,
    OpportunityLoseSchema,
    OpportunityMoveSchema,
    OpportunitySchema,
    OpportunityUpdateSchema,
    OpportunityWinSchema,
)
from insurecrm.api import api_blueprint, current_user, page_envelope, paginate, partial
from insurecrm.auth import require_roles
from insurecrm.db import db
from insurecrm.scope import get_visible_or_404

blp = api_blueprint("opportunities_api", __name__,
                    description="Sales opportunities (销售机会): stages, win and loss, influencers, competitors.")
API_BLUEPRINTS = [blp]
ROLES = services.PIPELINE_ROLES
_LOADED = (selectinload(Opportunity.products), selectinload(Opportunity.team))


def _opportunity(opportunity_id: int) -> Opportunity:
    return get_visible_or_404(Opportunity, opportunity_id, options=(selectinload(Opportunity.stage_changes),
                                                                    *_LOADED))


def _part(model: type, opportunity_id: int, part_id: int):
    """An influencer or competitor of a visible opportunity: 404 when either is not there."""
    _opportunity(opportunity_id)
    record = db.session.get(model, part_id)
    if record is None or record.opportunity_id != opportunity_id:
        abort(404, description=f"{model.__name__} {part_id} not found.")
    return record


@blp.route("/opportunities")
class Opportunities(MethodView):
    @require_roles(*ROLES)
    @blp.arguments(OpportunityArgs, location="query")
    @blp.response(200, page_envelope(OpportunitySchema))
    def get(self, args):
        """List the opportunities you may see; filter by stage, status, owner, source, close month (YYYY-MM) or
        text in the title or prospect's name."""
        stmt = services.sorted_by(services.filtered(current_user(), args), args["sort"]).options(*_LOADED)
        items, meta = paginate(stmt, args)
        return {"items": items, "meta": meta}

    @require_roles(*ROLES)
    @blp.arguments(OpportunitySchema)
    @blp.response(201, OpportunityDetailSchema)
    def post(self, data):
        """Create an opportunity for a policyholder, a prospect or a referral (which becomes accepted); the stage
        and probability come from the stage settings."""
        opportunity = services.create_opportunity(data, actor=current_user())
        db.session.commit()
        return _opportunity(opportunity.id)


@blp.route("/opportunities/<int:opportunity_id>")
class OpportunityItem(MethodView):
    @require_roles(*ROLES)
    @blp.response(200, OpportunityDetailSchema)
    def get(self, opportunity_id):
        """One opportunity with its stage history."""
        return _opportunity(opportunity_id)

    @require_roles(*ROLES)
    @blp.arguments(partial(OpportunityUpdateSchema))
    @blp.response(200, OpportunityDetailSchema)
    def patch(self, data, opportunity_id):
        """Change an open opportunity (send the version you loaded; stale → 409)."""
        services.update_opportunity(_opportunity(opportunity_id), data, actor=current_user())
        db.session.commit()
        return _opportunity(opportunity_id)


@blp.route("/opportunities/<int:opportunity_id>/move", methods=["POST"])
@require_roles(*ROLES)
@blp.arguments(OpportunityMoveSchema)
@blp.response(200, OpportunityDetailSchema)
def move(data, opportunity_id):
    """Move an open opportunity to another open stage of its pipeline; recorded with its time and actor."""
    opportunity = _opportunity(opportunity_id)
    services.move_stage(opportunity, db.session.get(PipelineStage, data["stage_id"]), actor=current_user())
    db.session.commit()
    return _opportunity(opportunity_id)


@blp.route("/opportunities/<int:opportunity_id>/win", methods=["POST"])
@require_roles(*ROLES)
@blp.arguments(OpportunityWinSchema)
@blp.response(200, OpportunityDetailSchema)
def win(data, opportunity_id):
    """Win an open opportunity: link a policy of its policyholder (``policy_id``) or write one from the product,
    sum insured, premium and frequency; a referral's policy carries its bank attribution."""
    services.win(_opportunity(opportunity_id), actor=current_user(), **data)
    db.session.commit()
    return _opportunity(opportunity_id)


@blp.route("/opportunities/<int:opportunity_id>/lose", methods=["POST"])
@require_roles(*ROLES)
@blp.arguments(OpportunityLoseSchema)
@blp.response(200, OpportunityDetailSchema)
def lose(data, opportunity_id):
    """Lose an open opportunity with a reason from the admins' list and an optional note."""
    services.lose(_opportunity(opportunity_id), reason_id=data["reason_id"], note=data.get("note"),
                  actor=current_user())
    db.session.commit()
    return _opportunity(opportunity_id)


@blp.route("/loss-reasons")
@require_roles(*ROLES)
@blp.arguments(LossReasonArgs, location="query")
@blp.response(200, page_envelope(LossReasonSchema))
def loss_reasons(args):
    """The reasons an opportunity may be lost with (``POST /opportunities/<id>/lose``), in the admins' order;
    ``active=false`` lists those withdrawn."""
    stmt = select(OpportunityLossReason).order_by(OpportunityLossReason.position, OpportunityLossReason.id)
    if args.get("active") is not None:
        stmt = stmt.where(OpportunityLossReason.active.is_(args["active"]))
    items, meta = paginate(stmt, args)
    return {"items": items, "meta": meta}


# -- influencers and competitors ----------------------------------------------------------------------------

@blp.route("/opportunities/<int:opportunity_id>/influencers")
class Influencers(MethodView):
    @require_roles(*ROLES)
    @blp.response(200, InfluencerSchema(many=True))
    def get(self, opportunity_id):
        """The opportunity's influencers (CUTE: coach, user, technical buyer, economic buyer)."""
        return sorted(_opportunity(opportunity_id).influencers, key=lambda person: person.id)

    @require_roles(*ROLES)
    @blp.arguments(InfluencerSchema)
    @blp.response(201, InfluencerSchema)
    def post(self, data, opportunity_id):
        """Add an influencer with their role and attitude."""
        influencer = services.add_influencer(_opportunity(opportunity_id), data)
        db.session.commit()
        return influencer


@blp.route("/opportunities/<int:opportunity_id>/influencers/<int:influencer_id>")
class InfluencerItem(MethodView):
    @require_roles(*ROLES)
    @blp.arguments(partial(InfluencerUpdateSchema))
    @blp.response(200, InfluencerSchema)
    def patch(self, data, opportunity_id, influencer_id):
        """Change an influencer."""
        influencer = services.update_influencer(_part(Influencer, opportunity_id, influencer_id), data)
        db.session.commit()
        return influencer

    @require_roles(*ROLES)
    @blp.response(204)
    def delete(self, opportunity_id, influencer_id):
        """Remove an influencer."""
        opportunity = _opportunity(opportunity_id)
        services.remove(opportunity, _part(Influencer, opportunity_id, influencer_id))
        db.session.commit()


@blp.route("/opportunities/<int:opportunity_id>/competitors")
class Competitors(MethodView):
    @require_roles(*ROLES)
    @blp.response(200, CompetitorSchema(many=True))
    def get(self, opportunity_id):
        """The opportunity's competitors with their SWOT and scores against us (−2 … +2)."""
        return sorted(_opportunity(opportunity_id).competitors, key=lambda competitor: competitor.id)

    @require_roles(*ROLES)
    @blp.arguments(CompetitorSchema)
    @blp.response(201, CompetitorSchema)
    def post(self, data, opportunity_id):
        """Add a competitor."""
        competitor = services.add_competitor(_opportunity(opportunity_id), data)
        db.session.commit()
        return competitor


@blp.route("/opportunities/<int:opportunity_id>/competitors/<int:competitor_id>")
class CompetitorItem(MethodView):
    @require_roles(*ROLES)
    @blp.arguments(partial(CompetitorUpdateSchema))
    @blp.response(200, CompetitorSchema)
    def patch(self, data, opportunity_id, competitor_id):
        """Change a competitor."""
        competitor = services.update_competitor(_part(Competitor, opportunity_id, competitor_id), data)
        db.session.commit()
        return competitor

    @require_roles(*ROLES)
    @blp.response(204)
    def delete(self, opportunity_id, competitor_id):
        """Remove a competitor."""
        opportunity = _opportunity(opportunity_id)
        services.remove(opportunity, _part(Competitor, opportunity_id, competitor_id))
        db.session.commit()
