"""Claims: reported on a policy with an allocated number, checked dates and amounts, listed within scope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from insurecrm.models import AuditLog
from policies.models import Claim
from policies.numbers import is_valid_number
from tests.policies.conftest import TODAY, months_ago


@pytest.fixture
def policy(make, seller):
    return make.policy(policyholder=seller.holder, effective_date=months_ago(6))


def report(api, user, policy, **body):
    return api(user).post(f"/api/v1/policies/{policy.id}/claims",
                          json={"loss_date": months_ago(1).isoformat(), **body})


def count_claims(session) -> int:
    return session.scalar(select(func.count(Claim.id)))


def test_reporting_a_claim_allocates_a_claim_number(api, seller, session, policy):
    response = report(api, seller.user, policy, incurred_amount="5000", description="Hospital stay")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["number"].startswith(f"CL{TODAY.year}") and is_valid_number(body["number"])
    assert (body["status"], body["report_date"], body["incurred_amount"], body["paid_amount"]) == (
        "reported", TODAY.isoformat(), "5000.00", "0.00")
    second = report(api, seller.user, policy).json["number"]
    assert second != body["number"]
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.entity_type == "claims")) == 2


def test_loss_outside_cover_and_report_before_loss_are_refused(api, seller, session, policy):
    before_cover = (policy.effective_date - timedelta(days=1)).isoformat()
    response = report(api, seller.user, policy, loss_date=before_cover)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"loss_date"}
    response = report(api, seller.user, policy, report_date=months_ago(2).isoformat())
    assert set(response.json["errors"]) == {"report_date"}
    response = report(api, seller.user, policy, report_date=(TODAY + timedelta(days=1)).isoformat(),
                      incurred_amount="-1")
    assert set(response.json["errors"]) == {"report_date", "incurred_amount"}
    assert count_claims(session) == 0


def test_claim_updates_keep_paid_within_incurred_and_rejections_explained(api, seller, session, policy):
    claim_id = report(api, seller.user, policy, incurred_amount="1000").json["id"]
    url = f"/api/v1/claims/{claim_id}"
    response = api(seller.user).patch(url, json={"paid_amount": "1000.01"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"paid_amount"}
    response = api(seller.user).patch(url, json={"incurred_amount": "1200", "paid_amount": "1200", "status": "paid"})
    assert response.status_code == 200
    assert (response.json["status"], response.json["paid_amount"]) == ("paid", "1200.00")
    response = api(seller.user).patch(url, json={"status": "rejected"})
    assert set(response.json["errors"]) == {"rejection_reason"}
    response = api(seller.user).patch(url, json={"status": "rejected", "rejection_reason": "Pre-existing condition",
                                                 "paid_amount": "0"})
    assert (response.json["status"], response.json["rejection_reason"]) == ("rejected", "Pre-existing condition")


def test_claims_are_listed_within_scope_and_filtered(api, make, seller, session, policy):
    mine = report(api, seller.user, policy).json["id"]
    stranger = make.policy(effective_date=months_ago(6))
    other_claim = Claim(policy_id=stranger.id, number="CL2026000000999", loss_date=months_ago(1), report_date=TODAY)
    session.add(other_claim)
    session.commit()
    listed = api(seller.user).get("/api/v1/claims").json
    assert [c["id"] for c in listed["items"]] == [mine]
    assert api(seller.user).get(f"/api/v1/claims?policy_id={policy.id}&status=reported").json["meta"]["total"] == 1
    assert api(seller.user).get("/api/v1/claims?status=paid").json["meta"]["total"] == 0
    assert api(seller.user).get(f"/api/v1/claims/{other_claim.id}").status_code == 404
    assert api(seller.user).patch(f"/api/v1/claims/{other_claim.id}", json={"status": "closed"}).status_code == 404
    assert api(seller.user).get(f"/api/v1/policies/{policy.id}/claims").json["meta"]["total"] == 1


def test_loss_on_the_expiry_date_is_covered(api, make, seller):
    policy = make.policy(policyholder=seller.holder, effective_date=date(2025, 1, 1), expiry_date=date(2026, 1, 1))
    assert report(api, seller.user, policy, loss_date="2026-01-01").status_code == 201
    assert report(api, seller.user, policy, loss_date="2026-01-02").status_code == 422
