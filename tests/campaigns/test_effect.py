"""Campaign effectiveness (policyholders/campaigns/effect.py) and responses (responses.py): every figure by hand on
the small book, the last touch taking a conversion, the window's edges, the uplift over the control group and its
interval, responses by an inbound SMS and by a task, and the scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from agents.models import Activity, Opportunity, TaskReason
from insurecrm import clock
from insurecrm.models import Outbox, OutboxStatus
from policies.models import BusinessType, PolicyStatus, PremiumFrequency
from policyholders.campaigns.effect import effect_of
from policyholders.campaigns.models import CampaignChannel, CampaignKind, CampaignMember, MemberOutcome
from policyholders.campaigns.responses import responded_at_of, response_of
from policyholders.campaigns.runs import run_campaign
from policyholders.campaigns.uplift import uplift, wilson_interval
from policyholders.messaging.inbound import receive
from policyholders.messaging.models import MessageChannel
from tests.campaigns.conftest import ON

#: when the runs of these tests reach their members: 10:00 in Shanghai on the run's date
TOUCH = datetime(ON.year, ON.month, ON.day, 2, 0, tzinfo=UTC)


def run_at(campaign, day=ON, at=TOUCH):
    with clock.frozen(at):
        run = run_campaign(campaign, day)
    return run


def by_outcome(session, run) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for member in session.scalars(select(CampaignMember).where(CampaignMember.run_id == run.id)
                                  .order_by(CampaignMember.policyholder_id)):
        found.setdefault(member.outcome.value, []).append(member.policyholder_id)
    return found


def opportunity(make, holder_id, at: datetime) -> Opportunity:
    from policyholders.models import Policyholder

    holder = make.session.get(Policyholder, holder_id)
    stage = make.stage(position=10)
    return make._add(Opportunity(title="Health cover", policyholder_id=holder_id, owner_agent_id=holder.owner_agent_id,
                                 org_unit_id=holder.org_unit_id, stage_id=stage.id, probability=stage.probability,
                                 created_at=at))


def policy(make, holder_id, days_after: int, **kw):
    from policyholders.models import Policyholder

    issued = ON + timedelta(days=days_after)
    return make.policy(make.session.get(Policyholder, holder_id), issue_date=issued, effective_date=issued, **kw)


def the_effect(user, campaign):
    (found,) = effect_of(user, campaign.id)
    return found


def test_every_figure_of_a_run_by_hand(org, book, campaign_of, make, session):
    campaign = campaign_of(control_percent=20, conversion_window_days=30)
    run = run_at(campaign)
    session.commit()
    groups = by_outcome(session, run)
    control, sent = groups["control"], groups["sent"]
    not_reached = groups.get("no_consent", [])
    assert len(control) == 3 and len(sent) + len(not_reached) == 10
    # two messages went out (the others still queued), one answered
    session.execute(update(Outbox).where(Outbox.policyholder_id.in_(sent[:2])).values(status=OutboxStatus.SENT))
    session.execute(update(CampaignMember).where(CampaignMember.policyholder_id == sent[0])
                    .values(responded_at=TOUCH + timedelta(hours=1), response="Yes"))
    # sent[0]: an opportunity on day 3 and a monthly policy on day 5 — converted once, 12 × 100.00 won
    opportunity(make, sent[0], TOUCH + timedelta(days=3))
    policy(make, sent[0], 5, premium=Decimal("100.00"), frequency=PremiumFrequency.MONTHLY)
    # sent[1]: an opportunity on the window's last day; sent[2]: a policy the day after it
    opportunity(make, sent[1], TOUCH + timedelta(days=30, hours=10))
    policy(make, sent[2], 31)
    # sent[3]: a renewal and a mere quote are no new business; sent[4]: a policy issued the day before the message
    policy(make, sent[3], 2, business_type=BusinessType.RENEWAL)
    policy(make, sent[3], 2, status=PolicyStatus.QUOTED)
    policy(make, sent[4], -1)
    # a control member converts too (its premium is not won by the campaign)
    policy(make, control[0], 10, premium=Decimal("500.00"))
    session.commit()

    found = the_effect(org.manager, campaign)
    effect = found.effect
    assert (effect.members, effect.control, effect.treated) == (13, 3, 10)
    assert effect.reached == len(sent)
    assert (effect.delivered, effect.responded) == (2, 1)
    assert (effect.converted, effect.control_converted) == (2, 1)
    assert effect.premium_won == Decimal("1200.00")
    assert effect.cost == Decimal("0.10") * len(sent) == run.cost
    assert effect.cost_per_conversion == (Decimal("0.10") * len(sent) / 2).quantize(Decimal("0.01"))
    assert effect.uplift == uplift(2, 10, 1, 3)
    assert effect.uplift.difference == pytest.approx(0.2 - 1 / 3)
    assert [(item.run_id, item.effect) for item in found.runs] == [(run.id, effect)]


def test_a_member_not_reached_still_counts_for_the_treated(org, book, campaign_of, make, session):
    run = run_at(campaign_of(control_percent=0))
    session.commit()
    holder = book.no_sms.id
    assert holder in by_outcome(session, run)["no_consent"]
    policy(make, holder, 1)
    session.commit()
    (found,) = effect_of(org.manager)
    assert (found.effect.reached, found.effect.converted) == (10, 1)  # intention to treat


def test_a_conversion_goes_to_the_last_touch_whose_window_holds_it(org, book, campaign_of, make, session, app):
    app.config["CAMPAIGN_WEEKLY_CAP"] = 10
    first = campaign_of(name="First", conversion_window_days=30)
    second = campaign_of(name="Second", conversion_window_days=3)
    run_at(first)
    run_at(second, ON + timedelta(days=5), TOUCH + timedelta(days=5))
    session.commit()
    zero, one, two = (holder.id for holder in book.holders[:3])
    policy(make, zero, 7)  # after both touches, within the second's window: the second's alone
    policy(make, one, 3)  # before the second touch: the first's
    policy(make, two, 9)  # after the second's window closed, within the first's: the first's
    opportunity(make, zero, TOUCH + timedelta(days=5, hours=3))  # the second touch's own day: the second's
    session.commit()
    effects = {found.campaign.name: found.effect for found in effect_of(org.manager)}
    assert (effects["First"].converted, effects["Second"].converted) == (2, 1)
    assert effects["First"].premium_won == effects["Second"].premium_won * 2 == Decimal("2400.00")
    # the first alone: the second's touch still takes its conversions
    assert the_effect(org.manager, first).effect.converted == 2


@pytest.mark.parametrize(("days_after", "counted"), [(-1, False), (0, True), (7, True), (8, False)])
def test_the_window_edges(org, book, campaign_of, make, session, days_after, counted):
    run = run_at(campaign_of(conversion_window_days=7))
    session.commit()
    policy(make, by_outcome(session, run)["sent"][0], days_after)
    session.commit()
    assert effect_of(org.manager)[0].effect.converted == int(counted)


def test_the_uplift_interval_is_newcombes_hybrid_score():
    # Newcombe (1998), table II: method 10 on his examples (a), (b), (d) and (e)
    for args, low, high in [((56, 70, 48, 80), 0.0524, 0.3339), ((9, 10, 3, 10), 0.1705, 0.8090),
                            ((5, 56, 0, 29), -0.0381, 0.1926), ((0, 10, 0, 20), -0.1611, 0.2775)]:
        found = uplift(*args)
        assert (round(found.low, 4), round(found.high, 4)) == (low, high)
    assert uplift(56, 70, 48, 80).significant and not uplift(5, 56, 0, 29).significant
    assert uplift(3, 10, 0, 0) is None
    assert tuple(round(x, 4) for x in wilson_interval(81, 263)) == (0.2553, 0.3662)


def test_an_inbound_sms_answers_the_last_campaign_message_within_its_window(org, book, campaign_of, session):
    run = run_at(campaign_of(conversion_window_days=7))
    session.commit()
    holder = book.holders[0]
    sms = {"sender": holder.phone, "text": "Yes, call me about it " + "x" * 300}
    receive(MessageChannel.SMS, {**sms, "message_id": "m1", "received_at": TOUCH + timedelta(days=2)})
    receive(MessageChannel.SMS, {**sms, "message_id": "m2", "received_at": TOUCH + timedelta(days=3)})
    late = book.holders[2]
    receive(MessageChannel.SMS, {"sender": late.phone, "text": "Too late", "message_id": "m3",
                                 "received_at": TOUCH + timedelta(days=8)})
    session.commit()
    members = {m.policyholder_id: m for m in session.scalars(select(CampaignMember).where(
        CampaignMember.run_id == run.id))}
    assert members[holder.id].responded_at == TOUCH + timedelta(days=2)  # the first answer is kept
    assert members[holder.id].response.startswith("Yes, call me") and len(members[holder.id].response) == 255
    assert members[late.id].responded_at is None
    assert effect_of(org.manager)[0].effect.responded == 1


def test_a_campaign_task_completed_as_reached_is_a_response(org, book, campaign_of, session, api):
    run = run_at(campaign_of(channel=CampaignChannel.AGENT_TASK, kind=CampaignKind.RENEWAL))
    session.commit()
    tasks = session.scalars(select(Activity).where(Activity.reason == TaskReason.CAMPAIGN)
                            .order_by(Activity.policyholder_id)).all()
    for task, body in ((tasks[0], {"outcome": "reached", "note": "Wants a quote for health cover"}),
                       (tasks[1], {"outcome": "no_answer"})):
        assert api(org.agent_user).post(f"/api/v1/tasks/{task.id}/complete", json=body).status_code == 200
    session.commit()
    effect = effect_of(org.manager)[0].effect
    assert (effect.reached, effect.delivered, effect.responded) == (13, 2, 1)
    rows = session.execute(select(CampaignMember.policyholder_id, responded_at_of(), response_of())
                           .outerjoin(Activity, Activity.id == CampaignMember.activity_id)
                           .where(CampaignMember.run_id == run.id, CampaignMember.outcome == MemberOutcome.TASK)
                           .order_by(CampaignMember.policyholder_id)).all()
    answered = [row for row in rows if row[1] is not None]
    assert [(row[0], row[2]) for row in answered] == [(tasks[0].policyholder_id, "Wants a quote for health cover")]


def test_the_scope(org, book, campaign_of, session):
    campaign = campaign_of()
    run_at(campaign)
    session.commit()
    assert [found.campaign.id for found in effect_of(org.admin)] == [campaign.id]
    assert [found.campaign.id for found in effect_of(org.actuary)] == [campaign.id]
    assert effect_of(org.sibling_manager) == []
    assert effect_of(org.sibling_manager, campaign.id) == []


def test_an_email_reply_is_a_response_and_an_opt_out_is_not(org, book, campaign_of, session):
    run = run_at(campaign_of(channel=CampaignChannel.EMAIL))
    session.commit()
    replying, leaving = book.holders[0], book.holders[2]
    receive(MessageChannel.EMAIL, {"sender": f"Li <{replying.email.upper()}>", "subject": "Re: Hello",
                                   "text": "Tell me more", "message_id": "e1",
                                   "received_at": TOUCH + timedelta(days=1)})
    receive(MessageChannel.SMS, {"sender": leaving.phone, "text": "TD", "message_id": "s1",
                                 "received_at": TOUCH + timedelta(days=1)})
    session.commit()
    answered = {m.policyholder_id: m.response for m in session.scalars(select(CampaignMember).where(
        CampaignMember.run_id == run.id, CampaignMember.responded_at.is_not(None)))}
    assert answered == {replying.id: "Re: Hello: Tell me more"}
