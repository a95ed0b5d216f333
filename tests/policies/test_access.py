"""Who may reach which policy endpoint: other agents' policies do not exist (404), the actuary reads
pseudonymised and never writes (403), bank referrers have no business here (403)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from insurecrm import clock
from insurecrm.models import Role
from policies.models import Beneficiary, Claim, InsuredPerson, Payment, PolicyStatus, PolicyStatusChange
from tests.policies.conftest import months_ago

VALID_PAYMENT = {"amount": "10.00", "paid_on": clock.today().isoformat()}
VALID_CLAIM = {"loss_date": months_ago(1).isoformat(), "description": "Broke a leg skiing near Harbin"}

#: every endpoint under /policies/<id>, with a valid body for the writes
POLICY_ENDPOINTS = [
    ("GET", "", None),
    ("PATCH", "", {"version": 1, "sum_insured": "1.00"}),
    ("POST", "/transitions", {"to_status": "grace", "effective_date": clock.today().isoformat()}),
    ("GET", "/installments", None),
    ("GET", "/payments", None),
    ("POST", "/payments", VALID_PAYMENT),
    ("GET", "/claims", None),
    ("POST", "/claims", VALID_CLAIM),
    ("GET", "/commissions", None),
]
WRITES = [(method, suffix, body) for method, suffix, body in POLICY_ENDPOINTS if method != "GET"]


@pytest.fixture
def others_policy(scheduled_policy):
    """An in-force policy of another agent's book, with its premium schedule."""
    return scheduled_policy(effective_date=months_ago(2), status_date=months_ago(2))


def call(api, user, method, path, body):
    return api(user)._call(method, path, json=body)


def row_counts(session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Payment, Claim, PolicyStatusChange))


@pytest.mark.parametrize(("method", "suffix", "body"), POLICY_ENDPOINTS,
                         ids=[f"{m} {s or '/'}" for m, s, _ in POLICY_ENDPOINTS])
def test_another_agents_policy_is_404_on_every_endpoint(api, seller, session, others_policy, method, suffix, body):
    response = call(api, seller.user, method, f"/api/v1/policies/{others_policy.id}{suffix}", body)
    assert response.status_code == 404
    assert row_counts(session) == (0, 0, 0)
    session.refresh(others_policy)
    assert (others_policy.version, others_policy.status) == (1, PolicyStatus.IN_FORCE)


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES, ids=[f"{m} {s or '/'}" for m, s, _ in WRITES])
def test_the_actuary_never_writes(api, make, session, others_policy, method, suffix, body):
    response = call(api, make.user(Role.ACTUARY), method, f"/api/v1/policies/{others_policy.id}{suffix}", body)
    assert response.status_code == 403
    assert row_counts(session) == (0, 0, 0)


def test_the_actuary_may_not_create_policies_or_change_claims(api, make, session, others_policy):
    actuary = make.user(Role.ACTUARY)
    body = {"policyholder_id": others_policy.policyholder_id, "product_id": others_policy.product_id,
            "effective_date": "2026-01-01", "sum_insured": "1", "premium": "1", "frequency": "annual"}
    assert api(actuary).post("/api/v1/policies", json=body).status_code == 403
    claim = Claim(policy_id=others_policy.id, number="CL2026000000011", loss_date=months_ago(1),
                  report_date=months_ago(1))
    session.add(claim)
    session.commit()
    assert api(actuary).patch(f"/api/v1/claims/{claim.id}", json={"status": "approved"}).status_code == 403


def test_bank_referrers_may_not_read_policies_or_claims(api, make, others_policy):
    referrer = make.user(Role.BANK_REFERRER, referrer_id=make.referrer().id)
    assert api(referrer).get("/api/v1/policies").status_code == 403
    assert api(referrer).get(f"/api/v1/policies/{others_policy.id}").status_code == 403
    assert api(referrer).get("/api/v1/claims").status_code == 403


def test_personal_data_is_absent_for_the_actuary(api, make, session, scheduled_policy):
    holder = make.policyholder(name="Zhang Wei")
    policy = scheduled_policy(policyholder=holder, effective_date=months_ago(2), status_date=months_ago(2))
    session.add_all([
        InsuredPerson(policy_id=policy.id, policyholder_id=holder.id, name="Zhang Wei", date_of_birth=date(1980, 5, 4)),
        Beneficiary(policy_id=policy.id, name="Zhang Xiaoming", relation_to_insured="child",
                    share_percent=Decimal("100")),
    ])
    session.commit()
    admin = make.user(Role.ADMIN)
    api(admin).post(f"/api/v1/policies/{policy.id}/payments", json={**VALID_PAYMENT, "reference": "6222 0200 1234"})
    api(admin).post(f"/api/v1/policies/{policy.id}/claims", json=VALID_CLAIM)
    api(admin).post(f"/api/v1/policies/{policy.id}/transitions", json={
        "to_status": "cancelled", "effective_date": clock.today().isoformat(), "reason": "Zhang Wei emigrated"})

    actuary = api(make.user(Role.ACTUARY))
    texts = [actuary.get(f"/api/v1/policies/{policy.id}{suffix}").get_data(as_text=True)
             for suffix in ("", "/payments", "/claims")] + [actuary.get("/api/v1/claims").get_data(as_text=True)]
    for text in texts:
        for secret in ("Zhang", "1980-05-04", "6222", "Harbin", "emigrated"):
            assert secret not in text
    detail = actuary.get(f"/api/v1/policies/{policy.id}").json
    assert detail["insured_persons"][0]["name"].startswith("IN-")
    assert detail["beneficiaries"][0]["name"].startswith("BE-")
    assert detail["number"] == policy.number  # not personal: actuaries join on it
    assert detail["status"] == "cancelled"
    admin_view = api(admin).get(f"/api/v1/policies/{policy.id}").json
    assert admin_view["insured_persons"][0]["name"] == "Zhang Wei"
