"""Payments: allocation to the oldest open installments, refusals, grace → in force, commissions, audit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from insurecrm.models import AuditLog
from policies.models import (
    BusinessType,
    Commission,
    Installment,
    Payment,
    PaymentAllocation,
    PolicyStatus,
    PremiumFrequency,
    SalesChannel,
)
from tests.policies.conftest import TODAY, months_ago

YEAR = relativedelta(years=1)


def pay(api, user, policy, amount, paid_on=None, **kw):
    return api(user).post(f"/api/v1/policies/{policy.id}/payments",
                          json={"amount": amount, "paid_on": (paid_on or TODAY).isoformat(), **kw})


def installments(session, policy) -> list[tuple[str, str, str]]:
    rows = session.scalars(select(Installment).where(Installment.policy_id == policy.id).order_by(Installment.sequence))
    return [(str(i.paid_amount), i.status.value, i.paid_date and i.paid_date.isoformat()) for i in rows]


def counts(session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(model))
                 for model in (Payment, PaymentAllocation, Commission))


@pytest.fixture
def monthly(scheduled_policy, seller):
    """A monthly policy of the seller, 100.00 a month, effective six months ago."""
    return scheduled_policy(policyholder=seller.holder, frequency=PremiumFrequency.MONTHLY,
                            effective_date=months_ago(6), expiry_date=months_ago(6) + YEAR)


def test_partial_payment_leaves_the_installment_partially_paid(api, seller, session, monthly):
    response = pay(api, seller.user, monthly, "60.00", method="cash", reference="R-1")
    assert response.status_code == 201, response.json
    assert response.json["allocations"] == [{"installment_id": response.json["allocations"][0]["installment_id"],
                                             "amount": "60.00"}]
    assert installments(session, monthly)[:2] == [("60.00", "partially_paid", None), ("0.00", "due", None)]


def test_exact_payment_pays_the_oldest_installment(api, seller, session, monthly):
    assert pay(api, seller.user, monthly, "100").status_code == 201
    assert installments(session, monthly)[:2] == [("100.00", "paid", TODAY.isoformat()), ("0.00", "due", None)]


def test_a_payment_spreads_over_several_installments_oldest_first(api, seller, session, monthly):
    pay(api, seller.user, monthly, "60.00")
    response = pay(api, seller.user, monthly, "190.00")
    assert [a["amount"] for a in response.json["allocations"]] == ["40.00", "100.00", "50.00"]
    assert installments(session, monthly)[:4] == [
        ("100.00", "paid", TODAY.isoformat()), ("100.00", "paid", TODAY.isoformat()),
        ("50.00", "partially_paid", None), ("0.00", "due", None)]
    listed = api(seller.user).get(f"/api/v1/policies/{monthly.id}/payments").json
    assert [p["amount"] for p in listed["items"]] == ["60.00", "190.00"]


def test_overpayment_is_refused_and_nothing_is_written(api, seller, session, scheduled_policy):
    policy = scheduled_policy(policyholder=seller.holder, frequency=PremiumFrequency.QUARTERLY,
                              effective_date=months_ago(3), expiry_date=months_ago(3) + YEAR)
    response = pay(api, seller.user, policy, "400.01")
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"amount"}
    assert counts(session) == (0, 0, 0)
    assert {status for _, status, _ in installments(session, policy)} == {"due"}
    assert pay(api, seller.user, policy, "400.00").status_code == 201
    assert pay(api, seller.user, policy, "0.01").status_code == 422


def test_zero_amount_and_future_date_are_refused(api, seller, session, monthly):
    response = api(seller.user).post(f"/api/v1/policies/{monthly.id}/payments",
                                     json={"amount": "0", "paid_on": (TODAY + timedelta(days=30)).isoformat()})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"amount", "paid_on"}
    assert counts(session) == (0, 0, 0)


@pytest.mark.parametrize("status", [PolicyStatus.CANCELLED, PolicyStatus.EXPIRED, PolicyStatus.MATURED,
                                    PolicyStatus.RENEWED, PolicyStatus.TERMINATED_BY_CLAIM])
def test_an_ended_policy_takes_no_payment(api, seller, session, scheduled_policy, status):
    policy = scheduled_policy(policyholder=seller.holder, status=status, effective_date=months_ago(2))
    response = pay(api, seller.user, policy, "100")
    assert response.status_code == 422
    assert counts(session) == (0, 0, 0)


def test_paying_the_overdue_installments_moves_a_policy_from_grace_back_in_force(api, make, seller, session,
                                                                                 scheduled_policy):
    # a grace period long enough that the oldest installment (due three months ago) is still within it
    policy = scheduled_policy(policyholder=seller.holder, frequency=PremiumFrequency.MONTHLY,
                              product=make.product(grace_period_days=120),
                              effective_date=months_ago(3) + timedelta(days=1), status=PolicyStatus.GRACE,
                              status_date=months_ago(2))
    assert pay(api, seller.user, policy, "200").status_code == 201
    assert api(seller.user).get(f"/api/v1/policies/{policy.id}").json["status"] == "grace"
    assert pay(api, seller.user, policy, "100").status_code == 201
    body = api(seller.user).get(f"/api/v1/policies/{policy.id}").json
    assert body["status"] == "in_force"
    assert body["status_date"] == TODAY.isoformat()
    assert (body["status_history"][-1]["from_status"], body["status_history"][-1]["to_status"]) == (
        "grace", "in_force")


def commissions(session, policy) -> list[tuple[str, str, str, str, str]]:
    rows = session.scalars(select(Commission).where(Commission.policy_id == policy.id)
                           .order_by(Commission.payee, Commission.kind))
    return [(c.payee.value, c.kind.value, str(c.rate), str(c.base_amount), str(c.amount)) for c in rows]


def test_first_year_commission_then_renewal_commission(api, make, seller, session, scheduled_policy):
    product = make.product(first_year_commission_rate=Decimal("0.2000"), renewal_commission_rate=Decimal("0.0500"))
    policy = scheduled_policy(policyholder=seller.holder, product=product, frequency=PremiumFrequency.MONTHLY,
                              effective_date=months_ago(13), expiry_date=months_ago(13) + 2 * YEAR)
    assert pay(api, seller.user, policy, "1300.00").status_code == 201
    assert commissions(session, policy) == [("agent", "first_year", "0.2000", "1200.00", "240.00"),
                                            ("agent", "renewal", "0.0500", "100.00", "5.00")]
    listed = api(seller.user).get(f"/api/v1/policies/{policy.id}/commissions").json
    assert {c["agent_id"] for c in listed["items"]} == {seller.agent.id}


@pytest.mark.parametrize(("business_type", "kind"), [(BusinessType.NEW, "first_year"),
                                                     (BusinessType.TRANSFER_IN, "first_year"),
                                                     (BusinessType.RENEWAL, "renewal")])
def test_renewal_business_earns_renewal_commission_from_the_start(api, seller, session, scheduled_policy,
                                                                  business_type, kind):
    policy = scheduled_policy(policyholder=seller.holder, business_type=business_type, effective_date=months_ago(1))
    pay(api, seller.user, policy, "100.00")
    assert [row[1] for row in commissions(session, policy)] == [kind]


def test_bancassurance_policy_splits_the_commission_with_the_bank_rounded_half_up(api, make, seller, session,
                                                                                  scheduled_policy):
    # commission 10.10 × 0.08 = 0.808 → 0.81; the bank 10.10 × 0.05 = 0.505 → 0.51; the agent 0.81 − 0.51 = 0.30
    product = make.product(first_year_commission_rate=Decimal("0.0800"), bank_share_rate=Decimal("0.0100"))
    bank = make.bank_partner(commission_rate=Decimal("0.0500"))
    policy = scheduled_policy(policyholder=seller.holder, product=product, channel=SalesChannel.BANCASSURANCE,
                              bank_partner_id=bank.id, premium=Decimal("10.10"), effective_date=months_ago(1))
    assert pay(api, seller.user, policy, "10.10").status_code == 201
    assert commissions(session, policy) == [("agent", "first_year", "0.0300", "10.10", "0.30"),
                                            ("bank_partner", "first_year", "0.0500", "10.10", "0.51")]
    [bank_row] = session.scalars(select(Commission).where(Commission.bank_partner_id == bank.id))
    assert bank_row.agent_id is None


def test_no_bank_row_when_the_partner_takes_nothing(api, make, seller, session, scheduled_policy):
    policy = scheduled_policy(policyholder=seller.holder, product=make.product(bank_share_rate=Decimal("0.0500")),
                              channel=SalesChannel.BANCASSURANCE,
                              bank_partner_id=make.bank_partner(commission_rate=Decimal("0")).id,
                              effective_date=months_ago(1))
    pay(api, seller.user, policy, "100.00")
    assert [row[0] for row in commissions(session, policy)] == ["agent"]


def test_a_payment_is_audited(api, seller, session, monthly):
    payment_id = pay(api, seller.user, monthly, "100").json["id"]
    [row] = session.scalars(select(AuditLog).where(AuditLog.entity_type == "payments",
                                                   AuditLog.entity_id == payment_id))
    assert (row.action, row.actor_user_id, row.changes["amount"]) == ("create", seller.user.id, [None, "100.00"])
