"""Opportunities' services: creation from a policyholder, a prospect or a referral, stage moves with their
history, the win into a policy (with the bank attribution of a referral) and the loss with a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from agents.models import (
    AgentChannel,
    Attitude,
    Influencer,
    InfluencerRole,
    Opportunity,
    OpportunityLossReason,
    OpportunitySource,
    OpportunityStageChange,
    OpportunityStatus,
    PipelineStage,
    ReferralStatus,
)
from agents.pipeline import opportunities as svc
from agents.pipeline.stages import ensure_default_stages
from insurecrm import clock
from insurecrm.models import Role
from policies.models import Policy, SalesChannel


@pytest.fixture
def book(make, session, tree):
    """An agent and a specialist (stationed at a bank partner) in team A1; a referral of that partner's branch;
    the default stages and loss reasons."""
    ensure_default_stages(session)
    svc.ensure_default_loss_reasons(session)
    session.commit()
    agent = make.agent(tree.team_a1)
    specialist = make.agent(tree.team_a1, channel=AgentChannel.BANCASSURANCE)
    partner = make.bank_partner()
    specialist.bank_partners.append(partner)
    session.commit()
    branch = make.bank_branch(partner, org_unit=tree.branch_a)
    referrer = make.referrer(branch)
    product = make.product()
    referral = make.referral(referrer, prospect_name="Wang Fang", prospect_phone="+8613900001111",
                             product_id=product.id)
    stages = {stage.code: stage for stage in session.scalars(select(PipelineStage))}
    return SimpleNamespace(
        agent=agent, specialist=specialist, partner=partner, branch=branch, referrer=referrer, product=product,
        referral=referral, stages=stages,
        agent_user=make.user(Role.AGENT, agent_id=agent.id),
        specialist_user=make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=specialist.id),
        manager=make.user(Role.BRANCH_MANAGER, org_unit_id=tree.branch_a.id),
        holder=make.policyholder(owner=agent, phone="+8613900002222"),
    )


def _reason(session, code: str) -> OpportunityLossReason:
    return session.scalar(select(OpportunityLossReason).where(OpportunityLossReason.code == code))


def test_default_loss_reasons_are_seeded_once(session):
    assert svc.ensure_default_loss_reasons(session) == 6
    assert svc.ensure_default_loss_reasons(session) == 0
    codes = session.scalars(select(OpportunityLossReason.code).order_by(OpportunityLossReason.position)).all()
    assert codes == ["price", "competitor", "no_need", "no_budget", "timing", "other"]


def test_create_for_a_policyholder_starts_at_the_first_stage_with_its_probability(book, session):
    opp = svc.create_opportunity({"title": "Family health", "policyholder_id": book.holder.id,
                                  "expected_premium": Decimal("3600.00"), "product_ids": [book.product.id]},
                                 actor=book.agent_user)
    assert opp.stage.code == "initial_contact" and opp.probability == Decimal("5")
    assert opp.owner_agent_id == book.agent.id and opp.org_unit_id == book.agent.org_unit_id
    assert [(m.agent_id, m.role) for m in opp.team] == [(book.agent.id, "lead")]
    history = session.scalars(select(OpportunityStageChange).where(
        OpportunityStageChange.opportunity_id == opp.id)).all()
    assert [(h.from_stage_id, h.to_stage_id, h.actor_user_id) for h in history] == [
        (None, opp.stage_id, book.agent_user.id)]


def test_create_refuses_everything_wrong_at_once_and_writes_nothing(book, session, make, count):
    other = make.agent(make.org_unit())  # another company: not in the agent's scope
    before = count(Opportunity)
    with pytest.raises(ValidationError) as refused:
        svc.create_opportunity({"title": "x", "owner_agent_id": other.id, "product_ids": [999999],
                                "team": [{"agent_id": book.specialist.id, "role": "lead"}]}, actor=book.agent_user)
    assert set(refused.value.messages) == {"owner_agent_id", "prospect_name", "product_ids", "team"}
    session.rollback()
    assert count(Opportunity) == before


def test_a_manager_names_the_owner_and_a_group_deal_has_one_lead(book):
    opp = svc.create_opportunity({"title": "Group cover", "prospect_name": "ACME Ltd", "owner_agent_id": book.agent.id,
                                  "is_group_deal": True,
                                  "team": [{"agent_id": book.specialist.id, "role": "technical"}]},
                                 actor=book.manager)
    assert opp.is_group_deal and opp.owner_agent_id == book.agent.id
    assert sorted((m.agent_id, m.role) for m in opp.team) == sorted(
        [(book.agent.id, "lead"), (book.specialist.id, "technical")])
    with pytest.raises(ValidationError) as refused:
        svc.create_opportunity({"title": "No owner", "prospect_name": "X"}, actor=book.manager)
    assert "owner_agent_id" in refused.value.messages


def test_create_from_a_referral_takes_its_prospect_product_and_bank(book, session):
    opp = svc.create_opportunity({"title": "Referral", "referral_id": book.referral.id}, actor=book.specialist_user)
    assert opp.source == OpportunitySource.REFERRAL and opp.referral_id == book.referral.id
    assert (opp.prospect_name, opp.prospect_phone) == ("Wang Fang", "+8613900001111")
    assert opp.bank_partner_id == book.partner.id
    assert [p.product_id for p in opp.products] == [book.product.id]
    assert book.referral.status == ReferralStatus.ACCEPTED
    assert book.referral.specialist_agent_id == book.specialist.id
    with pytest.raises(ValidationError) as again:
        svc.create_opportunity({"title": "Twice", "referral_id": book.referral.id}, actor=book.specialist_user)
    assert again.value.messages == {"referral_id": ["The referral is already worked in an opportunity."]}


def test_referral_candidates_find_the_person_by_phone(book, make):
    same = make.policyholder(owner=book.specialist, phone="+8613900001111")
    found = svc.referral_candidates(book.referral, user=book.specialist_user)
    assert [(c.id, c.reasons, c.visible) for c in found] == [(same.id, ["phone"], True)]


def test_move_records_each_change_with_time_actor_and_probability(book, session):
    opp = svc.create_opportunity({"title": "Moves", "policyholder_id": book.holder.id}, actor=book.agent_user)
    entered = opp.stage_entered_at
    svc.move_stage(opp, book.stages["needs_identified"], actor=book.agent_user)
    svc.move_stage(opp, book.stages["interest_shown"], actor=book.manager)
    assert opp.probability == Decimal("15") and opp.stage_entered_at >= entered
    history = session.execute(select(OpportunityStageChange.from_stage_id, OpportunityStageChange.to_stage_id,
                                     OpportunityStageChange.actor_user_id)
                              .where(OpportunityStageChange.opportunity_id == opp.id)
                              .order_by(OpportunityStageChange.id)).all()
    s = book.stages
    assert [tuple(row) for row in history] == [
        (None, s["initial_contact"].id, book.agent_user.id),
        (s["initial_contact"].id, s["needs_identified"].id, book.agent_user.id),
        (s["needs_identified"].id, s["interest_shown"].id, book.manager.id)]


@pytest.mark.parametrize("code", ["signed", "lost", "interest_shown_twice"])
def test_move_refuses_closing_stages_and_the_current_one(book, code):
    opp = svc.create_opportunity({"title": "Moves", "policyholder_id": book.holder.id}, actor=book.agent_user)
    target = book.stages["initial_contact"] if code == "interest_shown_twice" else book.stages[code]
    with pytest.raises(ValidationError) as refused:
        svc.move_stage(opp, target, actor=book.agent_user)
    assert "stage_id" in refused.value.messages


def test_a_won_referral_writes_a_bancassurance_policy_and_converts_the_referral(book, session, make):
    holder = make.policyholder(owner=book.specialist, phone="+8613900001111")
    opp = svc.create_opportunity({"title": "Referral", "referral_id": book.referral.id, "policyholder_id": holder.id},
                                 actor=book.specialist_user)
    svc.move_stage(opp, book.stages["verbal_yes"], actor=book.specialist_user)
    policy = svc.win(opp, actor=book.specialist_user, product_id=book.product.id, sum_insured=Decimal("200000.00"),
                     premium=Decimal("1500.00"), frequency="annual")
    assert (policy.channel, policy.bank_partner_id, policy.bank_branch_id, policy.referrer_id) == (
        SalesChannel.BANCASSURANCE, book.partner.id, book.branch.id, book.referrer.id)
    assert (policy.policyholder_id, policy.premium, policy.sum_insured) == (
        holder.id, Decimal("1500.00"), Decimal("200000.00"))
    assert policy.servicing_agent_id == book.specialist.id and policy.effective_date == clock.today()
    assert opp.status == OpportunityStatus.WON and opp.stage.code == "signed"
    assert opp.probability == Decimal("100") and opp.policy_id == policy.id and opp.closed_at is not None
    assert (book.referral.status, book.referral.policyholder_id) == (ReferralStatus.CONVERTED, holder.id)
    with pytest.raises(ValidationError) as closed:
        svc.move_stage(opp, book.stages["interest_shown"], actor=book.specialist_user)
    assert "status" in closed.value.messages


def test_win_refuses_a_prospect_and_missing_terms(book, session, count):
    opp = svc.create_opportunity({"title": "Prospect", "prospect_name": "Li Lei"}, actor=book.agent_user)
    policies = count(Policy)
    with pytest.raises(ValidationError) as refused:
        svc.win(opp, actor=book.agent_user, product_id=book.product.id)
    assert set(refused.value.messages) == {"policyholder_id", "sum_insured", "premium", "frequency"}
    assert count(Policy) == policies and opp.status == OpportunityStatus.OPEN


def test_win_links_an_existing_policy_of_the_policyholder_only(book, make):
    own = make.policy(book.holder)
    stranger = make.policy(make.policyholder(owner=book.agent))
    opp = svc.create_opportunity({"title": "Link", "policyholder_id": book.holder.id}, actor=book.agent_user)
    with pytest.raises(ValidationError) as refused:
        svc.win(opp, actor=book.agent_user, policy_id=stranger.id)
    assert "policy_id" in refused.value.messages
    assert svc.win(opp, actor=book.agent_user, policy_id=own.id) is own
    assert opp.policy_id == own.id and opp.status == OpportunityStatus.WON


def test_a_prospect_becomes_a_policyholder_then_wins_with_the_bank_attribution(book, session):
    opp = svc.create_opportunity({"title": "Referral", "referral_id": book.referral.id}, actor=book.specialist_user)
    holder = svc.make_policyholder(opp, {"name": "Wang Fang", "phone": "+8613900001111"}, actor=book.specialist_user)
    assert opp.policyholder_id == holder.id and holder.referrer_id == book.referrer.id
    assert holder.owner_agent_id == book.specialist.id
    policy = svc.win(opp, actor=book.specialist_user, product_id=book.product.id, sum_insured=Decimal("1000.00"),
                     premium=Decimal("100.00"), frequency="annual")
    assert policy.referrer_id == book.referrer.id and book.referral.policyholder_id == holder.id


def test_lose_needs_an_active_reason_from_the_list(book, session):
    opp = svc.create_opportunity({"title": "Lost", "policyholder_id": book.holder.id}, actor=book.agent_user)
    timing = _reason(session, "timing")
    timing.active = False
    with pytest.raises(ValidationError) as refused:
        svc.lose(opp, reason_id=timing.id, actor=book.agent_user)
    assert "reason_id" in refused.value.messages
    svc.lose(opp, reason_id=_reason(session, "price").id, note="Cheaper elsewhere", actor=book.agent_user)
    assert (opp.status, opp.stage.code, opp.probability) == (OpportunityStatus.LOST, "lost", Decimal("0"))
    assert opp.loss_reason.code == "price" and opp.won_lost_reason == "Cheaper elsewhere"


def test_update_refuses_a_stale_version_and_a_closed_opportunity(book, session):
    from insurecrm.errors import VersionConflict

    opp = svc.create_opportunity({"title": "Edit", "policyholder_id": book.holder.id}, actor=book.agent_user)
    session.flush()
    svc.update_opportunity(opp, {"version": opp.version, "title": "Edited", "expected_premium": Decimal("10.00")},
                           actor=book.agent_user)
    assert opp.title == "Edited"
    with pytest.raises(VersionConflict):
        svc.update_opportunity(opp, {"version": opp.version - 1, "title": "Stale"}, actor=book.agent_user)
    svc.lose(opp, reason_id=_reason(session, "other").id, actor=book.agent_user)
    session.flush()
    with pytest.raises(ValidationError) as closed:
        svc.update_opportunity(opp, {"version": opp.version, "title": "Late"}, actor=book.agent_user)
    assert "status" in closed.value.messages


@pytest.mark.parametrize(("people", "warnings"), [
    ([], ["no_economic_buyer"]),
    ([(InfluencerRole.COACH, Attitude.SUPPORTER)], ["no_economic_buyer"]),
    ([(InfluencerRole.ECONOMIC_BUYER, Attitude.NEUTRAL)], []),
    ([(InfluencerRole.ECONOMIC_BUYER, Attitude.SUPPORTER), (InfluencerRole.ECONOMIC_BUYER, Attitude.OPPONENT)],
     ["economic_buyer_opposed"]),
])
def test_cute_warnings(people, warnings):
    influencers = [Influencer(name="p", role=role, attitude=attitude) for role, attitude in people]
    assert svc.cute_warnings(influencers) == warnings


def test_filters_by_close_month_text_and_status(book, session):
    made = {}
    for title, close in (("Dec deal", date(2026, 12, 31)), ("Jan deal", date(2027, 1, 1)), ("Nov deal", None)):
        made[title] = svc.create_opportunity({"title": title, "policyholder_id": book.holder.id,
                                              "expected_close_date": close}, actor=book.agent_user)
    ids = lambda args: [o.id for o in session.scalars(svc.sorted_by(svc.filtered(book.agent_user, args), None))]  # noqa: E731
    assert ids({"close_month": date(2026, 12, 1)}) == [made["Dec deal"].id]
    assert ids({"q": "jan"}) == [made["Jan deal"].id]
    assert ids({"status": OpportunityStatus.OPEN}) == [made["Dec deal"].id, made["Jan deal"].id, made["Nov deal"].id]
    assert ids({"status": OpportunityStatus.WON}) == []


def test_my_day_lists_closing_this_week_and_past_the_stage_limit(book, session, make):
    today = date(2026, 12, 9)  # a Wednesday: the week ends on Sunday 13 December
    now = datetime(2026, 12, 9, 12, tzinfo=UTC)
    other_agent_holder = make.policyholder(owner=book.specialist)
    rows = {}
    for title, close in (("overdue", date(2026, 12, 1)), ("sunday", date(2026, 12, 13)),
                         ("monday", date(2026, 12, 14))):
        rows[title] = svc.create_opportunity({"title": title, "policyholder_id": book.holder.id,
                                              "expected_close_date": close}, actor=book.agent_user)
    theirs = svc.create_opportunity({"title": "theirs", "policyholder_id": other_agent_holder.id,
                                     "expected_close_date": date(2026, 12, 10)}, actor=book.specialist_user)
    # initial contact allows 14 days: entered 15 days ago is stale, 13 days ago is not
    rows["overdue"].stage_entered_at = now - timedelta(days=15)
    rows["sunday"].stage_entered_at = now - timedelta(days=13)
    theirs.stage_entered_at = now - timedelta(days=30)
    session.flush()
    closing = {o.title for o in session.scalars(svc.closing_this_week(book.agent_user, today))}
    stale = {o.title for o in session.scalars(svc.past_stage_limit(book.agent_user, now))}
    assert closing == {"overdue", "sunday"}
    assert stale == {"overdue"}
    count = session.scalar(select(func.count()).select_from(svc.past_stage_limit(book.specialist_user, now)
                                                            .subquery()))
    assert count == 1
