"""A bank referrer's view of their referrals' progress (issue 10, point 9): submitted → accepted → in progress (the
opportunity's stage) → policy issued (its date) or not taken.

The referrer may read no opportunity and no policy (their scope is their referrals alone), so this module reads, for
referrals the caller has already loaded in the referrer's scope, exactly the facts the referrer may know: the stage's
name and whether the sale closed, and the issue date of the policy the referral became. Never a premium, a sum
insured, a product chosen or anything about the customer beyond what the referrer submitted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select

from agents.models import Opportunity, OpportunityStatus, PipelineStage, Referral, ReferralStatus
from insurecrm.db import db


class Step(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    ISSUED = "issued"
    NOT_TAKEN = "not_taken"


@dataclass(frozen=True)
class Progress:
    step: Step
    #: the opportunity's stage (``IN_PROGRESS``): an object with ``name`` and ``name_zh``
    stage: PipelineStage | None = None
    #: the policy's issue date (``ISSUED``)
    issued_on: date | None = None


def referral_progress(referrals: list[Referral]) -> dict[int, Progress]:
    """The progress of each of ``referrals`` (already in the reader's scope), by referral id, in two queries
    whatever their number. The latest opportunity of a referral decides (won with its policy: issued on the policy's
    issue date; lost: not taken; open: in progress at its stage); without one, a policy sold through the referrer to
    the policyholder the referral became counts as issued; otherwise the referral's own status (rejected: not
    taken). Refuses nothing."""
    from policies.models import Policy  # the policies domain imports agents' models: import late

    ids = [referral.id for referral in referrals]
    if not ids:
        return {}
    latest = select(func.max(Opportunity.id)).where(Opportunity.referral_id.in_(ids)).group_by(Opportunity.referral_id)
    opportunities = {row.referral_id: row for row in db.session.execute(
        select(Opportunity.referral_id, Opportunity.status, PipelineStage, Policy.issue_date)
        .join(PipelineStage, PipelineStage.id == Opportunity.stage_id)
        .outerjoin(Policy, Policy.id == Opportunity.policy_id)
        .where(Opportunity.id.in_(latest)))}
    issued = dict(db.session.execute(
        select(Referral.id, func.min(Policy.issue_date)).join(Policy, and_(
            Policy.policyholder_id == Referral.policyholder_id, Policy.referrer_id == Referral.referrer_id))
        .where(Referral.id.in_(ids)).group_by(Referral.id)).all())
    return {referral.id: _progress(referral, opportunities.get(referral.id), issued.get(referral.id))
            for referral in referrals}


def _progress(referral: Referral, opportunity, issued_on: date | None) -> Progress:
    if opportunity is not None:
        if opportunity.status == OpportunityStatus.WON and opportunity.issue_date is not None:
            return Progress(Step.ISSUED, issued_on=opportunity.issue_date)
        if opportunity.status == OpportunityStatus.LOST:
            return Progress(Step.NOT_TAKEN)
        if opportunity.status == OpportunityStatus.OPEN:
            return Progress(Step.IN_PROGRESS, stage=opportunity.PipelineStage)
    if issued_on is not None:
        return Progress(Step.ISSUED, issued_on=issued_on)
    if referral.status == ReferralStatus.REJECTED:
        return Progress(Step.NOT_TAKEN)
    if referral.status == ReferralStatus.SUBMITTED:
        return Progress(Step.SUBMITTED)
    return Progress(Step.ACCEPTED)
