"""Policies API: create (validation, numbers, bank fields, renewals, people), read, update, list, audit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from insurecrm.models import AuditLog, Role
from policies.models import (
    BusinessType,
    Installment,
    Policy,
    PolicyStatus,
    PolicyStatusChange,
    ProductLine,
)
from policies.numbers import format_number, is_valid_number


def payload(holder, product, **overrides) -> dict:
    return {"policyholder_id": holder.id, "product_id": product.id, "effective_date": "2026-03-01",
            "sum_insured": "200000.00", "premium": "1500.00", "frequency": "annual", **overrides}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def nothing_written(session) -> bool:
    return all(count(session, model) == 0 for model in (Policy, Installment, PolicyStatusChange))


def audit_rows(session, policy_id: int, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(
        AuditLog.entity_type == "policies", AuditLog.entity_id == policy_id, AuditLog.action == action)))


# -- create ---------------------------------------------------------------------------------------------

def test_agent_creates_a_policy_with_number_status_history_schedule_and_audit(api, make, seller, session):
    product = make.product(line=ProductLine.LIFE, term_months=24, frequencies=["annual"])
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["number"].startswith("LI2026") and is_valid_number(body["number"])
    assert (body["status"], body["business_type"], body["expiry_date"]) == ("in_force", "new", "2028-03-01")
    assert (body["servicing_agent_id"], body["org_unit_id"]) == (seller.agent.id, seller.agent.org_unit_id)
    assert body["annual_premium"] == "1500.00"
    assert [p["policyholder_id"] for p in body["insured_persons"]] == [seller.holder.id]
    assert [(c["from_status"], c["to_status"]) for c in body["status_history"]] == [(None, "in_force")]
    assert count(session, Installment) == 2
    [created] = audit_rows(session, body["id"], "create")
    assert created.actor_user_id == seller.user.id
    assert created.changes["number"] == [None, body["number"]]


def test_numbers_are_allocated_one_after_the_other(api, make, seller):
    product = make.product(frequencies=["annual"])
    first = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product)).json["number"]
    second = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product)).json["number"]
    assert int(second[6:14]) == int(first[6:14]) + 1


def test_a_given_number_must_be_valid_and_unused(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    good = format_number("HE", 2026, 424242)
    bad_check_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    for number in (bad_check_digit, "XX2026000000011", format_number("CL", 2026, 1)):
        response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, number=number))
        assert response.status_code == 422
        assert set(response.json["errors"]) == {"number"}
    assert nothing_written(session)
    assert api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, number=good)).json[
        "number"] == good
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, number=good))
    assert response.status_code == 422
    assert "already in use" in response.json["errors"]["number"][0]
    assert count(session, Policy) == 1


def test_bad_policy_is_refused_field_by_field_and_nothing_is_written(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    response = api(seller.user).post("/api/v1/policies", json=payload(
        seller.holder, product, frequency="monthly", expiry_date="2026-03-01", premium="0", sum_insured="-1"))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"premium", "sum_insured"}
    response = api(seller.user).post("/api/v1/policies", json=payload(
        make.policyholder(), product, frequency="monthly", expiry_date="2026-03-01"))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"policyholder_id", "frequency", "expiry_date"}
    inactive = make.product(active=False)
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, inactive))
    assert set(response.json["errors"]) == {"product_id"}
    assert nothing_written(session)


def test_only_quoted_or_in_force_to_start_with(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, status="lapsed"))
    assert set(response.json["errors"]) == {"status"}
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, status="quoted",
                                                                       issue_date="2026-02-10"))
    assert (response.json["status"], response.json["status_date"]) == ("quoted", "2026-02-10")


def test_servicing_agent_must_be_a_visible_active_agent(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    stranger = make.agent()
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product,
                                                                       servicing_agent_id=stranger.id))
    assert set(response.json["errors"]) == {"servicing_agent_id"}
    colleague = make.agent(org_unit=seller.agent.org_unit)
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product,
                                                                       servicing_agent_id=colleague.id))
    assert response.json["servicing_agent_id"] == colleague.id


def test_bank_fields_must_hang_together(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    partner, other_partner = make.bank_partner(), make.bank_partner()
    branch, other_branch = make.bank_branch(bank_partner=partner), make.bank_branch(bank_partner=other_partner)
    referrer, other_referrer = make.referrer(bank_branch=branch), make.referrer(bank_branch=other_branch)

    def create(**bank):
        return api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, **bank))

    assert set(create(channel="bancassurance").json["errors"]) == {"bank_partner_id"}
    assert set(create(channel="agency", bank_partner_id=partner.id).json["errors"]) == {"bank_partner_id"}
    assert set(create(channel="bancassurance", bank_partner_id=partner.id, bank_branch_id=other_branch.id,
                      referrer_id=referrer.id).json["errors"]) == {"bank_branch_id", "referrer_id"}
    assert set(create(channel="bancassurance", bank_partner_id=partner.id, bank_branch_id=branch.id,
                      referrer_id=other_referrer.id).json["errors"]) == {"referrer_id"}
    assert nothing_written(session)
    response = create(channel="bancassurance", bank_partner_id=partner.id, bank_branch_id=branch.id,
                      referrer_id=referrer.id)
    assert response.status_code == 201
    assert (response.json["bank_branch_id"], response.json["referrer_id"]) == (branch.id, referrer.id)


def test_a_renewal_names_a_visible_unrenewed_policy_of_the_same_policyholder(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    old = make.policy(policyholder=seller.holder, product=product, effective_date=date(2025, 3, 1))
    others = make.policy(product=product)
    mine_other_holder = make.policy(policyholder=make.policyholder(owner=seller.agent), product=product)
    for renews in (others.id, mine_other_holder.id, 999999):
        response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product,
                                                                           renews_policy_id=renews))
        assert set(response.json["errors"]) == {"renews_policy_id"}
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, renews_policy_id=old.id))
    assert response.status_code == 201
    assert response.json["business_type"] == BusinessType.RENEWAL
    assert api(seller.user).get(f"/api/v1/policies/{old.id}").json["renewed_by_policy_id"] == response.json["id"]
    again = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, renews_policy_id=old.id))
    assert "already renewed" in again.json["errors"]["renews_policy_id"][0]


def test_a_late_renewal_moves_the_expired_policy_to_renewed(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    old = make.policy(policyholder=seller.holder, product=product, effective_date=date(2025, 2, 1),
                      status=PolicyStatus.EXPIRED, status_date=date(2026, 2, 1))
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, renews_policy_id=old.id))
    assert response.status_code == 201
    body = api(seller.user).get(f"/api/v1/policies/{old.id}").json
    assert (body["status"], body["status_date"]) == ("renewed", "2026-03-01")


def test_a_renewal_business_type_needs_the_renewed_policy(api, make, seller):
    response = api(seller.user).post("/api/v1/policies", json=payload(
        seller.holder, make.product(frequencies=["annual"]), business_type="renewal"))
    assert set(response.json["errors"]) == {"renews_policy_id"}


def test_beneficiary_shares_of_one_priority_add_up_to_100(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    split = [{"name": "A", "relation_to_insured": "child", "share_percent": "60"},
             {"name": "B", "relation_to_insured": "child", "share_percent": "30"},
             {"name": "C", "relation_to_insured": "parent", "priority": 2}]
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, beneficiaries=split))
    assert response.status_code == 422
    assert response.json["errors"] == {"beneficiaries": ["The shares of priority 1 add up to 90.00, not 100."]}
    assert nothing_written(session)
    split[1]["share_percent"] = "40"
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, beneficiaries=split))
    assert [(b["name"], b["priority"], b["share_percent"]) for b in response.json["beneficiaries"]] == [
        ("A", 1, "60.00"), ("B", 1, "40.00"), ("C", 2, "100.00")]


def test_people_must_be_named_or_visible_policyholders(api, make, seller, session):
    product = make.product(frequencies=["annual"])
    spouse = make.policyholder(owner=seller.agent, name="Li Na")
    insured = [{"policyholder_id": spouse.id, "relation_to_holder": "spouse"}]
    response = api(seller.user).post("/api/v1/policies", json=payload(seller.holder, product, insured_persons=insured))
    assert [(p["name"], p["relation_to_holder"]) for p in response.json["insured_persons"]] == [("Li Na", "spouse")]
    response = api(seller.user).post("/api/v1/policies", json=payload(
        seller.holder, product, insured_persons=[{"name": "Li Ming"}, {"relation_to_holder": "child"}]))
    assert response.json["errors"] == {"insured_persons": {"1": {"name": ["Give a name or a policyholder_id."]}}}
    stranger = make.policyholder()
    response = api(seller.user).post("/api/v1/policies", json=payload(
        seller.holder, product, insured_persons=[{"name": "Li Ming"}, {"policyholder_id": stranger.id}]))
    assert response.json["errors"] == {"insured_persons": {"1": {"policyholder_id": ["No such policyholder."]}}}
    assert count(session, Policy) == 1


# -- read, list -----------------------------------------------------------------------------------------

def test_list_filters_sorts_and_shows_only_the_agents_book(api, make, seller):
    product = make.product()
    soon = make.policy(policyholder=seller.holder, product=product, expiry_date=date(2026, 6, 30))
    late = make.policy(policyholder=seller.holder, product=product, expiry_date=date(2027, 6, 30),
                       status=PolicyStatus.GRACE)
    make.policy(product=product, expiry_date=date(2026, 6, 30))  # another agent's

    def listed(query: str) -> list[int]:
        response = api(seller.user).get(f"/api/v1/policies?{query}")
        assert response.status_code == 200, response.json
        return [p["id"] for p in response.json["items"]]

    assert listed("sort=expiry_date") == [soon.id, late.id]
    assert listed("sort=-expiry_date") == [late.id, soon.id]
    assert listed("status=grace") == [late.id]
    assert listed("expiry_from=2026-01-01&expiry_to=2026-12-31") == [soon.id]
    assert listed(f"number={soon.number.lower()}") == [soon.id]
    assert listed(f"product_id={product.id}&servicing_agent_id={seller.agent.id}&channel=agency&sort=expiry_date") == [
        soon.id, late.id]
    assert api(seller.user).get("/api/v1/policies?sort=colour").status_code == 422


def test_manager_sees_the_subtree_and_admin_everything(api, make, seller):
    mine = make.policy(policyholder=seller.holder)
    elsewhere = make.policy()
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=seller.agent.org_unit_id)
    assert [p["id"] for p in api(manager).get("/api/v1/policies").json["items"]] == [mine.id]
    assert api(manager).get(f"/api/v1/policies/{elsewhere.id}").status_code == 404
    assert api(make.user(Role.ADMIN)).get("/api/v1/policies").json["meta"]["total"] == 2


# -- update ---------------------------------------------------------------------------------------------

def test_patch_changes_sum_insured_and_is_audited(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder)
    response = api(seller.user).patch(f"/api/v1/policies/{policy.id}", json={"version": 1, "sum_insured": "250000"})
    assert response.status_code == 200, response.json
    assert (response.json["sum_insured"], response.json["version"]) == ("250000.00", 2)
    [row] = audit_rows(session, policy.id, "update")
    assert row.changes == {"sum_insured": ["100000.00", "250000.00"]}


def test_stale_version_is_409(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder)
    url = f"/api/v1/policies/{policy.id}"
    assert api(seller.user).patch(url, json={"version": 1, "sum_insured": "1"}).status_code == 200
    response = api(seller.user).patch(url, json={"version": 1, "sum_insured": "2"})
    assert response.status_code == 409
    session.refresh(policy)
    assert str(policy.sum_insured) == "1.00"


def test_status_and_other_fields_are_not_patchable(api, make, seller):
    policy = make.policy(policyholder=seller.holder)
    response = api(seller.user).patch(f"/api/v1/policies/{policy.id}", json={"version": 1, "status": "lapsed"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"status"}
    response = api(seller.user).patch(f"/api/v1/policies/{policy.id}", json={"version": 1, "premium": "1"})
    assert set(response.json["errors"]) == {"premium"}
    assert api(seller.user).patch(f"/api/v1/policies/{policy.id}", json={"sum_insured": "1"}).status_code == 422


def test_replacing_beneficiaries_bumps_the_version_and_is_audited(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder)
    response = api(seller.user).patch(f"/api/v1/policies/{policy.id}", json={
        "version": 1, "beneficiaries": [{"name": "Wang Fang", "relation_to_insured": "spouse"}]})
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    assert [b["name"] for b in response.json["beneficiaries"]] == ["Wang Fang"]
    [row] = audit_rows(session, policy.id, "update")
    assert row.changes == {"beneficiaries": [[], ["Wang Fang (100.00%, priority 1)"]]}
    response = api(seller.user).patch(f"/api/v1/policies/{policy.id}", json={
        "version": 2, "beneficiaries": [{"name": "X", "relation_to_insured": "child", "share_percent": "50"}]})
    assert set(response.json["errors"]) == {"beneficiaries"}


def test_a_new_servicing_agent_brings_the_policy_to_their_unit(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder)
    other_unit_agent = make.agent()
    admin = make.user(Role.ADMIN)
    response = api(admin).patch(f"/api/v1/policies/{policy.id}", json={"version": 1,
                                                                      "servicing_agent_id": other_unit_agent.id})
    assert (response.json["servicing_agent_id"], response.json["org_unit_id"]) == (
        other_unit_agent.id, other_unit_agent.org_unit_id)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BRANCH_MANAGER, Role.BANCASSURANCE_SPECIALIST])
def test_other_writer_roles_may_create(api, make, role):
    unit = make.org_unit()
    agent = make.agent(org_unit=unit)
    holder = make.policyholder(owner=agent)
    user = make.user(role, org_unit_id=unit.id, agent_id=agent.id if role is Role.BANCASSURANCE_SPECIALIST else None)
    response = api(user).post("/api/v1/policies", json=payload(holder, make.product(frequencies=["annual"])))
    assert response.status_code == 201, response.json
    assert response.json["servicing_agent_id"] == agent.id
