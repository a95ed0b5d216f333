"""The opportunities API: create from a referral, move, win into a policy, lose; influencers and competitors;
bad input is a 422 by field and writes nothing; the actuary and referrers are refused."""

from __future__ import annotations

from sqlalchemy import select

from agents.models import Opportunity, OpportunityLossReason
from insurecrm.models import Role
from policies.models import Policy
from tests.agents.pipeline.test_opportunities import book  # noqa: F401 - the fixture


def test_the_whole_life_of_an_opportunity_through_the_api(api, book, make, session):  # noqa: F811
    holder = make.policyholder(owner=book.specialist, phone="+8613900001111")
    client = api(book.specialist_user)
    created = client.post("/api/v1/opportunities", json={
        "title": "Referral", "referral_id": book.referral.id, "policyholder_id": holder.id,
        "expected_premium": "1500.00", "expected_close_date": "2026-12-31"})
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["source"], body["bank_partner_id"], body["probability"]) == ("referral", book.partner.id, "5.0000")
    assert body["product_ids"] == [book.product.id] and body["team"] == [{"agent_id": book.specialist.id,
                                                                          "role": "lead"}]
    url = f"/api/v1/opportunities/{body['id']}"
    moved = client.post(f"{url}/move", json={"stage_id": book.stages["proposal_submitted"].id})
    assert moved.status_code == 200 and moved.json["probability"] == "50.0000"
    assert [c["to_stage_id"] for c in moved.json["stage_changes"]] == [
        book.stages["initial_contact"].id, book.stages["proposal_submitted"].id]
    person = client.post(f"{url}/influencers", json={"name": "Mr Zhao", "role": "economic_buyer",
                                                     "attitude": "supporter"})
    assert person.status_code == 201
    assert client.patch(f"{url}/influencers/{person.json['id']}", json={"attitude": "opponent"}).json[
        "attitude"] == "opponent"
    rival = client.post(f"{url}/competitors", json={"name": "Rival", "price_score": -2, "weaknesses": "Slow claims"})
    assert rival.status_code == 201 and rival.json["price_score"] == -2
    assert client.delete(f"{url}/competitors/{rival.json['id']}").status_code == 204
    assert client.get(f"{url}/competitors").json == []
    won = client.post(f"{url}/win", json={"product_id": book.product.id, "sum_insured": "50000.00",
                                          "premium": "125.00", "frequency": "monthly"})
    assert won.status_code == 200, won.json
    assert won.json["status"] == "won" and won.json["probability"] == "100.0000"
    policy = session.get(Policy, won.json["policy_id"])
    assert (policy.referrer_id, policy.premium, policy.frequency) == (book.referrer.id, 125, "monthly")


def test_bad_input_is_422_by_field_and_writes_nothing(api, book, count):  # noqa: F811
    client = api(book.agent_user)
    before = count(Opportunity)
    response = client.post("/api/v1/opportunities", json={"title": "x" * 201, "expected_premium": "-1",
                                                          "expected_close_date": "2199-01-01", "unknown": 1})
    assert response.status_code == 422
    assert set(response.json["errors"]) >= {"title", "expected_premium", "expected_close_date", "unknown"}
    rules = client.post("/api/v1/opportunities", json={"title": "No one"})
    assert rules.status_code == 422 and "prospect_name" in rules.json["errors"]
    assert count(Opportunity) == before
    bad_score = client.post("/api/v1/opportunities", json={"title": "ok", "prospect_name": "Li"})
    url = f"/api/v1/opportunities/{bad_score.json['id']}"
    assert client.post(f"{url}/competitors", json={"name": "R", "brand_score": 3}).status_code == 422
    assert client.get("/api/v1/opportunities?close_month=2026-1").status_code == 422
    assert client.post(f"{url}/lose", json={"reason_id": 999999}).json["errors"] == {
        "reason_id": ["Choose a reason from the list."]}


def test_stale_version_is_409(api, book):  # noqa: F811
    client = api(book.agent_user)
    created = client.post("/api/v1/opportunities", json={"title": "v", "prospect_name": "Li"}).json
    url = f"/api/v1/opportunities/{created['id']}"
    assert client.patch(url, json={"version": created["version"], "title": "v2"}).status_code == 200
    assert client.patch(url, json={"version": created["version"], "title": "v3"}).status_code == 409


def test_list_filters_and_pages(api, book):  # noqa: F811
    client = api(book.agent_user)
    for n, close in enumerate(("2026-12-05", "2026-12-20", "2027-01-03")):
        client.post("/api/v1/opportunities", json={"title": f"Deal {n}", "prospect_name": "Li",
                                                   "expected_close_date": close})
    page = client.get("/api/v1/opportunities?close_month=2026-12&sort=-expected_close_date&per_page=1").json
    assert page["meta"]["total"] == 2 and [item["title"] for item in page["items"]] == ["Deal 1"]
    assert client.get("/api/v1/opportunities?q=deal 2").json["meta"]["total"] == 1


def test_loss_reasons_are_listed_and_roles_without_a_pipeline_are_refused(api, book, make, session):  # noqa: F811
    listed = api(book.agent_user).get("/api/v1/loss-reasons").json["items"]
    assert [item["code"] for item in listed] == ["price", "competitor", "no_need", "no_budget", "timing", "other"]
    withdrawn = session.scalar(select(OpportunityLossReason).where(OpportunityLossReason.code == "timing"))
    withdrawn.active = False
    session.commit()
    assert len(api(book.agent_user).get("/api/v1/loss-reasons?active=true").json["items"]) == 5
    for role in (Role.ACTUARY, Role.BANK_REFERRER):
        assert api(make.user(role)).get("/api/v1/opportunities").status_code == 403
