"""A campaign's run (policyholders/campaigns/runs.py): its members fixed when it starts — the segment in the owner's
scope, a control group held out, and each other member sent a message or a task, or not reached and why (no
consent or contact, the weekly cap, the budget); once per campaign and date, whatever reruns or schedulers; the
messages worded from the campaign's message in each policyholder's language."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from agents.models import Activity, TaskReason
from insurecrm.models import Outbox
from insurecrm.outbox.rendering import previews
from policyholders.campaigns.models import (
    CampaignChannel,
    CampaignKind,
    CampaignMember,
    CampaignRun,
    CampaignSchedule,
    CampaignStatus,
    Holiday,
    MemberOutcome,
)
from policyholders.campaigns.runs import CampaignNotRunnable, run_campaign, run_due
from policyholders.campaigns.wording import word_outbox_row
from tests.campaigns.conftest import ON


def outcomes(session, run) -> dict[int, str]:
    return {member.policyholder_id: member.outcome.value for member in session.scalars(
        select(CampaignMember).where(CampaignMember.run_id == run.id))}


def test_a_run_holds_out_the_control_group_and_reaches_only_those_who_consented(book, campaign_of, session):
    campaign = campaign_of(control_percent=10)
    run = run_campaign(campaign, ON)
    session.commit()
    found = outcomes(session, run)
    assert book.outside.id not in found  # the sibling branch: outside the manager's scope
    assert len(found) == 13
    assert list(found.values()).count("control") == 1  # 10% of 13, rounded
    assert found.get(book.no_sms.id) in ("no_consent", "control")
    assert found.get(book.no_marketing.id) in ("no_consent", "control")  # a cross-sell is marketing
    assert found.get(book.no_phone.id) in ("no_consent", "control")
    sent = [holder for holder, outcome in found.items() if outcome == "sent"]
    assert len(sent) == 13 - 1 - sum(1 for h in (book.no_sms, book.no_marketing, book.no_phone)
                                     if found[h.id] == "no_consent")
    rows = session.scalars(select(Outbox).where(Outbox.kind == "campaign")).all()
    assert sorted(row.policyholder_id for row in rows) == sorted(sent)
    assert {row.channel.value for row in rows} == {"sms"}
    assert run.counts["members"] == 13 and run.counts["sent"] == len(sent)
    assert run.cost == Decimal("0.10") * len(sent)
    members = session.scalars(select(CampaignMember).where(CampaignMember.outcome == MemberOutcome.SENT)).all()
    assert all(member.outbox_id is not None for member in members)


def test_the_message_is_worded_in_the_policyholders_language(book, campaign_of, session):
    run = run_campaign(campaign_of(), ON)
    session.commit()
    by_holder = {row.policyholder_id: row for row in session.scalars(select(Outbox).where(Outbox.kind == "campaign"))}
    chinese, english = book.holders[1], book.holders[0]
    assert word_outbox_row(by_holder[chinese.id]) == ("您好", "客户1您好，欢迎咨询健康险。\n")
    assert word_outbox_row(by_holder[english.id])[1].startswith("Dear 客户0, ask us")
    assert previews(session, [by_holder[english.id]])[by_holder[english.id].id][0] == "Hello"
    assert run.status.value == "done"


def test_a_run_is_once_per_campaign_and_date(book, campaign_of, session):
    campaign = campaign_of()
    first = run_campaign(campaign, ON)
    session.commit()
    again = run_campaign(campaign, ON)
    session.commit()
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(CampaignMember)) == 13
    assert session.scalar(select(func.count()).select_from(Outbox)) == first.counts["sent"]


def test_a_crashed_run_is_finished_by_the_next_attempt_without_doubles(book, campaign_of, session, monkeypatch):
    from policyholders.campaigns import runs

    campaign = campaign_of(control_percent=20)
    monkeypatch.setattr(runs, "BATCH", 5)
    real_reach, calls = runs._reach, []

    def crash_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the host went down")
        return real_reach(*args)

    monkeypatch.setattr(runs, "_reach", crash_on_second)
    with pytest.raises(RuntimeError):
        run_campaign(campaign, ON)
    session.commit()  # the first batch was written (as a job's batch commit would)
    first_members = outcomes(session, session.scalars(select(CampaignRun)).one())
    monkeypatch.setattr(runs, "_reach", real_reach)
    run = run_campaign(campaign, ON)
    session.commit()
    found = outcomes(session, run)
    assert len(found) == 13 and {k: found[k] for k in first_members} == first_members
    assert list(found.values()).count("control") == 3  # the same draw: 20% of 13
    assert session.scalar(select(func.count()).select_from(Outbox)) == run.counts["sent"]


def test_the_weekly_cap_and_the_budget_stop_messages(book, campaign_of, session, app):
    app.config["CAMPAIGN_WEEKLY_CAP"] = 1
    first = run_campaign(campaign_of(name="First"), ON)
    session.commit()
    second = run_campaign(campaign_of(name="Second"), ON + timedelta(days=3))
    session.commit()
    assert second.counts.get("sent", 0) == 0
    assert second.counts["over_cap"] == first.counts["sent"]
    eight_days_later = run_campaign(campaign_of(name="Third", budget=Decimal("0.50")), ON + timedelta(days=8))
    session.commit()
    assert eight_days_later.counts["sent"] == 5  # 0.50 at 0.10 a message
    assert eight_days_later.counts["over_budget"] == first.counts["sent"] - 5


def test_the_agent_task_channel_makes_a_task_for_the_owner_agent(org, book, campaign_of, session):
    run = run_campaign(campaign_of(channel=CampaignChannel.AGENT_TASK, kind=CampaignKind.RENEWAL), ON)
    session.commit()
    tasks = session.scalars(select(Activity).where(Activity.reason == TaskReason.CAMPAIGN)).all()
    assert len(tasks) == 13 == run.counts["task"]  # no consent needed: the agent decides how to call
    assert {task.agent_id for task in tasks} == {org.agent.id}
    assert {task.due_date for task in tasks} == {ON}
    chinese = next(task for task in tasks if task.policyholder_id == book.holders[1].id)
    assert chinese.description == "客户1您好，欢迎咨询健康险。"


def test_a_campaign_without_a_segment_or_whose_owner_left_does_not_run(org, book, campaign_of, session):
    campaign = campaign_of(segment_id=None)
    with pytest.raises(CampaignNotRunnable):
        run_campaign(campaign, ON)
    campaign = campaign_of(name="Other")
    org.manager.active = False
    session.commit()
    with pytest.raises(CampaignNotRunnable):
        run_campaign(campaign, ON)


@pytest.mark.parametrize(("schedule", "days", "holidays", "expected"), [
    (CampaignSchedule.ONCE, [0, 1, 2], [], [0]),
    (CampaignSchedule.DAILY, [0, 1, 2], [], [0, 1, 2]),
    (CampaignSchedule.HOLIDAYS, [0, 1, 2, 3], [1, 3], [1, 3]),
])
def test_the_daily_job_runs_each_campaign_on_its_dates(book, campaign_of, session, schedule, days, holidays,
                                                       expected):
    for offset in holidays:
        session.add(Holiday(day=ON + timedelta(days=offset), name="Spring Festival"))
    campaign = campaign_of(schedule=schedule, end_date=ON + timedelta(days=2 if schedule != "holidays" else 3))
    paused = campaign_of(name="Paused", schedule=CampaignSchedule.DAILY, status=CampaignStatus.PAUSED)
    for offset in days:
        run_due(ON + timedelta(days=offset))
    dates = session.scalars(select(CampaignRun.run_date).where(CampaignRun.campaign_id == campaign.id)
                            .order_by(CampaignRun.run_date)).all()
    assert dates == [ON + timedelta(days=offset) for offset in expected]
    assert session.scalar(select(func.count()).where(CampaignRun.campaign_id == paused.id)) == 0
