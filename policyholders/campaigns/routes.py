"""The campaigns API: keep campaigns, move their status, hand one over, run one now, read their runs and the
members of each.

Branch managers (their branch's campaigns) and admins keep them; the actuary reads them (no members: personal data);
agents have none. How a run works: :mod:`policyholders.campaigns.runs`.
"""

from __future__ import annotations

from flask import abort
from flask.views import MethodView
from marshmallow import ValidationError
from sqlalchemy import select

from insurecrm.api import (
    ListArgs,
    api_blueprint,
    apply_sort,
    current_user,
    page_envelope,
    paginate,
    refuse_a_body,
)
from insurecrm.auth import require_roles
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from policyholders.campaigns import owners, services
from policyholders.campaigns.models import Campaign, CampaignMember, CampaignRun
from policyholders.campaigns.runs import CampaignNotRunnable, run_now
from policyholders.campaigns.schemas import (
    CampaignArgs,
    CampaignSchema,
    CampaignUpdateSchema,
    MemberArgs,
    MemberSchema,
    OwnerSchema,
    PreviewArgs,
    PreviewSchema,
    RunSchema,
    StatusSchema,
)

blp = api_blueprint("campaigns_api", __name__, description="Campaigns: a segment reached on a schedule by email, "
                                                             "SMS or an agent's task, measured against a control "
                                                             "group.")
API_BLUEPRINTS = (blp,)
#: who keeps campaigns
KEEPERS = (Role.ADMIN, Role.BRANCH_MANAGER)
#: who reads them (the actuary: the campaigns and their runs, not their members)
READERS = (*KEEPERS, Role.ACTUARY)
CAMPAIGN_SORTS = {"id", "name", "start_date", "created_at", "updated_at"}


@blp.route("/campaigns")
class Campaigns(MethodView):
    @require_roles(*READERS)
    @blp.arguments(CampaignArgs, location="query")
    @blp.response(200, page_envelope(CampaignSchema))
    def get(self, args):
        """The campaigns you may see (a manager: those of the branch and the built-in ones), newest first."""
        stmt = scoped_select(Campaign)
        if "status" in args:
            stmt = stmt.where(Campaign.status == args["status"])
        items, meta = paginate(apply_sort(stmt, Campaign, args["sort"] or "-id", CAMPAIGN_SORTS), args)
        return {"items": items, "meta": meta}

    @require_roles(*KEEPERS)
    @blp.arguments(CampaignSchema)
    @blp.response(201, CampaignSchema)
    def post(self, data):
        """Make a campaign (a draft: activate it with POST /campaigns/{id}/status)."""
        campaign = services.create_campaign(data, actor=current_user())
        db.session.commit()
        return campaign


@blp.route("/campaigns/<int:campaign_id>")
class CampaignItem(MethodView):
    @require_roles(*READERS)
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id):
        """One campaign (404 when not yours to see)."""
        return get_visible_or_404(Campaign, campaign_id)

    @require_roles(*KEEPERS)
    @blp.arguments(CampaignUpdateSchema)
    @blp.response(200, CampaignSchema)
    def patch(self, data, campaign_id):
        """Change a campaign (send the version you loaded; stale → 409)."""
        campaign = get_visible_or_404(Campaign, campaign_id)
        services.update_campaign(campaign, data, actor=current_user())
        db.session.commit()
        return campaign

    @require_roles(*KEEPERS)
    @blp.response(204)
    def delete(self, campaign_id):
        """Delete a draft that never ran (409 otherwise: end it)."""
        services.delete_campaign(get_visible_or_404(Campaign, campaign_id))
        db.session.commit()


@blp.route("/campaigns/<int:campaign_id>/status")
class Status(MethodView):
    @require_roles(*KEEPERS)
    @blp.arguments(StatusSchema)
    @blp.response(200, CampaignSchema)
    def post(self, data, campaign_id):
        """Activate, pause or end a campaign."""
        campaign = get_visible_or_404(Campaign, campaign_id)
        services.set_status(campaign, data["status"])
        db.session.commit()
        return campaign


@blp.route("/campaigns/<int:campaign_id>/owner")
class Owner(MethodView):
    @require_roles(*KEEPERS)
    @blp.arguments(OwnerSchema)
    @blp.response(200, CampaignSchema)
    def post(self, data, campaign_id):
        """Hand the campaign over to a new owner.

        Its runs, members and effectiveness stay with it; its segment is read in the new owner's scope from the next
        run on, and a campaign whose owner left runs again. 422 on `owner_user_id` when the user may not own it
        (inactive, not an admin, or a branch manager of neither its branch nor one above it) or the campaign is
        built-in (it has no owner); 404 for a campaign you may not see; 409 when `version` is not the one it has."""
        campaign = get_visible_or_404(Campaign, campaign_id)
        owners.hand_over(campaign, data["owner_user_id"], version=data["version"])
        db.session.commit()
        return campaign


@blp.route("/campaigns/<int:campaign_id>/preview")
class Preview(MethodView):
    @require_roles(*KEEPERS)
    @blp.arguments(PreviewArgs, location="query")
    @blp.response(200, PreviewSchema)
    def get(self, args, campaign_id):
        """The message in a language as a member of the segment (the one given, else the first) would get it."""
        campaign = get_visible_or_404(Campaign, campaign_id)
        return services.preview(campaign, args["language"], current_user(),
                                policyholder_id=args.get("policyholder_id"))


@blp.route("/campaigns/<int:campaign_id>/runs")
class Runs(MethodView):
    @require_roles(*READERS)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, page_envelope(RunSchema))
    def get(self, args, campaign_id):
        """The campaign's runs, the latest first."""
        get_visible_or_404(Campaign, campaign_id)
        stmt = (select(CampaignRun).where(CampaignRun.campaign_id == campaign_id)
                .order_by(CampaignRun.run_date.desc(), CampaignRun.id.desc()))
        items, meta = paginate(stmt, args)
        return {"items": items, "meta": meta}

    @require_roles(*KEEPERS)
    @blp.response(201, RunSchema)
    @blp.alt_response(422, description="The campaign cannot run: not active, no segment, or its owner left; or a "
                                        "body was sent.")
    def post(self, campaign_id):
        """Run the campaign now: its run for today (made now, or the one already made today). No body, or `{}`."""
        refuse_a_body()
        campaign = get_visible_or_404(Campaign, campaign_id)
        try:
            run = run_now(campaign)
        except CampaignNotRunnable as refused:
            db.session.rollback()
            raise ValidationError({"campaign": [str(refused)]}) from None
        db.session.commit()
        return run


@blp.route("/campaigns/<int:campaign_id>/runs/<int:run_id>/members")
class Members(MethodView):
    @require_roles(*KEEPERS)
    @blp.arguments(MemberArgs, location="query")
    @blp.response(200, page_envelope(MemberSchema))
    def get(self, args, campaign_id, run_id):
        """The members of a run with their outcome and response, by policyholder."""
        get_visible_or_404(Campaign, campaign_id)
        run = db.session.get(CampaignRun, run_id)
        if run is None or run.campaign_id != campaign_id:
            abort(404, description=f"CampaignRun {run_id} not found.")
        stmt = select(CampaignMember).where(CampaignMember.run_id == run_id).order_by(CampaignMember.policyholder_id)
        if "outcome" in args:
            stmt = stmt.where(CampaignMember.outcome == args["outcome"])
        items, meta = paginate(stmt, args)
        return {"items": items, "meta": meta}
