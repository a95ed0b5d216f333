"""Outcomes do not depend on when the job ran (issue 8, point 4): grace and lapse for a past date are judged on
the payments known up to that date, so daily runs and a catch-up after an outage write the same history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from insurecrm import clock
from insurecrm.db import db
from policies.models import Installment, InstallmentStatus, PolicyStatus, PolicyStatusChange, PremiumFrequency
from policies.payments import apply_payment, grace_ended_before
from policies.tasks import grace_and_lapse
from tests.helpers import saved

S = PolicyStatus
PREMIUM = Decimal("100.00")
#: the second installment falls due on 11-11; with 30 days of grace the policy lapses on 12-12
DUE = date(2026, 11, 11)
LAPSE_DAY = date(2026, 12, 12)


def at_nine(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.fixture
def policy(make):
    """A monthly policy: the October installment paid, November's (due 11-11) not yet."""
    policy = make.policy(product=make.product(grace_period_days=30), effective_date=date(2026, 10, 11),
                         premium=PREMIUM, frequency=PremiumFrequency.MONTHLY)
    saved(make, Installment(policy_id=policy.id, sequence=1, due_date=date(2026, 10, 11), amount=PREMIUM,
                            paid_amount=PREMIUM, status=InstallmentStatus.PAID, paid_date=date(2026, 10, 11)))
    saved(make, Installment(policy_id=policy.id, sequence=2, due_date=DUE, amount=PREMIUM,
                            paid_amount=Decimal("0"), status=InstallmentStatus.DUE))
    return policy


def run_days(dates: list[date], pay_on: date | None = None, policy=None, today: date | None = None) -> None:
    """The scheduler's runs: each date at 01:00 of its day (or all at once on ``today``: a catch-up); the
    premium is paid later in the day ``pay_on``."""
    for day in dates:
        with clock.frozen(at_nine(today or day)):
            grace_and_lapse(day)
        if day == pay_on:
            pay(policy, day)


def pay(policy, day: date) -> None:
    db.session.refresh(policy)  # as a request loads it: the job moved it in SQL
    with clock.frozen(at_nine(day)):
        apply_payment(policy, PREMIUM, day)


def history(session, policy) -> list[tuple]:
    return [tuple(row) for row in session.execute(
        select(PolicyStatusChange.from_status, PolicyStatusChange.to_status, PolicyStatusChange.effective_date)
        .where(PolicyStatusChange.policy_id == policy.id, PolicyStatusChange.from_status.is_not(None))
        .order_by(PolicyStatusChange.id))]


@pytest.mark.parametrize("runs", ["daily", "catch-up"])
def test_a_premium_paid_the_day_after_grace_ended_does_not_undo_the_lapse(policy, session, runs):
    pay_on = LAPSE_DAY + timedelta(days=1)
    if runs == "daily":
        run_days(days(DUE, date(2026, 12, 20)), pay_on=pay_on, policy=policy)
    else:  # the scheduler is down from 12-01 to 12-20; the payment is recorded on 12-13 meanwhile
        run_days(days(DUE, date(2026, 11, 30)))
        pay(policy, pay_on)
        assert policy.status == S.GRACE  # its grace ended on 12-12: the lapse is owed, the payment cannot undo it
        run_days(days(date(2026, 12, 1), date(2026, 12, 20)), today=date(2026, 12, 20))
    session.expire_all()
    assert history(session, policy) == [(S.IN_FORCE, S.GRACE, DUE + timedelta(days=1)),
                                        (S.GRACE, S.LAPSED, LAPSE_DAY)]
    assert policy.status == S.LAPSED  # reinstated only by the reinstatement rule (its arrears are paid)


@pytest.mark.parametrize("runs", ["daily", "catch-up"])
def test_a_premium_paid_within_grace_during_an_outage_brings_the_policy_back_in_force_on_the_payment_day(
        policy, session, runs):
    pay_on = date(2026, 11, 20)
    if runs == "daily":
        run_days(days(DUE, date(2026, 12, 20)), pay_on=pay_on, policy=policy)
    else:  # down from 11-05: the payment finds the policy in force, the catch-up puts it in grace on 11-12
        pay(policy, pay_on)
        assert policy.status == S.IN_FORCE
        run_days(days(date(2026, 11, 5), date(2026, 12, 20)), today=date(2026, 12, 20))
    session.expire_all()
    assert history(session, policy) == [(S.IN_FORCE, S.GRACE, DUE + timedelta(days=1)),
                                        (S.GRACE, S.IN_FORCE, pay_on)]
    assert policy.status == S.IN_FORCE


def test_a_catch_up_judges_each_date_on_the_payments_known_then(policy, session):
    pay(policy, date(2026, 11, 15))
    with clock.frozen(at_nine(date(2026, 11, 20))):
        assert grace_and_lapse(date(2026, 11, 12))["to_grace"] == 1  # unpaid on 11-12, paid on 11-15


def test_grace_ended_before_follows_the_jobs_lapse_day(policy, session):
    policy.status, policy.status_date = S.GRACE, DUE + timedelta(days=1)
    session.flush()
    assert not grace_ended_before(policy, LAPSE_DAY)  # paid on the lapse day itself: in time
    assert grace_ended_before(policy, LAPSE_DAY + timedelta(days=1))
