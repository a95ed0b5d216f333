"""The demo book leaves a branch manager segments and campaigns to open: one campaign has run, with members,
responses and conversions on the effectiveness page; the other is a draft to check and activate."""

from __future__ import annotations

from datetime import timedelta

from flask.cli import ScriptInfo
from markupsafe import escape
from sqlalchemy import func, select

from insurecrm.cli import main
from insurecrm.demo.campaigns import RUN_DAYS_AGO
from insurecrm.models import User
from policyholders.campaigns.effect import effect_of
from policyholders.campaigns.models import Campaign, CampaignRun, CampaignStatus
from policyholders.segments.models import Segment
from policyholders.segments.services import count
from tests.demo.conftest import TODAY


def _manager(session) -> User:
    return session.scalar(select(User).where(User.username == "manager1"))


def test_the_manager_finds_the_segments_and_campaigns_on_their_pages(book, session, web):
    manager = _manager(session)
    segments = session.scalars(select(Segment).order_by(Segment.id)).all()
    campaigns = session.scalars(select(Campaign).where(Campaign.system_key.is_(None)).order_by(Campaign.id)).all()
    assert [s.name for s in segments] == ["Loyal low contributors", "Renewals due within 60 days"]
    assert {s.owner_user_id for s in segments} == {manager.id} == {c.owner_user_id for c in campaigns}
    assert all(count(segment, manager) > 0 for segment in segments)
    client = web(manager)
    listed = client.get("/segments").get_data(as_text=True)
    assert all(escape(segment.name) in listed for segment in segments)
    for segment in segments:
        assert client.get(f"/segments/{segment.id}").status_code == 200
    page = client.get("/campaigns").get_data(as_text=True)
    assert all(escape(campaign.name) in page for campaign in campaigns)
    for campaign in campaigns:
        detail = client.get(f"/campaigns/{campaign.id}")
        assert detail.status_code == 200
        assert {m.language for m in campaign.messages} == {"en", "zh"}
    assert [(c.channel.value, c.status, c.segment_id) for c in campaigns] == [
        ("sms", CampaignStatus.ACTIVE, segments[0].id), ("email", CampaignStatus.DRAFT, segments[1].id)]


def test_the_cross_sell_campaign_ran_once_with_a_control_group_and_has_figures(book, session, web):
    manager = _manager(session)
    cross_sell = session.scalar(select(Campaign).where(Campaign.kind == "cross_sell"))
    run = session.scalars(select(CampaignRun).where(CampaignRun.campaign_id == cross_sell.id)).one()
    assert run.run_date == TODAY - timedelta(days=RUN_DAYS_AGO)
    assert cross_sell.control_percent == 10 and run.counts["members"] > 0
    assert run.counts.get("control", 0) == round(run.counts["members"] * 0.1)
    assert run.counts.get("sent", 0) > 0
    [effect] = effect_of(manager, cross_sell.id)
    assert effect.effect.members == run.counts["members"]
    assert effect.effect.responded > 0 and effect.effect.converted > 0
    client = web(manager)
    run_page = client.get(f"/campaigns/runs/{run.id}").get_data(as_text=True)
    assert f"All members: {run.counts['members']}" in run_page
    assert client.get(f"/campaigns/{cross_sell.id}/effect").status_code == 200
    effectiveness = client.get("/campaigns/effect").get_data(as_text=True)
    assert escape(cross_sell.name) in effectiveness


def test_a_second_demo_if_empty_adds_no_segment_or_campaign(app, session):
    script, runner = ScriptInfo(create_app=lambda: app), app.test_cli_runner()
    args = ["demo", "--policyholders", "40", "--seed", "3", "--password", "s3cret", "--if-empty"]
    assert runner.invoke(main, args, obj=script).exit_code == 0
    made = session.scalar(select(func.count()).select_from(Segment)), session.scalar(select(func.count()).select_from(
        Campaign))
    assert runner.invoke(main, args, obj=script).exit_code == 0
    assert (session.scalar(select(func.count()).select_from(Segment)),
            session.scalar(select(func.count()).select_from(Campaign))) == made
    assert made[0] == 2
