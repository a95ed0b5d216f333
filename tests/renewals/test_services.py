"""policies.renewals: every rule of working a case, called as the API and the pages call it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from agents.models import AgentStatus
from insurecrm.errors import VersionConflict
from insurecrm.models import AuditLog
from insurecrm.scope import RoleForbidden
from policies import renewals
from policies.models import (
    BusinessType,
    Installment,
    LostReason,
    Policy,
    PolicyStatus,
    PremiumFrequency,
    RenewalCase,
    RenewalStatus,
)
from policies.models.approvals import ApprovalStatus, RenewalDiscountApproval
from policyholders.models import Interaction, InteractionChannel
from tests.renewals.conftest import NOW


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


def audit_rows(session, case) -> list[dict]:
    return [row.changes for row in session.scalars(select(AuditLog).where(
        AuditLog.entity_type == "renewal_cases", AuditLog.entity_id == case.id).order_by(AuditLog.id))]


# -- contacts -------------------------------------------------------------------------------------------------

def test_a_contact_goes_on_the_timeline_and_marks_the_case_contacted(org, renewal_case, session):
    case = renewal_case()
    interaction = renewals.log_contact(case, channel=InteractionChannel.PHONE, summary=" Called about renewal ",
                                       outcome="Will think", actor=org.agent_user, version=1)
    assert (interaction.policyholder_id, interaction.policy_id, interaction.agent_id, interaction.summary) == (
        case.policy.policyholder_id, case.policy_id, org.agent.id, "Called about renewal")
    assert (case.status, case.first_contacted_at, case.last_contacted_at, case.version) == (
        RenewalStatus.CONTACTED, NOW, NOW, 2)
    assert audit_rows(session, case)[-1]["status"] == ["open", "contacted"]

    renewals.log_contact(case, channel=InteractionChannel.SMS, summary="Reminder", actor=org.agent_user)
    assert case.status == RenewalStatus.CONTACTED and count(session, Interaction) == 2


@pytest.mark.parametrize("status", [RenewalStatus.RENEWED, RenewalStatus.LOST, RenewalStatus.LAPSED])
def test_a_closed_case_cannot_be_worked(org, renewal_case, status):
    case = renewal_case(case_status=status)
    calls = (
        lambda: renewals.log_contact(case, channel="phone", summary="x", actor=org.agent_user),
        lambda: renewals.quote(case, premium=Decimal("900"), actor=org.agent_user),
        lambda: renewals.renew(case, premium=Decimal("900"), actor=org.agent_user),
        lambda: renewals.lose(case, reason=LostReason.PRICE, actor=org.agent_user),
    )
    for call in calls:
        with pytest.raises(ValidationError) as refused:
            call()
        assert "status" in refused.value.messages


def test_a_stale_version_is_refused_and_changes_nothing(org, renewal_case, session):
    case = renewal_case()
    with pytest.raises(VersionConflict):
        renewals.log_contact(case, channel="phone", summary="x", actor=org.agent_user, version=0)
    with pytest.raises(VersionConflict):
        renewals.lose(case, reason=LostReason.PRICE, actor=org.agent_user, version=2)
    assert case.status == RenewalStatus.OPEN and count(session, Interaction) == 0


# -- quotes and approvals ----------------------------------------------------------------------------------------

def test_a_discount_within_the_limit_is_quoted_at_once(org, renewal_case, session):
    case = renewal_case()
    assert renewals.quote(case, premium=Decimal("900.00"), actor=org.agent_user, version=1) is None  # exactly 10%
    assert (case.status, case.quoted_premium) == (RenewalStatus.QUOTED, Decimal("900.00"))
    assert renewals.quote(case, premium=Decimal("1300.00"), actor=org.agent_user) is None  # an increase
    assert case.quoted_premium == Decimal("1300.00") and count(session, RenewalDiscountApproval) == 0


def test_a_discount_beyond_the_limit_waits_for_the_manager(org, renewal_case, session):
    case = renewal_case()
    approval = renewals.quote(case, premium=Decimal("899.99"), actor=org.agent_user, version=1)
    assert (approval.status, approval.premium, approval.current_premium, approval.discount, approval.max_discount,
            approval.requested_by_user_id) == (ApprovalStatus.PENDING, Decimal("899.99"), Decimal("1000.00"),
                                               Decimal("0.1000"), Decimal("0.1000"), org.agent_user.id)
    assert (case.status, case.quoted_premium, case.version) == (RenewalStatus.OPEN, None, 2)

    later = renewals.quote(case, premium=Decimal("800.00"), actor=org.agent_user, version=2)
    assert approval.status == ApprovalStatus.WITHDRAWN and later.status == ApprovalStatus.PENDING

    renewals.approve(later, actor=org.manager, note="Loyal customer")
    assert (later.status, later.decided_by_user_id, later.decided_at, later.decision_note) == (
        ApprovalStatus.APPROVED, org.manager.id, NOW, "Loyal customer")
    assert (case.status, case.quoted_premium) == (RenewalStatus.QUOTED, Decimal("800.00"))


def test_a_rejected_discount_leaves_the_previous_quote(org, renewal_case):
    case = renewal_case()
    renewals.quote(case, premium=Decimal("950.00"), actor=org.agent_user)
    approval = renewals.quote(case, premium=Decimal("700.00"), actor=org.agent_user)
    renewals.reject(approval, actor=org.admin, note="Too low")
    assert approval.status == ApprovalStatus.REJECTED and case.quoted_premium == Decimal("950.00")
    with pytest.raises(ValidationError) as refused:
        renewals.approve(approval, actor=org.admin)
    assert "status" in refused.value.messages


def test_a_managers_own_discount_is_approved_as_made(org, renewal_case):
    case = renewal_case()
    approval = renewals.quote(case, premium=Decimal("700.00"), actor=org.manager)
    assert (approval.status, approval.decided_by_user_id) == (ApprovalStatus.APPROVED, org.manager.id)
    assert (case.status, case.quoted_premium) == (RenewalStatus.QUOTED, Decimal("700.00"))


def test_only_a_manager_of_the_cases_subtree_or_an_admin_decides(org, renewal_case):
    approval = renewals.quote(renewal_case(), premium=Decimal("700.00"), actor=org.agent_user)
    for user in (org.agent_user, org.specialist_user, org.sibling_manager, org.actuary):
        with pytest.raises(RoleForbidden):
            renewals.approve(approval, actor=user)
        with pytest.raises(RoleForbidden):
            renewals.reject(approval, actor=user)
    assert approval.status == ApprovalStatus.PENDING
    with pytest.raises(VersionConflict):
        renewals.approve(approval, actor=org.manager, version=7)


def test_a_request_of_a_case_closed_meanwhile_cannot_be_approved(org, renewal_case):
    case = renewal_case()
    approval = renewals.quote(case, premium=Decimal("700.00"), actor=org.agent_user)
    case.status = RenewalStatus.LAPSED  # as the daily lapse job does
    with pytest.raises(ValidationError):
        renewals.approve(approval, actor=org.manager)
    renewals.reject(approval, actor=org.manager)
    assert approval.status == ApprovalStatus.REJECTED


def test_a_premium_of_zero_is_refused(org, renewal_case):
    case = renewal_case()
    with pytest.raises(ValidationError) as refused:
        renewals.quote(case, premium=Decimal("0"), actor=org.agent_user)
    assert "premium" in refused.value.messages


# -- renewed ---------------------------------------------------------------------------------------------------

def test_renewing_writes_the_linked_renewal_policy_with_its_schedule(org, renewal_case, session, make):
    case = renewal_case(frequency=PremiumFrequency.MONTHLY, premium=Decimal("100.00"))
    old = case.policy
    renewing = renewals.renew(case, premium=Decimal("95.00"), actor=org.agent_user, version=1)
    assert (renewing.business_type, renewing.renews_policy_id, renewing.policyholder_id, renewing.product_id,
            renewing.servicing_agent_id, renewing.frequency, renewing.status, renewing.sum_insured) == (
        BusinessType.RENEWAL, old.id, old.policyholder_id, old.product_id, org.agent.id, PremiumFrequency.MONTHLY,
        PolicyStatus.IN_FORCE, old.sum_insured)
    assert (renewing.effective_date, renewing.expiry_date, renewing.issue_date, renewing.premium) == (
        old.expiry_date, old.expiry_date.replace(year=old.expiry_date.year + 1), NOW.date(), Decimal("95.00"))
    installments = session.scalars(select(Installment).where(Installment.policy_id == renewing.id)
                                   .order_by(Installment.sequence)).all()
    assert len(installments) == 12 and installments[0].due_date == old.expiry_date
    assert all(item.amount == Decimal("95.00") for item in installments)
    assert [person.name for person in renewing.insured_persons] == [person.name for person in old.insured_persons]
    assert (case.status, case.renewing_policy_id, case.closed_at) == (RenewalStatus.RENEWED, renewing.id, NOW)
    assert old.renewed_by is renewing and old.status == PolicyStatus.IN_FORCE  # it runs to its expiry
    assert audit_rows(session, case)[-1]["status"] == ["open", "renewed"]
    assert session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.entity_type == "policies", AuditLog.entity_id == renewing.id)) == 1


def test_a_renewal_beyond_the_discount_limit_needs_an_approved_request(org, renewal_case, session):
    case = renewal_case()
    with pytest.raises(ValidationError) as refused:
        renewals.renew(case, premium=Decimal("850.00"), actor=org.agent_user)
    assert "premium" in refused.value.messages
    approval = renewals.quote(case, premium=Decimal("850.00"), actor=org.agent_user)
    with pytest.raises(ValidationError):  # pending is not approved
        renewals.renew(case, premium=Decimal("850.00"), actor=org.agent_user)
    renewals.approve(approval, actor=org.manager)
    with pytest.raises(ValidationError):  # below what was approved
        renewals.renew(case, premium=Decimal("849.99"), actor=org.agent_user)
    assert count(session, Policy, Policy.renews_policy_id == case.policy_id) == 0
    renewing = renewals.renew(case, premium=Decimal("860.00"), actor=org.agent_user)
    assert renewing.premium == Decimal("860.00") and case.status == RenewalStatus.RENEWED


def test_renewal_refusals(org, renewal_case, session, make):
    pooled = renewal_case(agent=make.agent(org.team, status=AgentStatus.INACTIVE))
    with pytest.raises(ValidationError) as refused:
        renewals.renew(pooled, premium=Decimal("1000.00"), actor=org.manager)
    assert "assigned_agent_id" in refused.value.messages
    case = renewal_case()
    with pytest.raises(ValidationError) as refused:
        renewals.renew(case, premium=Decimal("1000.00"), effective_date=case.due_date - timedelta(days=1),
                       actor=org.agent_user)
    assert "effective_date" in refused.value.messages
    with pytest.raises(VersionConflict):
        renewals.renew(case, premium=Decimal("1000.00"), actor=org.agent_user, version=5)
    assert case.status == RenewalStatus.OPEN and count(session, Policy, Policy.renews_policy_id.is_not(None)) == 0


def test_a_late_renewal_starts_later_and_renews_the_expired_policy(org, renewal_case):
    case = renewal_case(status=PolicyStatus.EXPIRED)
    start = case.due_date + timedelta(days=10)
    renewing = renewals.renew(case, premium=Decimal("1000.00"), effective_date=start, actor=org.agent_user)
    assert renewing.effective_date == start and case.policy.status == PolicyStatus.RENEWED


# -- lost ------------------------------------------------------------------------------------------------------

def test_a_lost_case_keeps_its_reason_and_withdraws_pending_requests(org, renewal_case):
    case = renewal_case()
    approval = renewals.quote(case, premium=Decimal("500.00"), actor=org.agent_user)
    renewals.lose(case, reason=LostReason.COMPETITOR, note=" Cheaper elsewhere ", actor=org.agent_user, version=2)
    assert (case.status, case.lost_reason, case.lost_note, case.closed_at) == (
        RenewalStatus.LOST, LostReason.COMPETITOR, "Cheaper elsewhere", NOW)
    assert approval.status == ApprovalStatus.WITHDRAWN


def test_other_needs_a_note(org, renewal_case):
    case = renewal_case()
    with pytest.raises(ValidationError) as refused:
        renewals.lose(case, reason=LostReason.OTHER, note="  ", actor=org.agent_user)
    assert "note" in refused.value.messages and case.status == RenewalStatus.OPEN
    renewals.lose(case, reason=LostReason.OTHER, note="Emigrated", actor=org.agent_user)
    assert case.lost_reason == LostReason.OTHER


# -- reassignment ------------------------------------------------------------------------------------------------

def test_a_manager_reassigns_cases_into_the_agents_unit(org, renewal_case, session, make):
    sub_team = make.org_unit(org.branch)
    newcomer = make.agent(sub_team)
    first, second = renewal_case(), renewal_case(org.colleague)
    moved = renewals.reassign([first.id, second.id, first.id], newcomer.id, actor=org.manager)
    assert [case.id for case in moved] == [first.id, second.id]
    for case in (first, second):
        assert (case.assigned_agent_id, case.org_unit_id) == (newcomer.id, sub_team.id)
        assert audit_rows(session, case)[-1]["assigned_agent_id"][1] == newcomer.id


def test_reassignment_refusals_change_nothing(org, renewal_case, session, make):
    mine, foreign = renewal_case(), renewal_case(org.other_agent)
    closed = renewal_case(case_status=RenewalStatus.LOST)
    inactive = make.agent(org.team, status=AgentStatus.INACTIVE)
    with pytest.raises(RoleForbidden):
        renewals.reassign([mine.id], org.colleague.id, actor=org.agent_user)
    for case_ids, agent_id, field in (([foreign.id, mine.id], org.colleague.id, "case_ids"),
                                      ([closed.id], org.colleague.id, "case_ids"),
                                      ([mine.id], inactive.id, "agent_id"),
                                      ([mine.id], org.other_agent.id, "agent_id"),  # outside the subtree
                                      ([], org.colleague.id, "case_ids")):
        with pytest.raises(ValidationError) as refused:
            renewals.reassign(case_ids, agent_id, actor=org.manager)
        assert field in refused.value.messages
    session.expire_all()
    assert session.get(RenewalCase, mine.id).assigned_agent_id == org.agent.id
    renewals.reassign([foreign.id, mine.id], org.other_agent.id, actor=org.admin)  # admins: anywhere
    assert mine.org_unit_id == org.sibling.id
