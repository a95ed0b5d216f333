"""Who may see which policyholders and the records hanging off a policyholder."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_

from insurecrm.models import Role, User
from insurecrm.scope import by_role, everything, org_subtree_condition, register, specialist_partner_ids, visible_ids
from policyholders.models import (
    Campaign,
    Interaction,
    Policyholder,
    PolicyholderRelationship,
    ServiceRequest,
)


@register(Policyholder)
def policyholder_rule(user: User) -> ColumnElement[bool]:
    """Agents: the policyholders they own; specialists: also those acquired through their bank
    partners; managers: their subtree; actuary (pseudonymised) and admin: all; referrers: none (403)."""
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: org_subtree_condition(Policyholder.org_unit_id, user),
        Role.AGENT: lambda: Policyholder.owner_agent_id == user.agent_id,
        Role.BANCASSURANCE_SPECIALIST: lambda: or_(
            Policyholder.owner_agent_id == user.agent_id,
            Policyholder.bank_partner_id.in_(specialist_partner_ids(user)),
        ),
    })


def _via_policyholder(model, column):
    @register(model)
    def rule(user: User) -> ColumnElement[bool]:
        return column.in_(visible_ids(Policyholder, user))

    return rule


_via_policyholder(Interaction, Interaction.policyholder_id)
_via_policyholder(ServiceRequest, ServiceRequest.policyholder_id)
_via_policyholder(PolicyholderRelationship, PolicyholderRelationship.from_policyholder_id)


@register(Campaign)
def campaign_rule(user: User) -> ColumnElement[bool]:
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.ACTUARY: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: or_(Campaign.org_unit_id.is_(None),
                                         org_subtree_condition(Campaign.org_unit_id, user)),
    })
