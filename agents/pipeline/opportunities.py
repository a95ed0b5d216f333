"""Opportunities (销售机会): created from a policyholder, a prospect, a referral or a campaign response, moved
through the stages of their pipeline, won into a policy or lost with a reason from the admins' list.

Every function here validates, changes and flushes; the caller commits. A refusal is a
:class:`marshmallow.ValidationError` (422, messages by field) or a :class:`~insurecrm.errors.VersionConflict`
(409); nothing is written before every check has passed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from marshmallow import ValidationError
from sqlalchemy import Select, and_, exists, false, insert, or_, select
from sqlalchemy.orm import Session

from agents.models import (
    Agent,
    AgentStatus,
    Attitude,
    BankBranch,
    Competitor,
    Influencer,
    InfluencerRole,
    Opportunity,
    OpportunityLossReason,
    OpportunityProduct,
    OpportunitySource,
    OpportunityStageChange,
    OpportunityStatus,
    OpportunityTeamMember,
    PipelineStage,
    Referral,
    ReferralStatus,
)
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role, User
from insurecrm.scope import scoped_select, visible
from insurecrm.services import apply_changes, check_version
from policies.models import BusinessType, Policy, PolicyStatus, PremiumFrequency, Product, SalesChannel
from policyholders.duplicates import Candidate, likely_duplicates
from policyholders.models import AcquisitionChannel, Policyholder

Errors = dict[str, list[str]]

#: roles that own the opportunities they create (managers and admins name the owner)
SELLING_ROLES = frozenset({Role.AGENT, Role.BANCASSURANCE_SPECIALIST})
#: roles that work opportunities (the actuary and the bank referrer have no business with them)
PIPELINE_ROLES = (Role.ADMIN, Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST)
#: a team member's role on the deal; the owner is always the one lead
TEAM_ROLES = ("lead", "member", "technical", "support")
LEAD = "lead"
#: the most products an opportunity names, and the most members of its team
MAX_PRODUCTS, MAX_TEAM = 20, 30
#: a referral is turned into at most one opportunity still open or won
WORKABLE_REFERRALS = (ReferralStatus.SUBMITTED, ReferralStatus.ACCEPTED)

# (code, name, 中文名): the loss reasons a fresh database starts with; admins rename, add and deactivate
_LOSS_REASONS = (("price", "Price", "价格"), ("competitor", "Competitor", "竞争对手"),
                 ("no_need", "No need", "没有需求"), ("no_budget", "No budget", "没有预算"),
                 ("timing", "Timing", "时机不对"), ("other", "Other", "其他"))
DEFAULT_LOSS_REASONS: tuple[dict, ...] = tuple(
    {"code": code, "name": name, "name_zh": name_zh, "position": position, "active": True}
    for position, (code, name, name_zh) in enumerate(_LOSS_REASONS, start=1))


def ensure_default_loss_reasons(session: Session) -> int:
    """Insert :data:`DEFAULT_LOSS_REASONS` when the list is empty; returns how many rows were inserted. An
    existing (perhaps edited) list is never touched."""
    if session.scalar(select(OpportunityLossReason.id).limit(1)) is not None:
        return 0
    session.execute(insert(OpportunityLossReason), [dict(reason) for reason in DEFAULT_LOSS_REASONS])
    return len(DEFAULT_LOSS_REASONS)


# -- stages ----------------------------------------------------------------------------------------------

def _same_pipeline(product_line: str | None):
    return PipelineStage.product_line.is_(None) if product_line is None else PipelineStage.product_line == product_line


def pipeline_stages(product_line: str | None) -> list[PipelineStage]:
    """The active stages of one pipeline (the default one for ``None``), in order, the closing ones included."""
    return list(db.session.scalars(select(PipelineStage).where(_same_pipeline(product_line),
                                                               PipelineStage.active.is_(True))
                                   .order_by(PipelineStage.position, PipelineStage.id)))


def open_stages(product_line: str | None) -> list[PipelineStage]:
    """The stages an open opportunity of that pipeline may be moved to (neither won nor lost)."""
    return [stage for stage in pipeline_stages(product_line) if not stage.is_won and not stage.is_lost]


def _line_of(product_ids: list[int]) -> str | None:
    """The pipeline of a new opportunity: its products' line when they share one that has a pipeline of its own,
    else the default pipeline."""
    lines = set(db.session.scalars(select(Product.line).where(Product.id.in_(product_ids)))) if product_ids else set()
    if len(lines) != 1:
        return None
    line = str(lines.pop())
    has_own = db.session.scalar(select(exists().where(PipelineStage.product_line == line,
                                                      PipelineStage.active.is_(True))))
    return line if has_own else None


def _closing_stage(opportunity: Opportunity, *, won: bool) -> PipelineStage | None:
    flag = PipelineStage.is_won if won else PipelineStage.is_lost
    for line in dict.fromkeys((opportunity.stage.product_line, None)):
        stage = db.session.scalar(select(PipelineStage).where(_same_pipeline(line), flag.is_(True),
                                                              PipelineStage.active.is_(True))
                                  .order_by(PipelineStage.position, PipelineStage.id).limit(1))
        if stage is not None:
            return stage
    return None


def _enter(opportunity: Opportunity, stage: PipelineStage, actor: User | None) -> None:
    """Put the opportunity in ``stage`` now, with the stage's probability, and record the change."""
    now = clock.now()
    opportunity.stage_changes.append(OpportunityStageChange(from_stage_id=opportunity.stage_id, to_stage_id=stage.id,
                                                            changed_at=now, actor_user_id=actor.id if actor else None))
    opportunity.stage, opportunity.stage_id = stage, stage.id
    opportunity.stage_entered_at, opportunity.probability = now, stage.probability


# -- create and change -----------------------------------------------------------------------------------

def referral_candidates(referral: Referral, *, user: User) -> list[Candidate]:
    """The policyholders on file that may be the referred person (same phone), as the intake's duplicate check
    finds them: those the user may not see come back without their data."""
    return likely_duplicates({"phone": referral.prospect_phone, "name": referral.prospect_name}, user=user)


def create_opportunity(data: dict, *, actor: User) -> Opportunity:
    """Create an opportunity for a policyholder of the actor's book, a prospect (name, phone) or a referral.

    From a referral (``referral_id``): the source is ``referral``, the bank partner that of the referral's
    branch, the prospect's name, phone and product those of the referral unless given; the referral becomes
    accepted and gets the owner as its specialist. The stage is the first open stage of the pipeline of the
    products' line (the default pipeline otherwise) unless an open ``stage_id`` is given; the probability is the
    stage's. The owner (the actor for agents and specialists; named by managers and admins) leads the team.

    Refuses (422, every problem at once): no policyholder and no prospect name, a policyholder, referral,
    owner or stage the actor may not see or use, a referral already worked into an opportunity or closed, an
    agent naming another owner, products not active, team members not active agents, a second lead or a member
    named twice.
    """
    data = dict(data)
    errors: Errors = {}
    referral = _referral(data, actor, errors)
    owner = _owner(data.get("owner_agent_id"), actor, errors)
    _check_person(data, actor, errors)
    product_ids = list(dict.fromkeys(data.get("product_ids") or []))
    if referral is not None and referral.product_id and not product_ids:
        product_ids = [referral.product_id]
    errors |= _product_errors(product_ids)
    stage = _start_stage(data.get("stage_id"), product_ids, errors)
    team = _team(data.get("team"), owner, errors) if owner else []
    _refuse(errors)
    opportunity = Opportunity(
        title=data["title"], description=data.get("description"), policyholder_id=data.get("policyholder_id"),
        prospect_name=data.get("prospect_name"), prospect_phone=data.get("prospect_phone"),
        owner_agent_id=owner.id, org_unit_id=owner.org_unit_id, stage_id=stage.id, stage=stage,
        probability=stage.probability, expected_premium=data.get("expected_premium") or Decimal("0"),
        expected_close_date=data.get("expected_close_date"), source=data.get("source") or OpportunitySource.OTHER,
        is_group_deal=data.get("is_group_deal", False), stage_entered_at=clock.now(),
    )
    if referral is not None:
        opportunity.source, opportunity.referral_id = OpportunitySource.REFERRAL, referral.id
        opportunity.bank_partner_id = db.session.get(BankBranch, referral.bank_branch_id).bank_partner_id
        referral.status = ReferralStatus.ACCEPTED
        referral.specialist_agent_id = referral.specialist_agent_id or owner.id
    opportunity.products = [OpportunityProduct(product_id=product_id) for product_id in product_ids]
    opportunity.team = [OpportunityTeamMember(agent_id=agent_id, role=role) for agent_id, role in team]
    opportunity.stage_changes = [OpportunityStageChange(
        from_stage_id=None, to_stage_id=stage.id, changed_at=opportunity.stage_entered_at, actor_user_id=actor.id)]
    db.session.add(opportunity)
    db.session.flush()
    return opportunity


#: what :func:`update_opportunity` may change; the stage moves through :func:`move_stage`, the close through
#: :func:`win` and :func:`lose`
UPDATABLE = ("title", "description", "policyholder_id", "prospect_name", "prospect_phone", "expected_premium",
             "expected_close_date", "source", "is_group_deal", "product_ids", "team")


def update_opportunity(opportunity: Opportunity, data: dict, *, actor: User) -> Opportunity:
    """Change an open opportunity's title, description, policyholder or prospect, products, expected premium
    and close date, source, team or group-deal flag.

    Refuses a stale ``version`` (409); (422) a closed opportunity, a policyholder the actor may not see, a
    prospect left with neither a policyholder nor a name, inactive products, and what :func:`create_opportunity`
    refuses of a team. A referral's source stays ``referral``.
    """
    data = dict(data)
    check_version(opportunity, data.pop("version", None))
    errors: Errors = _open_errors(opportunity)
    if "source" in data and opportunity.referral_id and data["source"] != OpportunitySource.REFERRAL:
        errors["source"] = ["An opportunity from a referral keeps the source referral."]
    merged = {key: data.get(key, getattr(opportunity, key)) for key in ("policyholder_id", "prospect_name")}
    if "policyholder_id" in data or "prospect_name" in data:
        _check_person(merged, actor, errors)
    product_ids = list(dict.fromkeys(data.pop("product_ids"))) if "product_ids" in data else None
    if product_ids is not None:
        errors |= _product_errors(product_ids)
    team = None
    if "team" in data:
        team = _team(data.pop("team"), db.session.get(Agent, opportunity.owner_agent_id), errors)
    _refuse(errors)
    apply_changes(opportunity, {key: value for key, value in data.items() if key in UPDATABLE})
    if product_ids is not None:
        opportunity.products = [OpportunityProduct(product_id=product_id) for product_id in product_ids]
    if team is not None:
        opportunity.team = [OpportunityTeamMember(agent_id=agent_id, role=role) for agent_id, role in team]
    db.session.flush()
    return opportunity


def _referral(data: dict, actor: User, errors: Errors) -> Referral | None:
    if data.get("referral_id") is None:
        return None
    referral = db.session.scalar(scoped_select(Referral, actor).where(Referral.id == data["referral_id"]))
    if referral is None:
        errors["referral_id"] = ["No such referral among yours."]
        return None
    if referral.status not in WORKABLE_REFERRALS:
        errors["referral_id"] = [f"A {referral.status} referral is closed."]
    elif db.session.scalar(select(exists().where(Opportunity.referral_id == referral.id,
                                                 Opportunity.status != OpportunityStatus.LOST))):
        errors["referral_id"] = ["The referral is already worked in an opportunity."]
    data.setdefault("prospect_name", referral.prospect_name)
    data.setdefault("prospect_phone", referral.prospect_phone)
    return referral


def _owner(agent_id: int | None, actor: User, errors: Errors) -> Agent | None:
    if actor.role in SELLING_ROLES:
        if agent_id is not None and agent_id != actor.agent_id:
            errors["owner_agent_id"] = ["You create opportunities of your own; add colleagues to the team."]
        agent_id = actor.agent_id
    if agent_id is None:
        errors["owner_agent_id"] = ["Name the agent who owns the opportunity."]
        return None
    agent = db.session.scalar(scoped_select(Agent, actor).where(Agent.id == agent_id))
    if agent is None or agent.status != AgentStatus.ACTIVE:
        errors["owner_agent_id"] = ["No such active agent."]
        return None
    return agent


def _check_person(data: dict, actor: User, errors: Errors) -> None:
    holder_id = data.get("policyholder_id")
    if holder_id is not None:
        if not db.session.scalar(select(exists().where(Policyholder.id == holder_id,
                                                       visible(Policyholder, actor)))):
            errors["policyholder_id"] = ["No such policyholder in your book."]
    elif not data.get("prospect_name"):
        errors["prospect_name"] = ["Name the prospect, or choose a policyholder."]


def _product_errors(product_ids: list[int]) -> Errors:
    if len(product_ids) > MAX_PRODUCTS:
        return {"product_ids": [f"At most {MAX_PRODUCTS} products."]}
    found = set(db.session.scalars(select(Product.id).where(Product.id.in_(product_ids), Product.active.is_(True))))
    missing = [str(product_id) for product_id in product_ids if product_id not in found]
    return {"product_ids": [f"No such active product: {', '.join(missing)}."]} if missing else {}


def _start_stage(stage_id: int | None, product_ids: list[int], errors: Errors) -> PipelineStage | None:
    if stage_id is not None:
        stage = db.session.get(PipelineStage, stage_id)
        if stage is None or not stage.active or stage.is_won or stage.is_lost:
            errors["stage_id"] = ["Choose an open stage; win or lose an opportunity once it exists."]
        return stage
    stages = open_stages(_line_of(product_ids))
    if not stages:
        errors["stage_id"] = ["The pipeline has no open stage: ask an admin to set the stages."]
        return None
    return stages[0]


def _team(entries: list[dict] | None, owner: Agent, errors: Errors) -> list[tuple[int, str]]:
    """The team as (agent id, role) pairs, the owner first as the lead."""
    team, seen = [(owner.id, LEAD)], {owner.id}
    problems = []
    for entry in entries or []:
        agent_id, role = entry["agent_id"], entry.get("role") or "member"
        if agent_id == owner.id:
            continue  # the owner is on the team as its lead, whatever the form said
        if agent_id in seen:
            problems.append(f"Agent {agent_id} is named twice.")
        elif role == LEAD:
            problems.append("The team has one lead: the opportunity's owner.")
        seen.add(agent_id)
        team.append((agent_id, role))
    if len(team) > MAX_TEAM:
        problems.append(f"At most {MAX_TEAM} members.")
    active = set(db.session.scalars(select(Agent.id).where(Agent.id.in_(seen), Agent.status == AgentStatus.ACTIVE)))
    if missing := sorted(seen - active):
        problems.append(f"No such active agent: {', '.join(map(str, missing))}.")
    if problems:
        errors["team"] = problems
    return team


def _open_errors(opportunity: Opportunity) -> Errors:
    if opportunity.status != OpportunityStatus.OPEN:
        return {"status": [f"The opportunity is {opportunity.status}: a closed opportunity is history."]}
    return {}


def _refuse(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


# -- moving, winning, losing -----------------------------------------------------------------------------

def move_stage(opportunity: Opportunity, stage: PipelineStage | None, *, actor: User) -> Opportunity:
    """Move an open opportunity to another open stage of its pipeline, with that stage's probability; the change
    is recorded with its time and actor and the time in the stage starts again.

    Refuses (422) a closed opportunity, an unknown or inactive stage, a stage of another pipeline, the stage it
    is in, and the won or lost stage (win or lose it instead, with what those need).
    """
    errors = _open_errors(opportunity)
    if stage is None or not stage.active or stage.product_line != opportunity.stage.product_line:
        errors["stage_id"] = ["No such active stage in the opportunity's pipeline."]
    elif stage.is_won or stage.is_lost:
        errors["stage_id"] = ["Win or lose the opportunity instead, with the policy or the reason."]
    elif stage.id == opportunity.stage_id:
        errors["stage_id"] = ["The opportunity is in this stage already."]
    _refuse(errors)
    _enter(opportunity, stage, actor)
    db.session.flush()
    return opportunity


#: the four terms of a new policy that a win needs (a saved quote may give them)
POLICY_TERMS = ("product_id", "sum_insured", "premium", "frequency")


def win(opportunity: Opportunity, *, actor: User, policy_id: int | None = None, product_id: int | None = None,
        sum_insured: Decimal | None = None, premium: Decimal | None = None, frequency: str | None = None,
        effective_date: date | None = None) -> Policy:
    """Win an open opportunity into a policy: link an existing policy of its policyholder (``policy_id``), or
    create one through :func:`policies.services.create_policy` from the product, sum insured, modal premium and
    frequency (a saved quote's values), effective ``effective_date`` (today by default), serviced by the owner.
    A policy from a referral carries the bancassurance channel, the bank partner, bank branch and referrer; the
    referral becomes converted into the policyholder. The opportunity moves to its pipeline's won stage (100%),
    won, closed now.

    Refuses (422) a closed opportunity, a prospect not yet a policyholder, a policy that is not a visible policy
    of the policyholder or is already another opportunity's, missing terms, a pipeline without a won stage, and
    whatever ``create_policy`` refuses.
    """
    from policies.services import create_policy  # the policies domain imports agents' models: import late

    errors = _open_errors(opportunity)
    if opportunity.policyholder_id is None:
        errors["policyholder_id"] = ["The prospect is not a policyholder yet: create or choose the policyholder."]
    stage = _closing_stage(opportunity, won=True)
    if stage is None:
        errors["stage_id"] = ["The pipeline has no won stage: ask an admin to set the stages."]
    terms = dict(zip(POLICY_TERMS, (product_id, sum_insured, premium, frequency), strict=True))
    if policy_id is None:
        errors |= {key: ["Required to write the policy (or choose an existing policy)."]
                   for key, value in terms.items() if value is None}
    _refuse(errors)
    if policy_id is not None:
        policy = _linkable_policy(opportunity, policy_id, actor)
    else:
        terms["frequency"] = PremiumFrequency(frequency)
        policy = create_policy({**terms, "policyholder_id": opportunity.policyholder_id,
                                "effective_date": effective_date or clock.today(), "status": PolicyStatus.IN_FORCE,
                                "business_type": BusinessType.NEW, **_sale_fields(opportunity)}, user=actor)
    _enter(opportunity, stage, actor)
    opportunity.status, opportunity.closed_at, opportunity.policy_id = OpportunityStatus.WON, clock.now(), policy.id
    referral = db.session.get(Referral, opportunity.referral_id) if opportunity.referral_id else None
    if referral is not None and referral.status in WORKABLE_REFERRALS:
        referral.status, referral.policyholder_id = ReferralStatus.CONVERTED, opportunity.policyholder_id
    db.session.flush()
    return policy


def _linkable_policy(opportunity: Opportunity, policy_id: int, actor: User) -> Policy:
    policy = db.session.scalar(scoped_select(Policy, actor).where(Policy.id == policy_id))
    if policy is None or policy.policyholder_id != opportunity.policyholder_id:
        raise ValidationError({"policy_id": ["No such policy of the opportunity's policyholder."]})
    if db.session.scalar(select(exists().where(Opportunity.policy_id == policy_id, Opportunity.id != opportunity.id))):
        raise ValidationError({"policy_id": ["Another opportunity was won into this policy."]})
    return policy


def _sale_fields(opportunity: Opportunity) -> dict:
    """The servicing agent and the channel of the policy a win writes: a referral's bank attribution."""
    fields: dict = {"servicing_agent_id": opportunity.owner_agent_id} if opportunity.owner_agent_id else {}
    owner = db.session.get(Agent, opportunity.owner_agent_id) if opportunity.owner_agent_id else None
    referral = db.session.get(Referral, opportunity.referral_id) if opportunity.referral_id else None
    if referral is not None:
        partner_id = db.session.get(BankBranch, referral.bank_branch_id).bank_partner_id
        return fields | {"channel": SalesChannel.BANCASSURANCE, "bank_partner_id": partner_id,
                         "bank_branch_id": referral.bank_branch_id, "referrer_id": referral.referrer_id}
    if opportunity.bank_partner_id is not None:
        return fields | {"channel": SalesChannel.BANCASSURANCE, "bank_partner_id": opportunity.bank_partner_id}
    channel = SalesChannel(owner.channel.value) if owner is not None and owner.channel != "bancassurance" else None
    return fields | {"channel": channel or SalesChannel.AGENCY}


def lose(opportunity: Opportunity, *, reason_id: int, note: str | None = None, actor: User) -> Opportunity:
    """Lose an open opportunity with a reason from the admins' list (and a note): it moves to its pipeline's lost
    stage (0%), lost, closed now.

    Refuses (422) a closed opportunity, an unknown or inactive reason and a pipeline without a lost stage.
    """
    errors = _open_errors(opportunity)
    reason = db.session.get(OpportunityLossReason, reason_id)
    if reason is None or not reason.active:
        errors["reason_id"] = ["Choose a reason from the list."]
    stage = _closing_stage(opportunity, won=False)
    if stage is None:
        errors["stage_id"] = ["The pipeline has no lost stage: ask an admin to set the stages."]
    _refuse(errors)
    _enter(opportunity, stage, actor)
    opportunity.status, opportunity.closed_at = OpportunityStatus.LOST, clock.now()
    opportunity.loss_reason_id, opportunity.won_lost_reason = reason.id, note
    db.session.flush()
    return opportunity


def make_policyholder(opportunity: Opportunity, data: dict, *, actor: User) -> Policyholder:
    """Create the policyholder a prospect is (the person's fields as the policyholders API takes them) and link
    the opportunity to them: acquired through bancassurance from the referrer for a referral's prospect. Refuses
    (422) an opportunity that already has its policyholder or is closed, and whatever
    :func:`policyholders.services.create_policyholder` refuses."""
    from policyholders.services import create_policyholder

    errors = _open_errors(opportunity)
    if opportunity.policyholder_id is not None:
        errors["policyholder_id"] = ["The opportunity has its policyholder already."]
    _refuse(errors)
    data = dict(data)
    referral = db.session.get(Referral, opportunity.referral_id) if opportunity.referral_id else None
    if referral is not None:
        data |= {"acquisition_channel": AcquisitionChannel.BANCASSURANCE, "referrer_id": referral.referrer_id}
    if actor.role not in SELLING_ROLES:
        data.setdefault("owner_agent_id", opportunity.owner_agent_id)
    holder = create_policyholder(data, actor=actor)
    opportunity.policyholder_id = holder.id
    db.session.flush()
    return holder


# -- influencers (CUTE) and competitors --------------------------------------------------------------------

def add_influencer(opportunity: Opportunity, data: dict) -> Influencer:
    """Add a person who sways the decision (coach, user, technical or economic buyer) with their attitude."""
    influencer = Influencer(**data)
    opportunity.influencers.append(influencer)
    db.session.flush()
    return influencer


def update_influencer(influencer: Influencer, data: dict) -> Influencer:
    """Change an influencer's name, title, role, attitude or notes."""
    apply_changes(influencer, data)
    db.session.flush()
    return influencer


def add_competitor(opportunity: Opportunity, data: dict) -> Competitor:
    """Add a competitor with its SWOT and its five scores against us (−2 … +2)."""
    competitor = Competitor(**data)
    opportunity.competitors.append(competitor)
    db.session.flush()
    return competitor


def update_competitor(competitor: Competitor, data: dict) -> Competitor:
    """Change a competitor's name, SWOT or scores."""
    apply_changes(competitor, data)
    db.session.flush()
    return competitor


def remove(opportunity: Opportunity, record: Influencer | Competitor) -> None:
    """Remove an influencer or a competitor from the opportunity."""
    collection = opportunity.influencers if isinstance(record, Influencer) else opportunity.competitors
    collection.remove(record)
    db.session.flush()


def cute_warnings(influencers: list[Influencer]) -> list[str]:
    """What the detail page warns of: ``no_economic_buyer`` when none is known, ``economic_buyer_opposed``
    when one of them is an opponent."""
    buyers = [person for person in influencers if person.role == InfluencerRole.ECONOMIC_BUYER]
    if not buyers:
        return ["no_economic_buyer"]
    return ["economic_buyer_opposed"] if any(person.attitude == Attitude.OPPONENT for person in buyers) else []


# -- loss reasons ------------------------------------------------------------------------------------------

def create_loss_reason(data: dict) -> OpportunityLossReason:
    """Add a loss reason at the end of the list; refuses a code already used (422)."""
    if db.session.scalar(select(exists().where(OpportunityLossReason.code == data["code"]))):
        raise ValidationError({"code": [f"The list has a reason {data['code']} already."]})
    last = db.session.scalar(select(OpportunityLossReason.position).order_by(OpportunityLossReason.position.desc())
                             .limit(1)) or 0
    reason = OpportunityLossReason(**{"position": last + 1, **data})
    db.session.add(reason)
    db.session.flush()
    return reason


def update_loss_reason(reason: OpportunityLossReason, data: dict) -> bool:
    """Rename, reorder, deactivate or reactivate a loss reason (its code stays: lost opportunities name it);
    returns whether anything changed."""
    changed = apply_changes(reason, data)
    db.session.flush()
    return bool(changed)


# -- lists -------------------------------------------------------------------------------------------------

#: the sort keys of the list and the API: name → column
SORTS = {"title": Opportunity.title, "expected_premium": Opportunity.expected_premium,
         "expected_close_date": Opportunity.expected_close_date, "probability": Opportunity.probability,
         "created_at": Opportunity.created_at, "updated_at": Opportunity.updated_at,
         "stage": PipelineStage.position, "status": Opportunity.status}
DEFAULT_SORT = "expected_close_date"


def filtered(user: User, args: dict) -> Select:
    """``SELECT Opportunity`` (joined to its stage) in the user's scope, filtered by ``stage_id``, ``status``,
    ``owner_agent_id``, ``source``, ``close_month`` (a date in the month of the expected close) and ``q``
    (title or prospect's name contains): the page, its CSV and XLSX, the API and the funnel's drill-down."""
    stmt = scoped_select(Opportunity, user).join(PipelineStage, PipelineStage.id == Opportunity.stage_id)
    for key in ("stage_id", "status", "owner_agent_id", "source"):
        if args.get(key) is not None:
            stmt = stmt.where(getattr(Opportunity, key) == args[key])
    if (month := args.get("close_month")) is not None:
        first = month.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        stmt = stmt.where(Opportunity.expected_close_date >= first, Opportunity.expected_close_date < following)
    if args.get("q"):
        stmt = stmt.where(or_(Opportunity.title.icontains(args["q"], autoescape=True),
                              Opportunity.prospect_name.icontains(args["q"], autoescape=True)))
    return stmt


def sorted_by(stmt: Select, sort: str | None) -> Select:
    """Order by ``sort`` (a key of :data:`SORTS`, ``-`` for descending); 422 for another key."""
    key = sort or DEFAULT_SORT
    column = SORTS.get(key.lstrip("-"))
    if column is None:
        raise ValidationError({"sort": [f"Cannot sort by '{key.lstrip('-')}'. Allowed: {', '.join(sorted(SORTS))}."]})
    ordered = column.desc() if key.startswith("-") else column.asc()
    return stmt.order_by(ordered.nulls_last(), Opportunity.id)


# -- my day --------------------------------------------------------------------------------------------------

def _mine(user: User):
    team = select(OpportunityTeamMember.opportunity_id).where(OpportunityTeamMember.agent_id == user.agent_id)
    return and_(Opportunity.status == OpportunityStatus.OPEN,
                or_(Opportunity.owner_agent_id == user.agent_id, Opportunity.id.in_(team)))


def closing_this_week(user: User, today: date) -> Select:
    """The user's open opportunities (owned or on the team) expected to close by the end of this week (Sunday),
    those past their date among them."""
    sunday = today + timedelta(days=6 - today.weekday())
    return scoped_select(Opportunity, user).where(_mine(user), Opportunity.expected_close_date <= sunday)


def past_stage_limit(user: User, now: datetime) -> Select:
    """The user's open opportunities that have stayed in their stage longer than its limit (``max_days``). The
    limits are read first (a handful of stages), so that the comparison is plain SQL on both databases."""
    limits = db.session.execute(select(PipelineStage.id, PipelineStage.max_days)
                                .where(PipelineStage.max_days.is_not(None))).all()
    stale = or_(false(), *(and_(Opportunity.stage_id == stage_id,
                                Opportunity.stage_entered_at < now - timedelta(days=days))
                           for stage_id, days in limits))
    return scoped_select(Opportunity, user).where(_mine(user), stale)
