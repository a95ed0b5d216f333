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
