"""The once-per-date guard of daily jobs and the owed dates, in one process (both databases)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from insurecrm import clock, jobs
from insurecrm.models import JobRun, JobRunStatus, Outbox, OutboxChannel

DAY = date(2026, 11, 22)
#: 11:00 in Shanghai on DAY: after the default run hour
NOW = datetime(2026, 11, 22, 3, tzinfo=UTC)


@pytest.fixture
def ledger(app, monkeypatch):
    """A registry holding only two test jobs, which write one outbox row per run (the visible work)."""
    monkeypatch.setattr(jobs, "_registry", {})
    calls: list[tuple[str, date]] = []

    def make_job(job_id, order):
        @jobs.daily_job(job_id, order=order)
        def job(logical_date):
            calls.append((job_id, logical_date))
            from insurecrm.db import db

            db.session.add(Outbox(idempotency_key=f"{job_id}:{logical_date}", kind="test", channel=OutboxChannel.TASK))
            db.session.flush()
            return {"rows": 1}

    make_job("test.first", 1)
    make_job("test.second", 2)
    with clock.frozen(NOW):
        yield calls


def outbox_count(session) -> int:
    return session.scalar(select(func.count(Outbox.id)))


def claimed(session, job_id: str) -> list[date]:
    return sorted(session.scalars(select(JobRun.logical_date).where(JobRun.job_id == job_id, JobRun.attempt_key == "")))


def test_a_job_runs_once_per_date(ledger, session):
    job = jobs.registered(["test.first"])[0]
    run = jobs.run_job(job, DAY)
    assert run.counts == {"rows": 1} and run.status == JobRunStatus.SUCCEEDED
    assert jobs.run_job(job, DAY) is None
    assert outbox_count(session) == 1
    assert jobs.run_job(job, DAY - timedelta(days=1)) is not None


def test_a_failing_job_leaves_no_claim_and_is_recorded_as_failed(ledger, session):
    calls = ledger

    @jobs.daily_job("test.broken", order=3)
    def broken(logical_date):
        calls.append(("test.broken", logical_date))
        session.add(Outbox(idempotency_key=f"broken:{logical_date}", kind="test", channel=OutboxChannel.TASK))
        session.flush()
        raise RuntimeError("job failed half-way")

    job = jobs.registered(["test.broken"])[0]
    with pytest.raises(RuntimeError):
        jobs.run_job(job, DAY)
    assert outbox_count(session) == 0  # what it had not committed is rolled back
    failed = session.scalars(select(JobRun).where(JobRun.job_id == "test.broken")).all()
    assert [r.status for r in failed] == [JobRunStatus.FAILED] and "half-way" in failed[0].error
    assert not jobs.is_done("test.broken", DAY)


def test_catch_up_runs_missed_dates_in_order_date_by_date(ledger, session):
    calls = ledger
    for job in jobs.registered():
        jobs.run_job(job, DAY - timedelta(days=3))
    calls.clear()
    runs = jobs.catch_up(DAY)
    assert calls == [(job_id, DAY - timedelta(days=n)) for n in (2, 1, 0) for job_id in ("test.first", "test.second")]
    assert len(runs) == 6
    assert jobs.catch_up(DAY) == []


def test_a_gap_before_the_latest_run_is_owed_too(ledger, session):
    # hand runs claimed T-5 and T-2 alone (as the old `jobs run --date` did): T-4 and T-3 must not be forgotten
    for job in jobs.registered():
        jobs.run_job(job, DAY - timedelta(days=5))
        jobs.run_job(job, DAY - timedelta(days=2))
    jobs.catch_up(DAY)
    for job_id in ("test.first", "test.second"):
        assert claimed(session, job_id) == [DAY - timedelta(days=n) for n in range(5, -1, -1)]


def test_a_job_behind_the_others_is_caught_up_and_a_new_job_starts_where_they_stand(ledger, session):
    first, second = jobs.registered()
    jobs.run_job(first, DAY - timedelta(days=1))
    jobs.run_job(second, DAY - timedelta(days=2))

    @jobs.daily_job("test.new", order=3)
    def new(logical_date):
        return {}

    jobs.catch_up(DAY)
    assert claimed(session, "test.first") == [DAY - timedelta(days=1), DAY]
    assert claimed(session, "test.second") == [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    assert claimed(session, "test.new") == [DAY]


def test_first_ever_start_runs_today_only(ledger, session):
    assert {run.logical_date for run in jobs.catch_up(DAY)} == {DAY}
