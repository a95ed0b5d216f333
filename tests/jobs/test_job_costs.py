"""The cost of a daily job follows the day's work (issue 8, point 8) — here, that the narrower formulations still
find all of it. The figures are in docs/benchmarks.md (``bench/jobs_growth.py``).

The key-customer job computes who is a key customer only for the day's candidates once it ran the day before:
those whose last service comes of age, whose calls, policies or record changed around the date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from agents.models import Activity, ActivityKind, ActivityStatus, TaskReason
from insurecrm import clock, jobs
from policies.models import PremiumFrequency
from policyholders.tasks import KEY_CUSTOMER_JOB, key_customer_callbacks, local_instant
from tests.helpers import saved

DAY = date(2026, 11, 22)


def at_nine(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai


def key_customer(make, **holder):
    customer = make.policyholder(**holder)
    make.policy(customer, premium=Decimal("5000.00"), frequency=PremiumFrequency.MONTHLY)
    return customer


def service(make, holder, status, at: datetime) -> Activity:
    return saved(make, Activity(agent_id=holder.owner_agent_id, org_unit_id=holder.org_unit_id,
                                kind=ActivityKind.CALL, subject="Service call", planned_start=at, status=status,
                                policyholder_id=holder.id))


def planned_for(session) -> set[int]:
    return set(session.scalars(select(Activity.policyholder_id).where(
        Activity.reason == TaskReason.KEY_CUSTOMER_CALL)))


@pytest.fixture
def ran_the_day_before(session):
    """Every key customer made on the day before is served by the run of that day (a call planned)."""
    def run():
        with clock.frozen(at_nine(DAY - timedelta(days=1))):
            jobs.run_job(jobs.registered([KEY_CUSTOMER_JOB])[0], DAY - timedelta(days=1))
        assert jobs.is_done(KEY_CUSTOMER_JOB, DAY - timedelta(days=1))
    return run


def test_after_a_successful_day_the_job_finds_every_kind_of_candidate(make, session, ran_the_day_before):
    since = local_instant(DAY - timedelta(days=90))
    with clock.frozen(at_nine(DAY - timedelta(days=120))):  # everything made long ago
        came_due = key_customer(make)
        service(make, came_due, ActivityStatus.DONE, since - timedelta(hours=10))
        cancelled = key_customer(make)
        cancelled_call = service(make, cancelled, ActivityStatus.PLANNED, at_nine(DAY + timedelta(days=3)))
        grew = make.policyholder()
        service(make, grew, ActivityStatus.DONE, since - timedelta(days=30))  # not a key customer until today
        served = key_customer(make)
        service(make, served, ActivityStatus.DONE, since + timedelta(days=1))
    ran_the_day_before()
    assert planned_for(session) == set()
    with clock.frozen(at_nine(DAY)):  # today: a call is cancelled, a large policy is written
        cancelled_call.status = ActivityStatus.CANCELLED
        make.policy(grew, premium=Decimal("60000.00"))
        session.commit()
        assert key_customer_callbacks(DAY) == {"key_customer_calls": 3}
    assert planned_for(session) == {came_due.id, cancelled.id, grew.id}
    keys = set(session.scalars(select(Activity.source_key).where(Activity.reason == TaskReason.KEY_CUSTOMER_CALL)))
    assert f"key_customer_call:holder={cancelled.id}:after={cancelled_call.id}" in keys
    assert f"key_customer_call:holder={came_due.id}:after=never" not in keys


def test_after_a_gap_the_job_looks_at_every_policyholder_once(make, session):
    with clock.frozen(at_nine(DAY - timedelta(days=120))):
        forgotten = key_customer(make)  # unchanged for months, never called
    with clock.frozen(at_nine(DAY)):
        assert not jobs.is_done(KEY_CUSTOMER_JOB, DAY - timedelta(days=1))
        assert key_customer_callbacks(DAY) == {"key_customer_calls": 1}
    assert planned_for(session) == {forgotten.id}


def test_after_a_successful_day_a_late_renewal_is_found_from_the_renewals_changed_lately(make, session):
    from policies.models import PolicyStatus
    from policies.tasks import STATUS_JOB, grace_and_lapse

    with clock.frozen(at_nine(DAY - timedelta(days=120))):
        expired = make.policy(expiry_date=DAY - timedelta(days=30), status=PolicyStatus.EXPIRED,
                              status_date=DAY - timedelta(days=30))
        renewal = make.policy(renews_policy_id=expired.id, status=PolicyStatus.QUOTED,
                              effective_date=DAY - timedelta(days=30))
        long_ago = make.policy(expiry_date=DAY - timedelta(days=60), status=PolicyStatus.EXPIRED,
                                status_date=DAY - timedelta(days=60))
        make.policy(renews_policy_id=long_ago.id, effective_date=DAY - timedelta(days=60))  # written long ago
    with clock.frozen(at_nine(DAY - timedelta(days=1))):  # the first run looks at every expired policy
        assert jobs.run_job(jobs.registered([STATUS_JOB])[0], DAY - timedelta(days=1)).counts["renewed"] == 1
    with clock.frozen(at_nine(DAY)):
        renewal.status = PolicyStatus.IN_FORCE  # the quote is put in force today
        session.commit()
        assert grace_and_lapse(DAY)["renewed"] == 1
    session.expire_all()
    assert expired.status == PolicyStatus.RENEWED and expired.status_date == DAY


def test_after_a_successful_day_the_policies_entering_grace_are_those_the_whole_arrears_give(make, session):
    """The narrow start of the move to grace (the installments that fell due on the day before, the policies
    changed since the run for the day before) finds exactly the policies the unpaid installments past due of the
    whole book find, without reading the arrears of lapsed policies."""
    from policies.models import Installment, InstallmentStatus, Policy, PolicyStatus, PolicyStatusChange
    from policies.tasks import STATUS_JOB, _entering_grace, _unpaid_installments, grace_and_lapse

    def installment(policy, due: date, status=InstallmentStatus.DUE, paid_date=None, sequence=1):
        paid = policy.premium if status == InstallmentStatus.PAID else Decimal("0")
        return saved(make, Installment(policy_id=policy.id, sequence=sequence, due_date=due, amount=policy.premium,
                                       paid_amount=paid, status=status, paid_date=paid_date))

    long_ago = DAY - timedelta(days=120)
    with clock.frozen(at_nine(long_ago)):
        lapsed = [make.policy(status=PolicyStatus.LAPSED, status_date=DAY - timedelta(days=40)) for _ in range(3)]
        for policy in lapsed:  # the book's arrears: unpaid for good
            installment(policy, DAY - timedelta(days=100))
            installment(policy, DAY - timedelta(days=70), sequence=2)
        reinstated = make.policy(status=PolicyStatus.LAPSED, status_date=DAY - timedelta(days=40))
        installment(reinstated, DAY - timedelta(days=70))
        owing_long = make.policy(status_date=long_ago)  # enters grace on the day before
        installment(owing_long, DAY - timedelta(days=10))
        fell_due = make.policy(status_date=long_ago)
        installment(fell_due, DAY - timedelta(days=1))
        paid_later = make.policy(status_date=long_ago)  # paid after the date: unpaid on it
        installment(paid_later, DAY - timedelta(days=1), InstallmentStatus.PAID, paid_date=DAY + timedelta(days=1))
        paid = make.policy(status_date=long_ago)
        installment(paid, DAY - timedelta(days=1), InstallmentStatus.PAID, paid_date=DAY - timedelta(days=1))
        due_today = make.policy(status_date=long_ago)
        installment(due_today, DAY)
        ended = make.policy(status_date=long_ago, expiry_date=DAY)
        installment(ended, DAY - timedelta(days=1))
    with clock.frozen(at_nine(DAY - timedelta(days=1))):
        assert jobs.run_job(jobs.registered([STATUS_JOB])[0], DAY - timedelta(days=1)).counts["to_grace"] == 1
    with clock.frozen(at_nine(DAY)):
        reinstated.status, reinstated.status_date = PolicyStatus.REINSTATED, DAY  # today, arrears still unpaid
        session.commit()
        session.expire_all()

        def running(policy_ids) -> set[int]:  # what may enter grace, term not ended
            return {policy.id for policy in map(lambda i: session.get(Policy, i), policy_ids)
                    if policy.status in (PolicyStatus.IN_FORCE, PolicyStatus.REINSTATED) and policy.expiry_date > DAY}

        narrow = set(session.scalars(_entering_grace(DAY)))
        assert not narrow & {policy.id for policy in lapsed}
        assert running(narrow) == running(session.scalars(_unpaid_installments(DAY))) == {
            fell_due.id, paid_later.id, reinstated.id}
        assert grace_and_lapse(DAY)["to_grace"] == 3
    moved = set(session.scalars(select(PolicyStatusChange.policy_id).where(
        PolicyStatusChange.to_status == PolicyStatus.GRACE, PolicyStatusChange.effective_date == DAY)))
    assert moved == {fell_due.id, paid_later.id, reinstated.id}
