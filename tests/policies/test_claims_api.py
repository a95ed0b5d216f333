"""Claims: reported on a policy with an allocated number, checked dates and amounts, listed within scope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from insurecrm.models import AuditLog
from policies.models import Claim, PolicyStatus, PolicyStatusChange
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
    other = f"/api/v1/claims/{report(api, seller.user, policy, incurred_amount='800').json['id']}"
    response = api(seller.user).patch(other, json={"status": "rejected"})
    assert set(response.json["errors"]) == {"rejection_reason"}
    response = api(seller.user).patch(other, json={"status": "rejected", "rejection_reason": "Pre-existing condition"})
    assert (response.json["status"], response.json["rejection_reason"]) == ("rejected", "Pre-existing condition")


def test_a_claims_status_moves_forward_and_a_closed_claim_is_final(api, seller, policy):
    url = f"/api/v1/claims/{report(api, seller.user, policy, incurred_amount='1000').json['id']}"
    assert api(seller.user).patch(url, json={"status": "under_review"}).status_code == 200
    assert api(seller.user).patch(url, json={"status": "paid", "paid_amount": "1000"}).status_code == 200
    response = api(seller.user).patch(url, json={"status": "rejected", "rejection_reason": "Changed our mind"})
    assert response.status_code == 422
    assert response.json["errors"] == {"status": ["A paid claim cannot become rejected. Allowed: closed."]}
    assert api(seller.user).patch(url, json={"status": "closed"}).status_code == 200
    response = api(seller.user).patch(url, json={"paid_amount": "900"})
    assert response.status_code == 422
    assert response.json["errors"] == {"status": ["The claim is closed: it can no longer change."]}
    assert api(seller.user).get(url).json["paid_amount"] == "1000.00"


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


# -- kinds of loss, and the settlement that ends the cover ---------------------------------------------------

def settle(api, user, claim_id, **body):
    return api(user).patch(f"/api/v1/claims/{claim_id}", json={"status": "paid", **body})


def policy_status(session, policy) -> str:
    session.refresh(policy)
    return policy.status


def test_a_claim_says_what_was_lost_and_the_line_must_cover_it(api, make, seller, session):
    life = make.policy(policyholder=seller.holder, product=make.product(line="life"), effective_date=months_ago(6))
    motor = make.policy(policyholder=seller.holder, product=make.product(line="motor"), effective_date=months_ago(6))
    assert report(api, seller.user, life, kind="death").json["kind"] == "death"
    assert report(api, seller.user, motor).json["kind"] == "other"  # the default
    response = report(api, seller.user, motor, kind="death")
    assert response.status_code == 422
    assert response.json["errors"] == {"kind": ["A motor policy covers: damage, total_loss, other."]}
    assert report(api, seller.user, life, kind="damage").status_code == 422
    assert count_claims(session) == 2


def test_a_quoted_policy_takes_no_claim(api, make, seller, session):
    quote = make.policy(policyholder=seller.holder, status=PolicyStatus.QUOTED, effective_date=months_ago(6))
    response = report(api, seller.user, quote)
    assert response.status_code == 422 and "gives no cover yet" in response.json["errors"]["_schema"][0]
    assert count_claims(session) == 0


def test_a_death_claim_paid_in_full_terminates_the_policy_through_the_system_path(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder, product=make.product(line="life"), effective_date=months_ago(6),
                         status_date=months_ago(6))
    claim = report(api, seller.user, policy, kind="death", incurred_amount="500000").json
    assert settle(api, seller.user, claim["id"], paid_amount="499999.99").status_code == 200
    assert policy_status(session, policy) == "in_force"  # paid in part: the cover goes on
    response = settle(api, seller.user, claim["id"], paid_amount="500000")
    assert response.status_code == 200
    assert policy_status(session, policy) == "terminated_by_claim"
    [change] = session.scalars(select(PolicyStatusChange).where(PolicyStatusChange.policy_id == policy.id)).all()
    assert (change.from_status, change.to_status, change.effective_date) == ("in_force", "terminated_by_claim", TODAY)
    assert change.reason == f"Claim {claim['number']} (death) settled in full."
    # a person could not have made that move by hand
    other = make.policy(policyholder=seller.holder, effective_date=months_ago(6))
    refused = api(seller.user).post(f"/api/v1/policies/{other.id}/transitions",
                                    json={"to_status": "terminated_by_claim", "reason": "Died"})
    assert refused.status_code == 422 and "only through settling a claim" in refused.json["errors"]["to_status"][0]


@pytest.mark.parametrize(("line", "kind"), [("property", "total_loss"), ("accident", "total_disability"),
                                            ("motor", "total_loss")])
def test_a_total_loss_or_disability_paid_in_full_ends_the_policy(api, make, seller, session, line, kind):
    policy = make.policy(policyholder=seller.holder, product=make.product(line=line), effective_date=months_ago(6))
    claim_id = report(api, seller.user, policy, kind=kind, incurred_amount="80000").json["id"]
    assert settle(api, seller.user, claim_id, paid_amount="80000").status_code == 200
    assert policy_status(session, policy) == "terminated_by_claim"


@pytest.mark.parametrize(("line", "kind"), [("health", "medical"), ("motor", "damage"), ("life", "other")])
def test_other_claims_paid_in_full_leave_the_policy_running(api, make, seller, session, line, kind):
    policy = make.policy(policyholder=seller.holder, product=make.product(line=line), effective_date=months_ago(6))
    claim_id = report(api, seller.user, policy, kind=kind, incurred_amount="3000").json["id"]
    assert settle(api, seller.user, claim_id, paid_amount="3000").status_code == 200
    assert policy_status(session, policy) == "in_force"


def test_a_policy_already_ended_keeps_its_status_when_a_death_claim_is_paid(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder, product=make.product(line="life"), effective_date=months_ago(14),
                         expiry_date=months_ago(2), status=PolicyStatus.EXPIRED, status_date=months_ago(2))
    claim_id = report(api, seller.user, policy, kind="death", loss_date=months_ago(3).isoformat(),
                      incurred_amount="1000").json["id"]
    assert settle(api, seller.user, claim_id, paid_amount="1000").status_code == 200
    assert policy_status(session, policy) == "expired"


def test_a_paid_claim_needs_an_amount_paid(api, seller, policy, session):
    claim_id = report(api, seller.user, policy, incurred_amount="1000").json["id"]
    response = settle(api, seller.user, claim_id)
    assert response.status_code == 422
    assert response.json["errors"] == {"paid_amount": ["A paid claim needs the amount paid."]}
