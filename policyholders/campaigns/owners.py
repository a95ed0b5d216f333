"""Who owns a campaign, handing it over, and telling someone when it stops because its owner left.

A campaign's segment is read in its owner's scope (:mod:`policyholders.campaigns.runs`), so its owner is someone
who could have made it for its unit: an active admin, or an active branch manager leading the campaign's unit or a
unit above it (:func:`may_own`). A campaign whose owner no longer is one — deactivated, given another role, moved
to another branch — does not run. An admin, or a branch manager who may see the campaign, hands it over to someone
who may own it (:func:`hand_over`, audited as the campaign's other changes); its runs and effectiveness stay with
it. When the daily job meets such an active campaign, it plans one task for the manager leading its unit
(:func:`tell_the_unit`).

A built-in campaign (``system_key``) has no owner: its own job runs it over the whole book. It is never handed over.
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, and_, exists, literal, or_, select
from sqlalchemy.orm import aliased

from agents.models import ActivityKind, OrgUnit, Priority, TaskReason
from insurecrm.db import db
from insurecrm.models import Role, User
from insurecrm.services import check_version
from policyholders.campaigns.models import Campaign, CampaignStatus
from policyholders.tasks import plan_tasks, task_exists, task_row, unit_manager

#: the source key of the task telling that a campaign stopped: once per campaign and owner who left
STOPPED_KEY = "campaign_stopped:campaign={campaign}:owner={owner}"


def may_own(unit_id) -> ColumnElement[bool]:
    """SQL over ``User``: the user could own a campaign of the unit ``unit_id`` (a value or a column; ``None``, a
    campaign of no unit, only an admin may own) — active, and an admin or a branch manager leading that unit or one
    above it."""
    lead, unit = aliased(OrgUnit), aliased(OrgUnit)
    # correlated with the enclosing query's users (and campaigns, when ``unit_id`` is their column)
    leads_it = (exists().where(lead.id == User.org_unit_id, unit.id == unit_id, unit.path.startswith(lead.path))
                .correlate_except(lead, unit))
    return and_(User.active.is_(True),
                or_(User.role == Role.ADMIN, and_(User.role == Role.BRANCH_MANAGER, leads_it)))


def possible_owners(campaign: Campaign) -> list[User]:
    """The users ``campaign`` may be handed over to, by name (its owner among them while they may keep it)."""
    return list(db.session.scalars(select(User).where(may_own(campaign.org_unit_id))
                                   .order_by(User.display_name, User.id)))


def owner_may_keep(campaign: Campaign) -> bool:
    """Whether ``campaign``'s owner may still own it (one query)."""
    return campaign.owner_user_id is not None and db.session.scalar(
        select(User.id).where(User.id == campaign.owner_user_id, may_own(campaign.org_unit_id))) is not None


def stopped() -> ColumnElement[bool]:
    """SQL over ``Campaign``: active, not built-in, and its owner may no longer keep it — it does not run."""
    return and_(Campaign.status == CampaignStatus.ACTIVE, Campaign.system_key.is_(None),
                ~exists().where(User.id == Campaign.owner_user_id, may_own(Campaign.org_unit_id)))


def hand_over(campaign: Campaign, owner_user_id: int, *, version: int | None) -> bool:
    """Give ``campaign`` to the user ``owner_user_id`` (``version`` as loaded: stale → 409); whether its owner
    changed. Refuses (422 on ``owner_user_id``) a built-in campaign, and a user who may not own it (:func:`may_own`):
    inactive, an agent or the actuary, or a branch manager of another branch."""
    check_version(campaign, version)
    if campaign.system_key is not None:
        raise ValidationError({"owner_user_id": [gettext("A built-in campaign has no owner: its own job runs it over "
                                                         "the whole book.")]})
    if db.session.scalar(select(User.id).where(User.id == owner_user_id, may_own(campaign.org_unit_id))) is None:
        raise ValidationError({"owner_user_id": [gettext("Choose an active admin, or an active branch manager of the "
                                                         "campaign's branch or of a branch above it.")]})
    if owner_user_id == campaign.owner_user_id:
        return False
    campaign.owner_user_id = owner_user_id
    db.session.flush()
    return True


def tell_the_unit(campaign: Campaign, day: date) -> int:
    """Plan a task saying that ``campaign`` stopped on ``day`` because its owner may no longer keep it: for the
    active branch manager leading its unit or the nearest unit above (else the unit's pool), once per campaign and
    owner who left (:data:`STOPPED_KEY`), however many days the job meets it; how many tasks were made (0 or 1). A
    campaign of no unit (only admins own one) gets none: admins have no task list, and the Campaigns page shows
    them every stopped campaign. Flushes; the caller commits."""
    if campaign.org_unit_id is None:
        return 0
    key = literal(STOPPED_KEY.format(campaign=campaign.id, owner=campaign.owner_user_id or "none"))
    rows = select(*task_row(
        source_key=key, reason=TaskReason.CAMPAIGN_STOPPED, kind=ActivityKind.OTHER, priority=Priority.HIGH,
        subject=campaign.name[:200],
        description=f"The active campaign “{campaign.name}” stopped on {day.isoformat()}: its owner is no longer "
                    f"active, or no longer manages its branch. Open it (/campaigns/{campaign.id}) and hand it over "
                    f"to an active manager or admin, or end it.",
        due=day, agent_id=None, assignee_user_id=unit_manager(literal(campaign.org_unit_id)),
        org_unit_id=literal(campaign.org_unit_id), policyholder_id=None, contact_name=None)).where(~task_exists(key))
    return plan_tasks(rows)


def campaign_of_task(source_key: str | None) -> int | None:
    """The campaign a task of :func:`tell_the_unit` is about, from its source key."""
    prefix = "campaign_stopped:campaign="
    if not source_key or not source_key.startswith(prefix):
        return None
    number = source_key.removeprefix(prefix).split(":", 1)[0]
    return int(number) if number.isdigit() else None
