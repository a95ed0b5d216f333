"""Referrals: bank staff submit, specialists and managers work them; each sees only their own."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agents.models import AgentChannel, Referral, ReferralStatus
from insurecrm.models import Role


@pytest.fixture
def bank(make, tree):
    """A partner whose branch team A1 serves, its referrer and specialist; a second partner elsewhere."""
    partner, other_partner = make.bank_partner(), make.bank_partner()
    branch = make.bank_branch(partner, org_unit=tree.team_a1)
    other_branch = make.bank_branch(other_partner, org_unit=tree.branch_b)
    specialist = make.agent(tree.team_a1, channel=AgentChannel.BANCASSURANCE, bank_partners=[partner])
    return SimpleNamespace(partner=partner, branch=branch, referrer=make.referrer(branch),
                           colleague=make.referrer(branch), other_referrer=make.referrer(other_branch),
                           specialist=specialist, other_branch=other_branch)


def test_referrer_submits_under_their_own_login(api, make, bank):
    product = make.product()
    client = api(make.user(Role.BANK_REFERRER, referrer_id=bank.referrer.id))
    response = client.post("/api/v1/referrals", json={"prospect_name": "Chen Jie", "prospect_phone": "138 0013 8000",
                                                      "product_id": product.id, "notes": "Wants cover for kids"})
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["referrer_id"], body["bank_branch_id"]) == (bank.referrer.id, bank.branch.id)
    assert (body["prospect_phone"], body["status"], body["specialist_agent_id"]) == ("+8613800138000", "submitted",
                                                                                    None)


def test_bad_referral_is_refused_field_by_field_and_nothing_is_written(api, make, count, bank):
    client = api(make.user(Role.BANK_REFERRER, referrer_id=bank.referrer.id))
    response = client.post("/api/v1/referrals", json={"prospect_phone": "12345", "bank_branch_id": bank.branch.id})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"prospect_name", "prospect_phone", "bank_branch_id"}
    response = client.post("/api/v1/referrals", json={"prospect_name": "Chen Jie", "referrer_id": bank.colleague.id,
                                                      "product_id": 999999})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"referrer_id", "product_id"}
    assert count(Referral) == 0


def test_referrer_sees_only_their_own_referrals_and_may_not_work_them(api, make, session, bank):
    mine = make.referral(bank.referrer)
    colleagues = make.referral(bank.colleague)
    client = api(make.user(Role.BANK_REFERRER, referrer_id=bank.referrer.id))
    assert [item["id"] for item in client.get("/api/v1/referrals").json["items"]] == [mine.id]
    assert client.get(f"/api/v1/referrals/{mine.id}").status_code == 200
    assert client.get(f"/api/v1/referrals/{colleagues.id}").status_code == 404
    assert client.get(f"/api/v1/referrals?referrer_id={bank.colleague.id}").json["meta"]["total"] == 0
    assert client.patch(f"/api/v1/referrals/{mine.id}", json={"status": "accepted"}).status_code == 403
    session.expire_all()
    assert session.get(Referral, mine.id).status == ReferralStatus.SUBMITTED


def test_specialist_submits_for_a_referrer_of_their_partners(api, make, count, bank):
    client = api(make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=bank.specialist.id))
    response = client.post("/api/v1/referrals", json={"prospect_name": "Chen Jie", "referrer_id": bank.referrer.id})
    assert response.status_code == 201, response.json
    assert (response.json["bank_branch_id"], response.json["specialist_agent_id"]) == (bank.branch.id,
                                                                                       bank.specialist.id)
    for body in ({"prospect_name": "X", "referrer_id": bank.other_referrer.id}, {"prospect_name": "X"}):
        response = client.post("/api/v1/referrals", json=body)
        assert response.status_code == 422
        assert set(response.json["errors"]) == {"referrer_id"}
    assert count(Referral) == 1


def test_admin_may_not_submit_for_an_inactive_referrer(api, make, count):
    referrer = make.referrer(status="suspended")
    client = api(make.user(Role.ADMIN))
    response = client.post("/api/v1/referrals", json={"prospect_name": "X", "referrer_id": referrer.id})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"referrer_id"}
    assert count(Referral) == 0


@pytest.mark.parametrize("role", [Role.AGENT, Role.BRANCH_MANAGER, Role.ACTUARY])
def test_roles_that_may_not_submit_referrals(api, make, count, bank, role):
    client = api(make.user(role))
    response = client.post("/api/v1/referrals", json={"prospect_name": "X", "referrer_id": bank.referrer.id})
    assert response.status_code == 403
    assert count(Referral) == 0


def test_rejecting_needs_a_reason_and_closes_the_referral(api, make, session, bank):
    referral = make.referral(bank.referrer)
    client = api(make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=bank.specialist.id))
    response = client.patch(f"/api/v1/referrals/{referral.id}", json={"status": "rejected"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"rejection_reason"}
    response = client.patch(f"/api/v1/referrals/{referral.id}", json={"status": "accepted",
                                                                      "rejection_reason": "Why not"})
    assert set(response.json["errors"]) == {"rejection_reason"}
    session.expire_all()
    assert session.get(Referral, referral.id).status == ReferralStatus.SUBMITTED
    response = client.patch(f"/api/v1/referrals/{referral.id}", json={"status": "rejected",
                                                                      "rejection_reason": "Already insured"})
    assert (response.status_code, response.json["status"]) == (200, "rejected")
    response = client.patch(f"/api/v1/referrals/{referral.id}", json={"status": "accepted"})
    assert set(response.json["errors"]) == {"status"}


def test_converting_needs_a_policyholder_the_worker_can_see(api, make, bank, tree):
    referral = make.referral(bank.referrer)
    client = api(make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=bank.specialist.id))
    assert client.patch(f"/api/v1/referrals/{referral.id}", json={"status": "accepted"}).status_code == 200
    response = client.patch(f"/api/v1/referrals/{referral.id}", json={"status": "converted"})
    assert set(response.json["errors"]) == {"policyholder_id"}
    someone_elses = make.policyholder(make.agent(tree.branch_b))
    response = client.patch(f"/api/v1/referrals/{referral.id}", json={"status": "converted",
                                                                      "policyholder_id": someone_elses.id})
    assert set(response.json["errors"]) == {"policyholder_id"}
    holder = make.policyholder(bank.specialist)
    response = client.patch(f"/api/v1/referrals/{referral.id}", json={"status": "converted",
                                                                      "policyholder_id": holder.id})
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["policyholder_id"]) == ("converted", holder.id)


def test_only_a_visible_bancassurance_agent_is_assigned(api, make, bank, tree):
    referral = make.referral(bank.referrer)
    manager = api(make.user(Role.BRANCH_MANAGER, org_unit_id=tree.branch_a.id))
    for agent in (make.agent(tree.team_a1), make.agent(tree.branch_b, channel=AgentChannel.BANCASSURANCE)):
        response = manager.patch(f"/api/v1/referrals/{referral.id}", json={"specialist_agent_id": agent.id})
        assert response.status_code == 422
        assert set(response.json["errors"]) == {"specialist_agent_id"}
    response = manager.patch(f"/api/v1/referrals/{referral.id}", json={"specialist_agent_id": bank.specialist.id,
                                                                       "status": "accepted"})
    assert response.status_code == 200, response.json
    assert response.json["specialist_agent_id"] == bank.specialist.id


def test_branch_manager_works_the_referrals_of_their_subtree_only(api, make, bank, tree):
    ours = make.referral(bank.referrer)
    theirs = make.referral(bank.other_referrer)
    manager = api(make.user(Role.BRANCH_MANAGER, org_unit_id=tree.branch_a.id))
    assert [item["id"] for item in manager.get("/api/v1/referrals").json["items"]] == [ours.id]
    assert manager.get(f"/api/v1/referrals/{theirs.id}").status_code == 404
    assert manager.patch(f"/api/v1/referrals/{theirs.id}", json={"status": "accepted"}).status_code == 404


def test_agents_and_actuaries_may_not_work_referrals(api, make, bank):
    referral = make.referral(bank.referrer, specialist_agent_id=bank.specialist.id)
    agent = api(make.user(Role.AGENT, agent_id=bank.specialist.id))
    assert agent.get(f"/api/v1/referrals/{referral.id}").status_code == 200
    assert agent.patch(f"/api/v1/referrals/{referral.id}", json={"status": "accepted"}).status_code == 403
    actuary = api(make.user(Role.ACTUARY))
    assert actuary.patch(f"/api/v1/referrals/{referral.id}", json={"status": "accepted"}).status_code == 403


def test_actuary_sees_no_prospect_names_or_phones(api, make, bank):
    referral = make.referral(bank.referrer, prospect_name="Chen Jie", prospect_phone="+8613800138000",
                             notes="Call after six")
    actuary = api(make.user(Role.ACTUARY))
    body = actuary.get(f"/api/v1/referrals/{referral.id}").json
    assert body["prospect_name"].startswith("RE-") and body["prospect_name"] != "Chen Jie"
    assert (body["prospect_phone"], body["notes"]) == (None, None)
    listed = str(actuary.get("/api/v1/referrals").json)
    assert "Chen Jie" not in listed and "8613800138000" not in listed
