"""The premium schedule: due dates per frequency, end-of-month safety, and the schedule written with a policy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

import insurecrm.registry  # noqa: F401 - maps every model, so a transient Policy can be built
from policies.models import Installment, Policy, PremiumFrequency
from policies.schedule import build_schedule, schedule_dates


def transient_policy(**kw) -> Policy:
    return Policy(**{"effective_date": date(2026, 1, 1), "expiry_date": date(2027, 1, 1), "premium": Decimal("100.00"),
                     "frequency": PremiumFrequency.MONTHLY, **kw})


def test_monthly_over_a_year_is_twelve_installments_of_the_modal_premium():
    installments = build_schedule(transient_policy())
    assert [i.sequence for i in installments] == list(range(1, 13))
    assert sum(i.amount for i in installments) == Decimal("1200.00")
    assert installments[0].due_date == date(2026, 1, 1)
    assert installments[-1].due_date == date(2026, 12, 1)
    assert {i.paid_amount for i in installments} == {Decimal("0")}


def test_a_31_january_start_stays_at_the_end_of_each_month():
    dates = schedule_dates(date(2027, 1, 31), date(2028, 1, 31), "monthly")
    assert dates[:5] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]
    assert len(dates) == 12
    assert schedule_dates(date(2028, 1, 31), date(2028, 4, 1), "monthly")[1] == date(2028, 2, 29)


def test_single_premium_is_one_installment_on_the_effective_date():
    [only] = build_schedule(transient_policy(frequency=PremiumFrequency.SINGLE, expiry_date=date(2046, 1, 1)))
    assert (only.sequence, only.due_date, only.amount) == (1, date(2026, 1, 1), Decimal("100.00"))


def test_quarterly_semiannual_and_annual():
    start, end = date(2026, 1, 15), date(2027, 1, 15)
    assert schedule_dates(start, end, PremiumFrequency.QUARTERLY) == [
        date(2026, 1, 15), date(2026, 4, 15), date(2026, 7, 15), date(2026, 10, 15)]
    assert schedule_dates(start, end, PremiumFrequency.SEMIANNUAL) == [date(2026, 1, 15), date(2026, 7, 15)]
    assert schedule_dates(start, date(2029, 1, 15), PremiumFrequency.ANNUAL) == [
        date(2026, 1, 15), date(2027, 1, 15), date(2028, 1, 15)]


def test_a_due_date_on_the_expiry_date_is_not_scheduled_and_no_term_means_no_installment():
    assert schedule_dates(date(2026, 1, 1), date(2026, 4, 1), "quarterly") == [date(2026, 1, 1)]
    assert schedule_dates(date(2026, 1, 1), date(2026, 1, 1), "monthly") == []


def test_creating_a_policy_writes_its_schedule(api, make, seller, session):
    product = make.product(frequencies=["quarterly"])
    response = api(seller.user).post("/api/v1/policies", json={
        "policyholder_id": seller.holder.id, "product_id": product.id, "effective_date": "2026-01-31",
        "sum_insured": "50000", "premium": "250.50", "frequency": "quarterly"})
    assert response.status_code == 201, response.json
    listed = api(seller.user).get(f"/api/v1/policies/{response.json['id']}/installments").json
    assert [(i["sequence"], i["due_date"], i["amount"], i["status"]) for i in listed["items"]] == [
        (1, "2026-01-31", "250.50", "due"), (2, "2026-04-30", "250.50", "due"),
        (3, "2026-07-31", "250.50", "due"), (4, "2026-10-31", "250.50", "due")]
    assert session.scalar(select(func.count(Installment.id))) == 4
