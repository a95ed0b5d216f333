"""Short locks, every batch exactly once (issue 8, point 7): each daily job commits its work
``INSURECRM_JOBS_BATCH_SIZE`` rows at a time, and a run that crashed between two batches does, when run again for
its date, exactly what was left — the same final rows as a run that never crashed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from agents.models import Activity
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Outbox
from policies import tasks as policy_jobs
from policies.models import (
    Installment,
    InstallmentStatus,
    PolicyStatusChange,
    PremiumFrequency,
    RenewalCase,
    RenewalReminder,
)
from policyholders import tasks as holder_jobs
from tests.helpers import saved

DAY = date(2026, 11, 22)
ROWS = 5


class Crash(Exception):
    """The process dies between two batches."""


@pytest.fixture
def book(make, app, monkeypatch):
    """Five rows of work for each job on ``DAY``; batches of two."""
    monkeypatch.setitem(app.config, "JOBS_BATCH_SIZE", 2)
    renewable = make.product(renewable=True, callback_required=True, cooling_off_days=15)
    for n in range(ROWS):
        holder = make.policyholder(consent_email=True, consent_marketing=True, date_of_birth=date(1980, 11, 22))
        make.policy(holder, renewable, premium=Decimal("5000.00"), frequency=PremiumFrequency.MONTHLY,
                    effective_date=DAY - timedelta(days=2))  # a key customer with a new policy
        late = make.policy(holder, renewable, effective_date=DAY - timedelta(days=100), business_type="renewal")
        saved(make, Installment(policy_id=late.id, sequence=1, due_date=DAY - timedelta(days=3),
                                amount=late.premium, paid_amount=Decimal("0"), status=InstallmentStatus.DUE))
        expiring = make.policy(holder, renewable, expiry_date=DAY + timedelta(days=20 + n),
                               effective_date=DAY - timedelta(days=345 - n), business_type="renewal")
        if n % 2:
            saved(make, RenewalCase(policy_id=expiring.id, due_date=expiring.expiry_date, opened_on=DAY,
                                    org_unit_id=expiring.org_unit_id, assigned_agent_id=holder.owner_agent_id))
    with clock.frozen(datetime(2026, 11, 22, 1, 0, tzinfo=UTC)):
        yield


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


JOBS = {
    "open_renewal_cases": (policy_jobs.open_renewal_cases, lambda: count(RenewalCase), ROWS - ROWS // 2),
    "remind_renewals": (policy_jobs.remind_renewals, lambda: (count(Outbox), count(RenewalReminder)), (ROWS, ROWS)),
    "grace_and_lapse": (policy_jobs.grace_and_lapse, lambda: count(PolicyStatusChange), ROWS),
    "new_policy_callbacks": (policy_jobs.new_policy_callbacks, lambda: count(Activity), ROWS),
    "birthday_greetings": (holder_jobs.birthday_greetings, lambda: count(Outbox), ROWS),
    "key_customer_callbacks": (holder_jobs.key_customer_callbacks, lambda: count(Activity), ROWS),
}


@pytest.mark.parametrize("name", JOBS)
def test_a_run_that_crashed_between_batches_does_exactly_what_was_left(book, session, monkeypatch, name):
    job, rows, expected = JOBS[name]
    if name == "remind_renewals":
        policy_jobs.open_renewal_cases(DAY)  # every expiring policy gets its case first
    before = rows()
    commits = []
    real_commit = db.session.commit

    def crash_after_the_first_batch():
        if commits:
            raise Crash
        commits.append(1)
        real_commit()

    monkeypatch.setattr(db.session, "commit", crash_after_the_first_batch)
    with pytest.raises(Crash):
        job(DAY)
    monkeypatch.undo()
    session.rollback()  # what the runner does with a failed run: the second batch is gone, the first stays
    done_by_the_crashed_run = rows()
    assert done_by_the_crashed_run != before and done_by_the_crashed_run != _added(before, expected)

    job(DAY)  # the rerun for the same date
    assert rows() == _added(before, expected)
    job(DAY)
    assert rows() == _added(before, expected)  # and a third run adds nothing


def _added(before, expected):
    if isinstance(expected, tuple):
        return tuple(b + e for b, e in zip(before, expected, strict=True))
    return before + expected
