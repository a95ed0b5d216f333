"""Handing a campaign over (policyholders/campaigns/owners.py): an admin, or a branch manager who may see the
campaign, gives it to an active admin or an active branch manager over its branch — through the API and the
campaign's page, audited — and it runs in the new owner's scope; anyone else, an inactive user or a built-in
campaign is refused with 422 on ``owner_user_id``. A campaign whose owner left does not run, and the daily job tells
the manager of its unit once, with a task linking to the campaign."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agents.models import Activity, TaskReason
from insurecrm.models import AuditLog, Role
from policyholders.campaigns.models import CampaignRun, CampaignSchedule
from policyholders.campaigns.runs import OwnerMayNotKeep, run_campaign, run_due
from policyholders.campaigns.system import BIRTHDAY_GREETINGS, system_campaign
from tests.api_client import csrf_token
from tests.campaigns.conftest import ON


@pytest.fixture
def successor(org, make):
    """Another branch manager of the campaigns' branch."""
    return make.user(Role.BRANCH_MANAGER, org_unit_id=org.branch.id, display_name="Successor")


def left(session, user) -> None:
    user.active = False
    session.commit()


def hand_over(client, campaign, owner_id, version=None):
    return client.post(f"/api/v1/campaigns/{campaign.id}/owner",
                       json={"owner_user_id": owner_id, "version": campaign.version if version is None else version})


def test_an_admin_hands_over_a_campaign_whose_owner_left_and_it_runs_again(org, book, api, campaign_of, successor,
                                                                          session):
    campaign = campaign_of()
    left(session, org.manager)
    with pytest.raises(OwnerMayNotKeep, match="hand it over"):
        run_campaign(campaign, ON)
    session.rollback()
    answer = hand_over(api(org.admin), campaign, successor.id)
    assert answer.status_code == 200, answer.json
    assert answer.json["owner_user_id"] == successor.id and answer.json["org_unit_id"] == org.branch.id
    entry = session.scalars(select(AuditLog).where(AuditLog.entity_type == "campaigns",
                                                   AuditLog.entity_id == campaign.id, AuditLog.action == "update")
                            .order_by(AuditLog.id.desc())).first()
    assert entry.changes["owner_user_id"] == [org.manager.id, successor.id]
    assert entry.actor_user_id == org.admin.id
    session.refresh(campaign)
    run = run_campaign(campaign, ON)
    session.commit()
    assert run.counts["members"] == 13  # the branch, in the successor's scope


def test_handed_over_to_an_admin_a_campaign_still_reaches_only_its_branch(org, book, api, campaign_of, session):
    """An admin's scope is the whole book (the sibling branch's holder too): the campaign keeps to its branch."""
    campaign = campaign_of()
    assert hand_over(api(org.manager), campaign, org.admin.id).status_code == 200
    session.refresh(campaign)
    run = run_campaign(campaign, ON)
    session.commit()
    assert run.counts["members"] == 13  # as in its maker's scope, not 14


def test_a_manager_may_hand_over_to_a_manager_above_the_branch(org, book, api, campaign_of, make, session):
    campaign = campaign_of()
    regional = make.user(Role.BRANCH_MANAGER, org_unit_id=org.company.id)
    answer = hand_over(api(org.manager), campaign, regional.id)
    assert answer.status_code == 200 and answer.json["owner_user_id"] == regional.id


def test_who_may_not_own_it_is_refused_with_its_field_and_nothing_changes(org, book, api, campaign_of, make,
                                                                          successor, session):
    campaign = campaign_of()
    team_manager = make.user(Role.BRANCH_MANAGER, org_unit_id=org.team.id)  # below the campaign's branch
    gone = make.user(Role.BRANCH_MANAGER, org_unit_id=org.branch.id, active=False)
    client = api(org.admin)
    for owner_id in (gone.id, org.sibling_manager.id, team_manager.id, org.agent_user.id, org.actuary.id,
                     2147483647):
        answer = hand_over(client, campaign, owner_id)
        assert answer.status_code == 422, (owner_id, answer.json)
        assert "owner_user_id" in answer.json["errors"], answer.json
    assert hand_over(client, campaign, "x").status_code == 422
    assert client.post(f"/api/v1/campaigns/{campaign.id}/owner", json={"owner_user_id": successor.id}).status_code \
        == 422  # the version is required
    assert hand_over(client, campaign, successor.id, version=campaign.version - 1).status_code == 409
    session.refresh(campaign)
    assert campaign.owner_user_id == org.manager.id
    assert session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.entity_type == "campaigns", AuditLog.action == "update")) == 0


def test_a_built_in_campaign_has_no_owner_to_hand_over(org, api, session):
    greetings = system_campaign(BIRTHDAY_GREETINGS)
    session.commit()
    answer = hand_over(api(org.admin), greetings, org.admin.id)
    assert answer.status_code == 422 and "owner_user_id" in answer.json["errors"]
    assert api(org.admin).get(f"/api/v1/campaigns/{greetings.id}").json["owner_user_id"] is None


def test_only_keepers_who_may_see_the_campaign_hand_it_over(org, book, api, campaign_of, successor, session):
    campaign = campaign_of()
    assert hand_over(api(org.sibling_manager), campaign, org.sibling_manager.id).status_code == 404
    assert hand_over(api(org.actuary), campaign, successor.id).status_code == 403
    assert hand_over(api(org.agent_user), campaign, successor.id).status_code == 403
    session.refresh(campaign)
    assert campaign.owner_user_id == org.manager.id


def test_the_campaign_page_hands_it_over(org, book, web, campaign_of, successor, session):
    campaign = campaign_of()
    left(session, org.manager)
    client = web(org.admin)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Hand over to" in page and "This campaign no longer runs" in page
    choices = page[page.index('id="handover-owner_user_id"'):].split("</select>")[0]
    assert "Successor" in choices and org.admin.display_name in choices
    assert org.manager.display_name not in choices and org.sibling_manager.display_name not in choices
    assert org.actuary.display_name not in choices
    listing = client.get("/campaigns").get_data(as_text=True)
    assert "1 active campaign has stopped" in listing
    refused = client.post(f"/campaigns/{campaign.id}/owner", data={
        "csrf_token": csrf_token(client), "version": str(campaign.version),
        "owner_user_id": str(org.sibling_manager.id)})
    assert refused.status_code == 422
    assert 'id="handover-owner_user_id-error"' in refused.get_data(as_text=True)
    done = client.post(f"/campaigns/{campaign.id}/owner", data={
        "csrf_token": csrf_token(client), "version": str(campaign.version), "owner_user_id": str(successor.id)})
    assert done.status_code == 302
    session.refresh(campaign)
    assert campaign.owner_user_id == successor.id
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Campaign handed over to Successor" in after and "This campaign no longer runs" not in after
    assert "active campaign has stopped" not in client.get("/campaigns").get_data(as_text=True)


def test_the_page_form_is_for_keepers_only(org, book, web, campaign_of, successor, session):
    campaign = campaign_of()
    assert "Hand over to" not in web(org.actuary).get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    actuary = web(org.actuary)
    refused = actuary.post(f"/campaigns/{campaign.id}/owner", data={
        "csrf_token": csrf_token(actuary), "version": str(campaign.version), "owner_user_id": str(successor.id)})
    assert refused.status_code == 403
    sibling = web(org.sibling_manager)
    hidden = sibling.post(f"/campaigns/{campaign.id}/owner", data={
        "csrf_token": csrf_token(sibling), "version": str(campaign.version), "owner_user_id": str(successor.id)})
    assert hidden.status_code == 404


def test_the_daily_job_tells_the_units_manager_once_whatever_the_days(org, book, web, campaign_of, successor,
                                                                     session):
    campaign = campaign_of(schedule=CampaignSchedule.DAILY)
    left(session, org.manager)
    results = [run_due(ON + timedelta(days=offset)) for offset in range(3)]
    assert [result.get("campaigns_refused") for result in results] == [1, 1, 1]
    assert [result.get("stopped_campaign_tasks", 0) for result in results] == [1, 0, 0]
    tasks = session.scalars(select(Activity).where(Activity.reason == TaskReason.CAMPAIGN_STOPPED)).all()
    assert len(tasks) == 1
    task = tasks[0]
    assert (task.assignee_user_id, task.agent_id, task.org_unit_id) == (successor.id, None, org.branch.id)
    assert task.subject == "Cross-sell" and f"/campaigns/{campaign.id}" in task.description
    assert session.scalar(select(func.count()).select_from(CampaignRun)) == 0
    tasks_page = web(successor).get("/tasks").get_data(as_text=True)
    assert f'href="/campaigns/{campaign.id}"' in tasks_page and "Campaign stopped: hand it over" in tasks_page
    # handed over, it runs again the next day; the next owner who leaves is told anew
    successor_client = web(successor)
    done = successor_client.post(f"/campaigns/{campaign.id}/owner", data={
        "csrf_token": csrf_token(successor_client), "version": str(campaign.version),
        "owner_user_id": str(successor.id)})
    assert done.status_code == 302
    assert run_due(ON + timedelta(days=3)).get("campaign_runs") == 1


def test_without_an_active_manager_the_task_waits_in_the_units_pool(org, book, campaign_of, session):
    campaign_of(schedule=CampaignSchedule.DAILY)
    left(session, org.manager)
    assert run_due(ON)["stopped_campaign_tasks"] == 1
    task = session.scalars(select(Activity).where(Activity.reason == TaskReason.CAMPAIGN_STOPPED)).one()
    assert (task.assignee_user_id, task.agent_id, task.org_unit_id) == (None, None, org.branch.id)


def test_a_campaign_of_a_branch_its_owner_no_longer_manages_stops_and_is_named_on_the_list(org, book, web,
                                                                                          campaign_of, session):
    kept = campaign_of(name="Kept by its manager")
    moved = campaign_of(name="Of the branch its owner left", org_unit_id=org.sibling.id)
    with pytest.raises(OwnerMayNotKeep):
        run_campaign(moved, ON)
    session.rollback()
    listing = web(org.admin).get("/campaigns").get_data(as_text=True)
    notice = listing[listing.index("1 active campaign has stopped"):].split("</section>")[0]
    assert f'href="/campaigns/{moved.id}"' in notice and f'href="/campaigns/{kept.id}"' not in notice
    assert "active campaign has stopped" not in web(org.manager).get("/campaigns").get_data(as_text=True)


def test_run_now_says_to_hand_it_over(org, book, api, campaign_of, session):
    campaign = campaign_of()
    org.manager.role = Role.ACTUARY  # no longer keeps campaigns
    session.commit()
    refused = api(org.admin).post(f"/api/v1/campaigns/{campaign.id}/runs")
    assert refused.status_code == 422 and "hand it over" in str(refused.json["errors"]["campaign"])
