"""Earned premium: each paid installment earns day by day over the cover it pays for, from its due date to the day
before the next one's (the last to the day before the expiry); the same Decimal answers on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from insurecrm import clock
from insurecrm.db import db
from policies.models import (
    Claim,
    ClaimStatus,
    Commission,
    CommissionKind,
    CommissionPayee,
    Installment,
    InstallmentStatus,
    PolicyStatus,
    PremiumFrequency,
)
from policyholders.models import Interaction, InteractionChannel, ServiceCategory, ServiceKind, ServiceRequest
from reports.earned import earned_premium, policy_figures
from reports.tables import Column, cell

MONEY = Column("amount", "", "money")


# -- helpers shared by the report tests (tests/reports/test_contribution.py, test_loss_ratio.py, test_channels.py) --

def pay_schedule(make, policy, amounts_due: list[tuple[date, str]], *, paid: int | None = None,
                 paid_amount: str | None = None) -> list[Installment]:
    """Installments of ``policy`` due on the dates with the amounts given; the first ``paid`` of them paid in full
    (all by default), the others unpaid — or each paid ``paid_amount``."""
    rows = []
    for sequence, (due, amount) in enumerate(amounts_due, start=1):
        settled = paid is None or sequence <= paid
        received = Decimal(paid_amount) if paid_amount is not None else (Decimal(amount) if settled else Decimal(0))
        rows.append(Installment(
            policy_id=policy.id, sequence=sequence, due_date=due, amount=Decimal(amount), paid_amount=received,
            paid_date=due if received == Decimal(amount) else None,
            status=InstallmentStatus.PAID if received == Decimal(amount) else InstallmentStatus.DUE))
    make.session.add_all(rows)
    make.session.commit()
    return rows


def monthly(first: date, months: int, amount: str) -> list[tuple[date, str]]:
    return [(date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, first.day), amount)
            for n in range(months)]


def claim(make, policy, loss_date: date, incurred: str, paid: str = "0", status=ClaimStatus.APPROVED) -> Claim:
    return make._add(Claim(number=f"C{policy.id}-{loss_date:%Y%m%d}-{incurred}-{status}", policy_id=policy.id,
                           loss_date=loss_date, report_date=loss_date, status=status,
                           incurred_amount=Decimal(incurred), paid_amount=Decimal(paid)))


def commission(make, policy, earned_on: date, amount: str) -> Commission:
    return make._add(Commission(policy_id=policy.id, payee=CommissionPayee.AGENT, agent_id=policy.servicing_agent_id,
                                kind=CommissionKind.FIRST_YEAR, rate=Decimal("0.1"), base_amount=Decimal(amount) * 10,
                                amount=Decimal(amount), earned_on=earned_on))


def service_request(make, holder, opened_at: datetime, cost: str, policy=None,
                    kind=ServiceKind.SERVICE) -> ServiceRequest:
    return make._add(ServiceRequest(policyholder_id=holder.id, policy_id=policy.id if policy else None, kind=kind,
                                    category=ServiceCategory.ENQUIRY, subject="Question", opened_at=opened_at,
                                    due_at=opened_at, cost=Decimal(cost)))


def interaction(make, holder, occurred_at: datetime, cost: str | None, policy=None) -> Interaction:
    return make._add(Interaction(policyholder_id=holder.id, policy_id=policy.id if policy else None,
                                 channel=InteractionChannel.VISIT, occurred_at=occurred_at, summary="Visit",
                                 cost=None if cost is None else Decimal(cost)))


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """An instant at ``hour:minute`` of the local ``day`` (the insurer's time zone), as stored: in UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.zone()).astimezone(UTC)


def money(value) -> Decimal | None:
    return cell(MONEY, {"amount": value}, pseudonymise=False)


def earned(start: date, end: date, *policies) -> dict[int, Decimal]:
    from policies.models import Policy

    sub = earned_premium(start, end, Policy.id.in_([p.id for p in policies]))
    return {policy_id: money(value) for policy_id, value in db.session.execute(select(sub.c.policy_id, sub.c.earned))}


# -- earned premium -----------------------------------------------------------------------------------------

def test_an_annual_premium_straddling_the_period_start_and_end(make):
    # cover 2025-07-01 .. 2026-06-30: 365 days at 1.00 a day (365.00 paid)
    policy = make.policy(effective_date=date(2025, 7, 1), expiry_date=date(2026, 7, 1), premium=Decimal("365.00"))
    pay_schedule(make, policy, [(date(2025, 7, 1), "365.00")])
    # straddles the start: 2026-01-01 .. 2026-03-31 is 31 + 28 + 31 = 90 days → 90.00
    assert earned(date(2026, 1, 1), date(2026, 3, 31), policy) == {policy.id: Decimal("90.00")}
    # straddles the end: 2025-01-01 .. 2025-07-10 holds 10 days of cover → 10.00
    assert earned(date(2025, 1, 1), date(2025, 7, 10), policy) == {policy.id: Decimal("10.00")}
    # inside the cover on both sides: 2025-12-25 .. 2026-01-05 is 12 days → 12.00
    assert earned(date(2025, 12, 25), date(2026, 1, 5), policy) == {policy.id: Decimal("12.00")}
    # wholly before or after the cover: nothing, and no row
    assert earned(date(2026, 7, 1), date(2026, 12, 31), policy) == {}
    assert earned(date(2024, 1, 1), date(2025, 6, 30), policy) == {}


def test_monthly_annual_and_single_premiums(make):
    period = (date(2026, 1, 15), date(2026, 2, 14))
    month = make.policy(effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1),
                        frequency=PremiumFrequency.MONTHLY, premium=Decimal("100.00"))
    pay_schedule(make, month, monthly(date(2026, 1, 1), 12, "100.00"))
    year = make.policy(effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), premium=Decimal("1200.00"))
    pay_schedule(make, year, [(date(2026, 1, 1), "1200.00")])
    single = make.policy(effective_date=date(2025, 1, 1), expiry_date=date(2028, 1, 1),
                         frequency=PremiumFrequency.SINGLE, premium=Decimal("3000.00"))
    pay_schedule(make, single, [(date(2025, 1, 1), "3000.00")])
    assert earned(*period, month, year, single) == {
        # January's 100.00 covers 31 days, 17 of them (15th–31st) inside; February's covers 28 days, 14 inside:
        # 100 × 17/31 + 100 × 14/28 = 54.8387 + 50.00 = 104.84
        month.id: Decimal("104.84"),
        # 1200.00 over 365 days, 31 inside: 1200 × 31/365 = 101.9178 → 101.92
        year.id: Decimal("101.92"),
        # one premium over the whole term 2025-01-01 .. 2027-12-31 = 1095 days, 31 inside: 3000 × 31/1095 = 84.93
        single.id: Decimal("84.93"),
    }


def test_a_policy_cancelled_mid_term_earns_only_what_was_paid(make):
    # monthly 100.00 from 2026-01-01, cancelled in April: three installments paid, the nine others never
    policy = make.policy(effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), status=PolicyStatus.CANCELLED,
                         frequency=PremiumFrequency.MONTHLY, premium=Decimal("100.00"), status_date=date(2026, 4, 1))
    pay_schedule(make, policy, monthly(date(2026, 1, 1), 12, "100.00"), paid=3)
    # the whole year: January, February and March were paid and fully covered → 300.00
    assert earned(date(2026, 1, 1), date(2026, 12, 31), policy) == {policy.id: Decimal("300.00")}
    # from April on: nothing received, nothing earned
    assert earned(date(2026, 4, 1), date(2026, 12, 31), policy) == {}


def test_a_partly_paid_installment_earns_what_was_received(make):
    policy = make.policy(effective_date=date(2026, 3, 1), expiry_date=date(2026, 4, 1), premium=Decimal("310.00"),
                         frequency=PremiumFrequency.SINGLE)
    pay_schedule(make, policy, [(date(2026, 3, 1), "310.00")], paid_amount="62.00")
    # 62.00 of 310.00 received, over 31 days; 10 days in 2026-03-01 .. 2026-03-10 → 62 × 10/31 = 20.00
    assert earned(date(2026, 3, 1), date(2026, 3, 10), policy) == {policy.id: Decimal("20.00")}


def test_a_leap_year_has_366_days_of_cover(make):
    policy = make.policy(effective_date=date(2024, 1, 1), expiry_date=date(2025, 1, 1), premium=Decimal("366.00"))
    pay_schedule(make, policy, [(date(2024, 1, 1), "366.00")])
    # 366.00 over 366 days: February 2024 holds 29 of them → 29.00; the whole of 2024 → 366.00
    assert earned(date(2024, 2, 1), date(2024, 2, 29), policy) == {policy.id: Decimal("29.00")}
    assert earned(date(2024, 1, 1), date(2024, 12, 31), policy) == {policy.id: Decimal("366.00")}
    # a 2024-03-01 start over 2024-03-01 .. 2025-02-28 (365 days, no 29 February): 730.00 is 2.00 a day
    later = make.policy(effective_date=date(2024, 3, 1), expiry_date=date(2025, 3, 1), premium=Decimal("730.00"))
    pay_schedule(make, later, [(date(2024, 3, 1), "730.00")])
    assert earned(date(2025, 2, 1), date(2025, 2, 28), later) == {later.id: Decimal("56.00")}  # 28 days × 2.00


def test_a_cooling_off_cancellation_earns_nothing(make):
    policy = make.policy(effective_date=date(2026, 1, 1), status=PolicyStatus.CANCELLED,
                         cooling_off_cancellation=True)
    pay_schedule(make, policy, [(date(2026, 1, 1), "1200.00")])
    assert earned(date(2026, 1, 1), date(2026, 12, 31), policy) == {}


def test_policy_figures_by_loss_date_earned_on_and_service_date(make):
    holder = make.policyholder()
    policy = make.policy(holder, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1),
                         premium=Decimal("365.00"))
    pay_schedule(make, policy, [(date(2026, 1, 1), "365.00")])
    claim(make, policy, date(2026, 3, 1), "100.00", "40.00")  # first day: in
    claim(make, policy, date(2026, 3, 31), "50.00", "50.00", status=ClaimStatus.PAID)  # last day: in
    claim(make, policy, date(2026, 2, 28), "1000.00")  # the day before: out
    claim(make, policy, date(2026, 4, 1), "2000.00")  # the day after: out
    claim(make, policy, date(2026, 3, 15), "700.00", status=ClaimStatus.REJECTED)  # rejected: out
    commission(make, policy, date(2026, 3, 31), "30.00")
    commission(make, policy, date(2026, 4, 1), "999.00")  # earned after the period
    # local days (Shanghai): 2026-03-01 00:30 local is 2026-02-28 16:30 UTC, inside; 2026-04-01 00:30 local is not
    service_request(make, holder, local(date(2026, 3, 1), 0, 30), "5.00", policy)
    service_request(make, holder, local(date(2026, 4, 1), 0, 30), "99.00", policy)
    interaction(make, holder, local(date(2026, 3, 20)), "2.50", policy)
    interaction(make, holder, local(date(2026, 3, 20)), "8.00")  # names no policy: the policyholder's, not the policy's
    from policies.models import Policy

    sub = policy_figures(date(2026, 3, 1), date(2026, 3, 31), Policy.id == policy.id)
    row = db.session.execute(select(sub)).one()._mapping
    assert {key: money(row[key]) for key in ("earned", "incurred", "paid", "commission", "service_cost",
                                             "contribution")} == {
        "earned": Decimal("31.00"),  # 31 days × 1.00
        "incurred": Decimal("150.00"),  # 100 + 50
        "paid": Decimal("90.00"),  # 40 + 50
        "commission": Decimal("30.00"),
        "service_cost": Decimal("7.50"),  # 5.00 + 2.50
        "contribution": Decimal("-156.50"),  # 31 − 150 − 30 − 7.50
    }
    assert row["claims"] == 2


def table_rows(result, key: str, *, pseudonymise: bool = False) -> list[dict]:
    """A report table's rows as every output shows them (:func:`reports.tables.cell`), by column key."""
    table = result.table(key)
    return [{column.key: cell(column, row, pseudonymise=pseudonymise) for column in table.columns}
            for row in table.rows()]
