"""Who may see which segments: their owner; the branch manager above the owner's unit; admins. Actuaries (no
personal data, and segments exist to reach people) and bank referrers have no segments (403)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_

from insurecrm.models import Role, User
from insurecrm.scope import by_role, everything, org_subtree_condition, register
from policyholders.segments.models import Segment


@register(Segment)
def segment_rule(user: User) -> ColumnElement[bool]:
    """Agents and specialists: their own segments; managers: theirs and those made in their subtree; admins: all."""
    own = Segment.owner_user_id == user.id
    return by_role(user, {
        Role.ADMIN: lambda: everything(user),
        Role.BRANCH_MANAGER: lambda: or_(own, org_subtree_condition(Segment.org_unit_id, user)),
        Role.AGENT: lambda: own,
        Role.BANCASSURANCE_SPECIALIST: lambda: own,
    })
