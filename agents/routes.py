"""Agents API: the organisation tree, agents, bank partners, bank branches, referrers, referrals, stages."""

from __future__ import annotations

from collections.abc import Iterable

from flask.views import MethodView
from marshmallow import ValidationError, fields
from sqlalchemy import Select, or_
from sqlalchemy.orm import selectinload

import agents.permissions  # noqa: F401 - registers the scope rules
from agents import services
from agents.departure import DepartureRule, deactivate_agent
from agents.models import Agent, BankBranch, BankPartner, OrgUnit, PipelineStage, Referral, Referrer
from agents.pipeline import stages as pipeline
from agents.schemas import (
    DEFAULT_PIPELINE,
    AgentArgs,
    AgentSchema,
    AgentUpdateSchema,
    BankBranchArgs,
    BankBranchSchema,
    BankBranchUpdateSchema,
    BankPartnerArgs,
    BankPartnerSchema,
    BankPartnerUpdateSchema,
    OrgUnitArgs,
    OrgUnitSchema,
    OrgUnitUpdateSchema,
    PipelineStageArgs,
    PipelineStageSchema,
    PipelineStageUpdateSchema,
    ReferralArgs,
    ReferralSchema,
    ReferralUpdateSchema,
    ReferrerArgs,
    ReferrerSchema,
    ReferrerUpdateSchema,
)
from insurecrm.api import Id, Schema, api_blueprint, apply_sort, current_user, page_envelope, paginate, partial
from insurecrm.auth import require_roles
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.pii import must_pseudonymise
from insurecrm.scope import get_visible_or_404, scoped_select

org_blp = api_blueprint("org_units_api", __name__, description="The organisation tree: company → branch → team.")
agents_blp = api_blueprint("agents_api", __name__, description="Agents (代理人) and bancassurance specialists.")
bank_blp = api_blueprint("bancassurance_api", __name__, description="Bank partners, bank branches (网点), referrers.")
referrals_blp = api_blueprint("referrals_api", __name__, description="Referrals from bank staff (银保转介).")
stages_blp = api_blueprint("pipeline_stages_api", __name__, description="Pipeline stages and their probabilities.")
API_BLUEPRINTS = (org_blp, agents_blp, bank_blp, referrals_blp, stages_blp)

CODE_NAME_SORTS = {"code", "name"}


def _page(stmt: Select, model: type, args: dict, *, filters: Iterable[str] = (), text: Iterable[str] = (),
          sorts: set[str], default: str, pii_text: Iterable[str] = ()) -> dict:
    """One page of ``stmt`` filtered by equality on ``filters`` and by ``q`` in the ``text`` columns
    (and in the ``pii_text`` columns for users who may see personal data)."""
    for key in filters:
        if key in args:
            stmt = stmt.where(getattr(model, key) == args[key])
    # searching a pseudonymised name would let the actuary probe for real names
    text = (*text, *(() if must_pseudonymise() else pii_text))
    if args.get("q") and text:
        stmt = stmt.where(or_(*(getattr(model, column).icontains(args["q"]) for column in text)))
    items, meta = paginate(apply_sort(stmt, model, args["sort"], sorts, default=default), args)
    return {"items": items, "meta": meta}


# -- organisation -------------------------------------------------------------------------------------

@org_blp.route("/org-units")
class OrgUnits(MethodView):
    @org_blp.arguments(OrgUnitArgs, location="query")
    @org_blp.response(200, page_envelope(OrgUnitSchema))
    def get(self, args):
        """List organisation units; filter by parent, kind, or text in code/name."""
        return _page(scoped_select(OrgUnit), OrgUnit, args, filters=("parent_id", "kind"), text=("code", "name"),
                     sorts=CODE_NAME_SORTS | {"path", "kind"}, default="path")

    @require_roles(Role.ADMIN)
    @org_blp.arguments(OrgUnitSchema)
    @org_blp.response(201, OrgUnitSchema)
    def post(self, data):
        """Create an organisation unit (admins)."""
        unit = services.create_org_unit(data)
        db.session.commit()
        return unit


@org_blp.route("/org-units/<int:unit_id>")
class OrgUnitItem(MethodView):
    @org_blp.response(200, OrgUnitSchema)
    def get(self, unit_id):
        """One organisation unit."""
        return get_visible_or_404(OrgUnit, unit_id)

    @require_roles(Role.ADMIN)
    @org_blp.arguments(partial(OrgUnitUpdateSchema))
    @org_blp.response(200, OrgUnitSchema)
    def patch(self, data, unit_id):
        """Rename a unit, or move it with its subtree under another parent (admins)."""
        unit = services.update_org_unit(get_visible_or_404(OrgUnit, unit_id), data)
        db.session.commit()
        return unit


# -- agents ---------------------------------------------------------------------------------------------

@agents_blp.route("/agents")
class Agents(MethodView):
    @agents_blp.arguments(AgentArgs, location="query")
    @agents_blp.response(200, page_envelope(AgentSchema))
    def get(self, args):
        """List the agents you may see; filter by unit, channel, status, or text in code/name."""
        stmt = scoped_select(Agent).options(selectinload(Agent.bank_partners))
        return _page(stmt, Agent, args, filters=("org_unit_id", "channel", "status"), text=("code",),
                     pii_text=("name",), sorts=CODE_NAME_SORTS | {"hire_date", "licence_expiry", "status"},
                     default="code")

    @require_roles(Role.ADMIN)
    @agents_blp.arguments(AgentSchema)
    @agents_blp.response(201, AgentSchema)
    def post(self, data):
        """Create an agent (admins)."""
        agent = services.create_agent(data, actor=current_user())
        db.session.commit()
        return agent


@agents_blp.route("/agents/<int:agent_id>")
class AgentItem(MethodView):
    @agents_blp.response(200, AgentSchema)
    def get(self, agent_id):
        """One agent."""
        return get_visible_or_404(Agent, agent_id)

    @require_roles(Role.ADMIN, Role.BRANCH_MANAGER)
    @agents_blp.arguments(partial(AgentUpdateSchema))
    @agents_blp.response(200, AgentSchema)
    def patch(self, data, agent_id):
        """Change an agent, its status or its bank partners (admins; branch managers within their branch)."""
        agent = services.update_agent(get_visible_or_404(Agent, agent_id), data, actor=current_user())
        db.session.commit()
        return agent


class DepartureSchema(Schema):
    rule = fields.Enum(DepartureRule, by_value=True, required=True,
                       metadata={"description": "pool: to the unit's pool; agent: to target_agent_id."})
    target_agent_id = Id(allow_none=True)


class DepartureResult(Schema):
    moved = fields.Dict(keys=fields.String(), values=fields.Integer())


@agents_blp.route("/agents/<int:agent_id>/departure", methods=["POST"])
@require_roles(Role.ADMIN)
@agents_blp.arguments(DepartureSchema)
@agents_blp.response(200, DepartureResult)
def agent_departure(data, agent_id):
    """Deactivate an agent and hand on everything they hold — open renewal cases, policyholders, open tasks and
    activities, open opportunities and team places, open referrals and service requests — to the unit's pool or
    to a named agent (admins; audited)."""
    agent = get_visible_or_404(Agent, agent_id)
    target = None
    if data.get("target_agent_id") is not None:
        target = db.session.scalar(scoped_select(Agent).where(Agent.id == data["target_agent_id"]))
        if target is None:
            raise ValidationError({"target_agent_id": ["No such agent."]})
    moved = deactivate_agent(agent, rule=data["rule"], target_agent=target, actor=current_user())
    db.session.commit()
    return {"moved": moved}


# -- bancassurance ----------------------------------------------------------------------------------------

@bank_blp.route("/bank-partners")
class BankPartners(MethodView):
    @bank_blp.arguments(BankPartnerArgs, location="query")
    @bank_blp.response(200, page_envelope(BankPartnerSchema))
    def get(self, args):
        """List bank partners; filter by status or text in code/name."""
        return _page(scoped_select(BankPartner), BankPartner, args, filters=("status",), text=("code", "name"),
                     sorts=CODE_NAME_SORTS, default="code")

    @require_roles(Role.ADMIN)
    @bank_blp.arguments(BankPartnerSchema)
    @bank_blp.response(201, BankPartnerSchema)
    def post(self, data):
        """Create a bank partner (admins)."""
        partner = services.create_bank_partner(data)
        db.session.commit()
        return partner


@bank_blp.route("/bank-partners/<int:partner_id>")
class BankPartnerItem(MethodView):
    @bank_blp.response(200, BankPartnerSchema)
    def get(self, partner_id):
        """One bank partner."""
        return get_visible_or_404(BankPartner, partner_id)

    @require_roles(Role.ADMIN)
    @bank_blp.arguments(partial(BankPartnerUpdateSchema))
    @bank_blp.response(200, BankPartnerSchema)
    def patch(self, data, partner_id):
        """Change a bank partner's name, commission terms or status (admins)."""
        partner = services.update_bank_partner(get_visible_or_404(BankPartner, partner_id), data)
        db.session.commit()
        return partner


@bank_blp.route("/bank-branches")
class BankBranches(MethodView):
    @bank_blp.arguments(BankBranchArgs, location="query")
    @bank_blp.response(200, page_envelope(BankBranchSchema))
    def get(self, args):
        """List bank branches; filter by partner, serving unit, status, or text in code/name."""
        return _page(scoped_select(BankBranch), BankBranch, args, filters=("bank_partner_id", "org_unit_id", "status"),
                     text=("code", "name"), sorts=CODE_NAME_SORTS | {"region"}, default="code")

    @require_roles(Role.ADMIN)
    @bank_blp.arguments(BankBranchSchema)
    @bank_blp.response(201, BankBranchSchema)
    def post(self, data):
        """Create a bank branch (admins)."""
        branch = services.create_bank_branch(data)
        db.session.commit()
        return branch


@bank_blp.route("/bank-branches/<int:branch_id>")
class BankBranchItem(MethodView):
    @bank_blp.response(200, BankBranchSchema)
    def get(self, branch_id):
        """One bank branch."""
        return get_visible_or_404(BankBranch, branch_id)

    @require_roles(Role.ADMIN)
    @bank_blp.arguments(partial(BankBranchUpdateSchema))
    @bank_blp.response(200, BankBranchSchema)
    def patch(self, data, branch_id):
        """Change a bank branch (admins)."""
        branch = services.update_bank_branch(get_visible_or_404(BankBranch, branch_id), data)
        db.session.commit()
        return branch


@bank_blp.route("/referrers")
class Referrers(MethodView):
    @bank_blp.arguments(ReferrerArgs, location="query")
    @bank_blp.response(200, page_envelope(ReferrerSchema))
    def get(self, args):
        """List the referrers you may see; filter by bank branch, status, or text in code/name."""
        return _page(scoped_select(Referrer), Referrer, args, filters=("bank_branch_id", "status"),
                     text=("code",), pii_text=("name",), sorts=CODE_NAME_SORTS, default="code")

    @require_roles(Role.ADMIN)
    @bank_blp.arguments(ReferrerSchema)
    @bank_blp.response(201, ReferrerSchema)
    def post(self, data):
        """Create a referrer (admins)."""
        referrer = services.create_referrer(data)
        db.session.commit()
        return referrer


@bank_blp.route("/referrers/<int:referrer_id>")
class ReferrerItem(MethodView):
    @bank_blp.response(200, ReferrerSchema)
    def get(self, referrer_id):
        """One referrer."""
        return get_visible_or_404(Referrer, referrer_id)

    @require_roles(Role.ADMIN)
    @bank_blp.arguments(partial(ReferrerUpdateSchema))
    @bank_blp.response(200, ReferrerSchema)
    def patch(self, data, referrer_id):
        """Change a referrer (admins)."""
        referrer = services.update_referrer(get_visible_or_404(Referrer, referrer_id), data)
        db.session.commit()
        return referrer


# -- referrals --------------------------------------------------------------------------------------------

@referrals_blp.route("/referrals")
class Referrals(MethodView):
    @referrals_blp.arguments(ReferralArgs, location="query")
    @referrals_blp.response(200, page_envelope(ReferralSchema))
    def get(self, args):
        """List the referrals you may see (a referrer: their own), newest first."""
        return _page(scoped_select(Referral), Referral, args,
                     filters=("status", "referrer_id", "bank_branch_id", "specialist_agent_id"),
                     sorts={"submitted_at", "status"}, default="-submitted_at")

    @require_roles(Role.BANK_REFERRER, Role.BANCASSURANCE_SPECIALIST, Role.ADMIN)
    @referrals_blp.arguments(ReferralSchema)
    @referrals_blp.response(201, ReferralSchema)
    def post(self, data):
        """Submit a referral: bank referrers as themselves, specialists and admins for a referrer."""
        referral = services.submit_referral(data, actor=current_user())
        db.session.commit()
        return referral


@referrals_blp.route("/referrals/<int:referral_id>")
class ReferralItem(MethodView):
    @referrals_blp.response(200, ReferralSchema)
    def get(self, referral_id):
        """One referral."""
        return get_visible_or_404(Referral, referral_id)

    @require_roles(Role.BANCASSURANCE_SPECIALIST, Role.BRANCH_MANAGER, Role.ADMIN)
    @referrals_blp.arguments(ReferralUpdateSchema)
    @referrals_blp.response(200, ReferralSchema)
    def patch(self, data, referral_id):
        """Accept, reject, convert or assign a referral (specialists, branch managers, admins)."""
        referral = services.update_referral(get_visible_or_404(Referral, referral_id), data, actor=current_user())
        db.session.commit()
        return referral


# -- pipeline stages --------------------------------------------------------------------------------------

@stages_blp.route("/pipeline-stages")
class PipelineStages(MethodView):
    @stages_blp.arguments(PipelineStageArgs, location="query")
    @stages_blp.response(200, page_envelope(PipelineStageSchema))
    def get(self, args):
        """List pipeline stages in order; filter by product line ('default' for the default pipeline)."""
        stmt = scoped_select(PipelineStage)
        line = args.pop("product_line", None)
        if line is not None:
            stmt = stmt.where(PipelineStage.product_line.is_(None) if line == DEFAULT_PIPELINE
                              else PipelineStage.product_line == line)
        return _page(stmt, PipelineStage, args, filters=("active",), sorts={"position", "code", "name"},
                     default="position")

    @require_roles(Role.ADMIN)
    @stages_blp.arguments(PipelineStageSchema)
    @stages_blp.response(201, PipelineStageSchema)
    def post(self, data):
        """Add a stage to the default pipeline or to a product line's (admins)."""
        stage = pipeline.create_stage(data)
        db.session.commit()
        return stage


@stages_blp.route("/pipeline-stages/<int:stage_id>")
class PipelineStageItem(MethodView):
    @stages_blp.response(200, PipelineStageSchema)
    def get(self, stage_id):
        """One pipeline stage."""
        return get_visible_or_404(PipelineStage, stage_id)

    @require_roles(Role.ADMIN)
    @stages_blp.arguments(PipelineStageUpdateSchema)
    @stages_blp.response(200, PipelineStageSchema)
    def patch(self, data, stage_id):
        """Rename a stage or change its probability, position or limit in days (admins)."""
        stage = pipeline.update_stage(get_visible_or_404(PipelineStage, stage_id), data)
        db.session.commit()
        return stage
