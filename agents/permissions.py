"""Who may see the organisation, agents, the bancassurance records and the pipeline."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select

from agents.models import (
    Activity,
    Agent,
    BankBranch,
    BankPartner,
    Opportunity,
    OpportunityTeamMember,
    OrgUnit,
    PipelineStage,
    Referral,
    Referrer,
)
from insurecrm.models import Role, User
from insurecrm.scope import by_role, everything, org_subtree_condition, register, specialist_partner_ids

INTERNAL = (Role.ADMIN, Role.ACTUARY, Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST)


def _internal_reference(model):
    """Reference data every internal role may read (the organisation, partners, stages)."""

    @register(model)
    def rule(user: User) -> ColumnElement[bool]:
        return by_role(user, {role: (lambda: everything(user)) for role in INTERNAL})

    return rule


for _model in (OrgUnit, BankPartner, BankBranch, PipelineStage):
    _internal_reference(_model)


@register(Agent)
def agent_rule(user: User) -> ColumnElement[bool]:
    """Agents and specialists see themselves and the colleagues of their own unit; managers their subtree."""
    own_unit = select(Agent.org_unit_id).where(Agent.id == user.agent_id).scalar_subquery()
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: org_subtree_condition(Agent.org_unit_id, user),
        Role.AGENT: lambda: Agent.org_unit_id == own_unit,
        Role.BANCASSURANCE_SPECIALIST: lambda: Agent.org_unit_id == own_unit,
    })


@register(Referrer)
def referrer_rule(user: User) -> ColumnElement[bool]:
    partner_branches = select(BankBranch.id).where(BankBranch.bank_partner_id.in_(specialist_partner_ids(user)))
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: Referrer.bank_branch_id.in_(
            select(BankBranch.id).where(org_subtree_condition(BankBranch.org_unit_id, user))
        ),
        Role.BANCASSURANCE_SPECIALIST: lambda: Referrer.bank_branch_id.in_(partner_branches),
        Role.BANK_REFERRER: lambda: Referrer.id == user.referrer_id,
    })


@register(Referral)
def referral_rule(user: User) -> ColumnElement[bool]:
    """Referrers see only the referrals they submitted; specialists their partners'; managers their subtree's."""
    partner_branches = select(BankBranch.id).where(BankBranch.bank_partner_id.in_(specialist_partner_ids(user)))
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: Referral.bank_branch_id.in_(
            select(BankBranch.id).where(org_subtree_condition(BankBranch.org_unit_id, user))
        ),
        Role.AGENT: lambda: Referral.specialist_agent_id == user.agent_id,
        Role.BANCASSURANCE_SPECIALIST: lambda: or_(
            Referral.bank_branch_id.in_(partner_branches), Referral.specialist_agent_id == user.agent_id
        ),
        Role.BANK_REFERRER: lambda: Referral.referrer_id == user.referrer_id,
    })


@register(Opportunity)
def opportunity_rule(user: User) -> ColumnElement[bool]:
    team = select(OpportunityTeamMember.opportunity_id).where(OpportunityTeamMember.agent_id == user.agent_id)
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: org_subtree_condition(Opportunity.org_unit_id, user),
        Role.AGENT: lambda: or_(Opportunity.owner_agent_id == user.agent_id, Opportunity.id.in_(team)),
        Role.BANCASSURANCE_SPECIALIST: lambda: or_(
            Opportunity.owner_agent_id == user.agent_id,
            Opportunity.id.in_(team),
            Opportunity.bank_partner_id.in_(specialist_partner_ids(user)),
        ),
    })


@register(Activity)
def activity_rule(user: User) -> ColumnElement[bool]:
    """Agents and specialists see the activities (and tasks) assigned to them; managers those of their subtree —
    its pool among them — and any task assigned to them by name."""
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: or_(org_subtree_condition(Activity.org_unit_id, user),
                                         Activity.assignee_user_id == user.id),
        Role.AGENT: lambda: Activity.agent_id == user.agent_id,
        Role.BANCASSURANCE_SPECIALIST: lambda: Activity.agent_id == user.agent_id,
    })
