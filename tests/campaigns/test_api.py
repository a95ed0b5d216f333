"""The campaigns API: kept by branch managers (their branch) and admins, read by the actuary, none for agents;
bounded input refused with 422 and nothing written; a status machine; what a campaign that ran keeps; run now once
a day; the members of a run; the preview of the message for a member."""

from __future__ import annotations

from sqlalchemy import func, select

from insurecrm import clock
from insurecrm.models import AuditLog
from policyholders.campaigns.models import Campaign, CampaignMember, CampaignRun

MESSAGES = [{"language": "en", "subject": "Hello", "body": "Dear {{ policyholder_name }}, ask us."},
            {"language": "zh", "subject": "您好", "body": "{{ policyholder_name }}您好"}]


def payload(book, **changes) -> dict:
    return {"name": "Cross-sell", "kind": "cross_sell", "channel": "sms", "segment_id": book.segment.id,
            "start_date": clock.today().isoformat(), "control_percent": 10, "cost_per_message": "0.10",
            "messages": MESSAGES, **changes}


def test_a_manager_makes_activates_and_runs_a_campaign(org, book, api, session):
    client = api(org.manager)
    created = client.post("/api/v1/campaigns", json=payload(book))
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["status"], body["owner_user_id"], body["org_unit_id"]) == ("draft", org.manager.id, org.branch.id)
    assert {m["language"] for m in body["messages"]} == {"en", "zh"}
    preview = client.get(f"/api/v1/campaigns/{body['id']}/preview?language=zh")
    assert preview.status_code == 200 and preview.json["body"].strip().endswith("您好")
    assert preview.json["policyholder_id"] == book.holders[0].id
    active = client.post(f"/api/v1/campaigns/{body['id']}/status", json={"status": "active"})
    assert active.status_code == 200 and active.json["status"] == "active"
    run = client.post(f"/api/v1/campaigns/{body['id']}/runs")
    assert run.status_code == 201, run.json
    assert run.json["counts"]["members"] == 13 and run.json["counts"]["control"] == 1
    again = client.post(f"/api/v1/campaigns/{body['id']}/runs")
    assert again.json["id"] == run.json["id"]  # once a day
    members = client.get(f"/api/v1/campaigns/{body['id']}/runs/{run.json['id']}/members?outcome=control")
    assert members.status_code == 200 and members.json["meta"]["total"] == 1
    assert session.scalar(select(func.count()).select_from(CampaignMember)) == 13
    audited = session.scalars(select(AuditLog.action).where(AuditLog.entity_type == "campaigns")).all()
    assert "create" in audited and "update" in audited


def test_what_a_campaign_that_ran_keeps_and_what_it_may_change(org, book, api, campaign_of):
    campaign = campaign_of()
    client = api(org.manager)
    assert client.post(f"/api/v1/campaigns/{campaign.id}/runs").status_code == 201
    fixed = client.patch(f"/api/v1/campaigns/{campaign.id}", json={"version": campaign.version, "control_percent": 20})
    assert fixed.status_code == 422 and "control_percent" in fixed.json["errors"]
    fine = client.patch(f"/api/v1/campaigns/{campaign.id}", json={"version": campaign.version, "name": "Renamed",
                                                                   "budget": "100.00"})
    assert fine.status_code == 200 and (fine.json["name"], fine.json["budget"]) == ("Renamed", "100.00")
    stale = client.patch(f"/api/v1/campaigns/{campaign.id}", json={"version": 1, "name": "Again"})
    assert stale.status_code == 409
    assert client.delete(f"/api/v1/campaigns/{campaign.id}").status_code == 409  # it ran: end it instead
    assert client.post(f"/api/v1/campaigns/{campaign.id}/status", json={"status": "draft"}).status_code == 422
    assert client.post(f"/api/v1/campaigns/{campaign.id}/status", json={"status": "ended"}).status_code == 200
    assert client.post(f"/api/v1/campaigns/{campaign.id}/status", json={"status": "active"}).status_code == 422


def test_bad_input_is_refused_and_writes_nothing(org, book, api, session):
    client = api(org.manager)
    cases = [
        ({"control_percent": 51}, "control_percent"),
        ({"conversion_window_days": 0}, "conversion_window_days"),
        ({"cost_per_message": "-1"}, "cost_per_message"),
        ({"end_date": "2020-01-01"}, "end_date"),
        ({"messages": [MESSAGES[0], MESSAGES[0]]}, "messages"),
        ({"messages": [{"language": "fr", "body": "x"}]}, "messages"),
        ({"messages": [{"language": "en", "body": "{{ unclosed"}]}, "messages"),
        ({"name": "x" * 201}, "name"),
        ({"kind": "spam"}, "kind"),
        ({"segment_id": 2147483647}, "segment_id"),
        ({"unknown": 1}, "unknown"),
    ]
    for changes, field in cases:
        answer = client.post("/api/v1/campaigns", json=payload(book, **changes))
        assert answer.status_code == 422, (changes, answer.json)
        assert field in answer.json["errors"], (changes, answer.json)
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0
    draft = client.post("/api/v1/campaigns", json=payload(book, messages=[])).json
    refused = client.post(f"/api/v1/campaigns/{draft['id']}/status", json={"status": "active"})
    assert refused.status_code == 422 and "message" in str(refused.json["errors"]["status"])


def test_scope_roles_and_a_segment_one_may_not_see(org, book, api, campaign_of, session):
    from policyholders.segments.models import Segment

    campaign = campaign_of()
    assert api(org.sibling_manager).get(f"/api/v1/campaigns/{campaign.id}").status_code == 404
    assert api(org.agent_user).get("/api/v1/campaigns").status_code == 403
    assert api(org.actuary).get(f"/api/v1/campaigns/{campaign.id}").status_code == 200
    assert api(org.actuary).post("/api/v1/campaigns", json=payload(book)).status_code == 403
    assert api(org.admin).get(f"/api/v1/campaigns/{campaign.id}").status_code == 200
    theirs = Segment(name="Theirs", criteria={}, owner_user_id=org.sibling_manager.id, org_unit_id=org.sibling.id)
    session.add(theirs)
    session.commit()
    refused = api(org.manager).post("/api/v1/campaigns", json=payload(book, segment_id=theirs.id))
    assert refused.status_code == 422 and "segment_id" in refused.json["errors"]
    run = session.scalar(select(CampaignRun))
    assert run is None
