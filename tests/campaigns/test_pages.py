"""The campaign pages: a manager makes a campaign in the editor, activates it, previews its message in both
languages, runs it now and reads the members of the run; refused forms keep what was typed; agents get 403 and
another branch's campaign 404; the pages read in English and Chinese."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from insurecrm import clock
from policyholders.campaigns.models import Campaign, CampaignRun
from tests.api_client import csrf_token


def form(book, **changes) -> dict:
    return {"name": "Loyal low contributors", "kind": "cross_sell", "channel": "sms",
            "segment_id": str(book.segment.id), "schedule": "once", "start_date": clock.today().isoformat(),
            "control_percent": "10", "conversion_window_days": "30", "cost_per_message": "0.05", "budget": "",
            "subject_en": "", "body_en": "Dear {{ policyholder_name }}, ask us about health cover.",
            "subject_zh": "", "body_zh": "{{ policyholder_name }}您好，欢迎咨询健康险。", **changes}


def test_a_manager_makes_activates_and_runs_a_campaign_through_the_pages(org, book, web, session):
    client = web(org.manager)
    assert client.get("/campaigns/new").status_code == 200
    made = client.post("/campaigns/new", data={**form(book), "csrf_token": csrf_token(client)})
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    campaign = session.scalars(select(Campaign)).one()
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "客户0您好，欢迎咨询健康险。" in page and "Dear 客户0, ask us about health cover." in page
    activated = client.post(f"/campaigns/{campaign.id}/status", data={"status": "active",
                                                                     "csrf_token": csrf_token(client)})
    assert activated.status_code == 302
    ran = client.post(f"/campaigns/{campaign.id}/run", data={"csrf_token": csrf_token(client)})
    assert ran.status_code == 302
    run = session.scalars(select(CampaignRun)).one()
    members = client.get(ran.headers["Location"]).get_data(as_text=True)
    assert "客户1" in members and "Held out (control group)" in members
    assert client.get(f"/campaigns/runs/{run.id}?outcome=control").status_code == 200
    listing = client.get("/campaigns").get_data(as_text=True)
    assert "Loyal low contributors" in listing


@pytest.mark.parametrize(("changes", "field"), [
    ({"control_percent": "80"}, "control_percent"),
    ({"body_en": "{{ broken"}, "body_en"),
    ({"name": ""}, "name"),
    ({"end_date": "2001-01-01"}, "end_date"),
])
def test_a_refused_form_comes_back_with_its_message_and_what_was_typed(org, book, web, session, changes, field):
    client = web(org.manager)
    answer = client.post("/campaigns/new", data={**form(book, **changes), "csrf_token": csrf_token(client)})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert f'id="c-{field}-error"' in page
    assert "Dear {{ policyholder_name }}" in page or field == "body_en"
    assert session.scalar(select(Campaign.id)) is None


def test_edit_keeps_what_a_run_fixed(org, book, web, campaign_of, session):
    campaign = campaign_of()
    client = web(org.manager)
    client.post(f"/campaigns/{campaign.id}/run", data={"csrf_token": csrf_token(client)})
    page = client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert re.search(r'<select id="c-segment_id" name="segment_id" disabled', page)
    saved = client.post(f"/campaigns/{campaign.id}/edit", data={
        "csrf_token": csrf_token(client), "version": str(campaign.version), "name": "Renamed", "description": "",
        "start_date": campaign.start_date,
        "end_date": "", "conversion_window_days": "14", "cost_per_message": "0.10", "budget": "",
        "body_en": "Hi {{ policyholder_name }}", "subject_en": "", "body_zh": "", "subject_zh": ""})
    assert saved.status_code == 302
    session.refresh(campaign)
    assert (campaign.name, campaign.conversion_window_days, campaign.control_percent) == ("Renamed", 14, 0)
    assert [message.language for message in campaign.messages] == ["en"]


def test_roles_and_scope(org, book, web, campaign_of):
    campaign = campaign_of()
    assert web(org.agent_user).get("/campaigns").status_code == 403
    assert web(org.sibling_manager).get(f"/campaigns/{campaign.id}").status_code == 404
    actuary = web(org.actuary)
    assert actuary.get(f"/campaigns/{campaign.id}").status_code == 200
    assert actuary.get("/campaigns/new").status_code == 403


@pytest.mark.parametrize("first", ["en", "zh"])
def test_the_pages_read_in_both_languages_in_one_process(app, org, book, web, campaign_of, first):
    campaign = campaign_of()
    client = web(org.manager)
    client.post(f"/campaigns/{campaign.id}/run", data={"csrf_token": csrf_token(client)})
    run = campaign.id
    app.jinja_env.cache.clear()
    words = {"zh": ("营销活动", "交叉销售", "短信", "有效"), "en": ("Campaigns", "Cross-sell", "SMS", "Active")}
    for language in (first, "zh" if first == "en" else "en"):
        with client.session_transaction() as session_:
            session_["lang"] = language
        pages = "".join(client.get(url).get_data(as_text=True) for url in (
            "/campaigns", f"/campaigns/{run}", "/campaigns/new", f"/campaigns/{run}/edit"))
        assert [word for word in words[language] if word not in pages] == [], language
        assert ">cross_sell<" not in pages and ">active<" not in pages


def test_a_run_shows_the_response_an_agent_recorded_on_the_campaign_call(org, book, web, campaign_of, session):
    from agents.models import Activity, TaskReason
    from policyholders.campaigns.models import CampaignChannel
    from policyholders.campaigns.runs import run_campaign

    run = run_campaign(campaign_of(channel=CampaignChannel.AGENT_TASK), clock.today())
    session.commit()
    task = session.scalars(select(Activity).where(Activity.reason == TaskReason.CAMPAIGN,
                                                  Activity.policyholder_id == book.holders[2].id)).one()
    agent = web(org.agent_user)
    done = agent.post(f"/tasks/{task.id}/complete", data={"csrf_token": csrf_token(agent), "outcome": "reached",
                                                          "note": "Wants a quote for health cover"})
    assert done.status_code == 302
    page = web(org.manager).get(f"/campaigns/runs/{run.id}").get_data(as_text=True)
    assert "Wants a quote for health cover" in page and "Call done" in page


def test_the_editor_previews_the_typed_message_for_a_member_and_saves_nothing(org, book, web, session):
    client = web(org.manager)
    answer = client.post("/campaigns/new", data={**form(book), "action": "preview", "csrf_token": csrf_token(client)})
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "客户0您好，欢迎咨询健康险。" in page and "Dear 客户0, ask us about health cover." in page
    assert "Dear {{ policyholder_name }}" in page  # the typed message is kept in the form
    assert session.scalar(select(Campaign.id)) is None
