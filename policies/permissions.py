"""Who may see which products, policies and the records hanging off a policy."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select

from insurecrm.models import Role, User
from insurecrm.scope import by_role, everything, org_subtree_condition, register, specialist_partner_ids, visible_ids
from policies.models import Claim, Commission, Installment, Payment, Policy, Product, RenewalCase
from policyholders.models import Policyholder

register(Product)(everything)


@register(Policy)
def policy_rule(user: User) -> ColumnElement[bool]:
    """Agents: policies they service or whose policyholder they own; specialists: also their bank
    partners' policies; managers: their subtree; actuary and admin: all."""
    own_holders = select(Policyholder.id).where(Policyholder.owner_agent_id == user.agent_id)
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: org_subtree_condition(Policy.org_unit_id, user),
        Role.AGENT: lambda: or_(Policy.servicing_agent_id == user.agent_id, Policy.policyholder_id.in_(own_holders)),
        Role.BANCASSURANCE_SPECIALIST: lambda: or_(
            Policy.servicing_agent_id == user.agent_id,
            Policy.policyholder_id.in_(own_holders),
            Policy.bank_partner_id.in_(specialist_partner_ids(user)),
        ),
    })


def _via_policy(model):
    @register(model)
    def rule(user: User) -> ColumnElement[bool]:
        return model.policy_id.in_(visible_ids(Policy, user))

    rule.__name__ = f"{model.__name__.lower()}_rule"
    return rule


for _model in (Installment, Payment, Claim, Commission):
    _via_policy(_model)


@register(RenewalCase)
def renewal_case_rule(user: User) -> ColumnElement[bool]:
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: org_subtree_condition(RenewalCase.org_unit_id, user),
        Role.AGENT: lambda: RenewalCase.assigned_agent_id == user.agent_id,
        Role.BANCASSURANCE_SPECIALIST: lambda: or_(
            RenewalCase.assigned_agent_id == user.agent_id, RenewalCase.policy_id.in_(visible_ids(Policy, user))
        ),
    })
