"""The runner's plan, in one process (both databases): the catch-up limit and skipped dates, hand runs, failures
kept to the failing job and its dependants, a failure recorded after the database comes back, the run hour."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from insurecrm import clock, jobplan, jobs, scheduler
from insurecrm.db import db
from insurecrm.models import JobRun, JobRunStatus

DAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 3, tzinfo=UTC)  # 11:00 in Shanghai: after the run hour (1 by default)


@pytest.fixture
def book(app, monkeypatch):
    """Test jobs ``a`` ← ``b`` (b depends on a) and ``c`` on its own; ``broken`` holds the (job, date) pairs that
    fail. Returns (calls, broken)."""
    monkeypatch.setattr(jobs, "_registry", {})
    calls: list[tuple[str, date]] = []
    broken: set[tuple[str, date]] = set()

    def make_job(job_id, order, depends_on=()):
        @jobs.daily_job(job_id, order=order, depends_on=depends_on)
        def job(logical_date):
            if (job_id, logical_date) in broken:
                raise RuntimeError(f"{job_id} broke on {logical_date}")
            calls.append((job_id, logical_date))
            return {"done": 1}

    make_job("t.a", 1)
    make_job("t.b", 2, ("t.a",))
    make_job("t.c", 3)
    with clock.frozen(NOW):
        yield calls, broken


def days(*offsets: int) -> list[date]:
    return [DAY - timedelta(days=n) for n in offsets]


def runs_of(session, job_id: str, status: JobRunStatus = JobRunStatus.SUCCEEDED) -> list[date]:
    return sorted(session.scalars(select(JobRun.logical_date).where(JobRun.job_id == job_id, JobRun.status == status)))


def start_everyone_at(offset: int) -> None:
    for job in jobs.registered():
        jobs.run_job(job, DAY - timedelta(days=offset))


def test_a_40_day_outage_runs_the_last_30_days_and_records_the_older_ones_as_skipped_once(book, session, app):
    start_everyone_at(40)
    outcome = jobplan.run_owed(DAY)
    assert app.config["JOBS_MAX_CATCH_UP_DAYS"] == 30
    assert runs_of(session, "t.a") == days(40, *range(29, -1, -1))
    assert runs_of(session, "t.a", JobRunStatus.SKIPPED) == days(*range(39, 29, -1))
    assert len(outcome.skipped) == 3 * 10
    skipped = session.scalars(select(JobRun).where(JobRun.status == JobRunStatus.SKIPPED)).first()
    assert "INSURECRM_JOBS_MAX_CATCH_UP_DAYS" in skipped.error and skipped.attempt_key == jobplan.SKIPPED_KEY
    assert jobplan.run_owed(DAY).skipped == []  # recorded once, never again
    assert len(runs_of(session, "t.a", JobRunStatus.SKIPPED)) == 10


def test_a_skipped_date_runs_by_hand_alone(book, session):
    calls, _broken = book
    start_everyone_at(40)
    jobplan.run_owed(DAY)
    calls.clear()
    outcome = jobplan.run_owed(DAY - timedelta(days=35), ["t.b"], hand=True)
    assert calls == [("t.a", DAY - timedelta(days=35)), ("t.b", DAY - timedelta(days=35))]  # with its dependency
    assert not outcome.failed and not outcome.waiting
    assert DAY - timedelta(days=35) in runs_of(session, "t.b")


def test_a_hand_run_runs_the_earlier_owed_dates_first_in_order(book, session):
    calls, _broken = book
    jobplan.run_owed(DAY - timedelta(days=5), hand=True)
    assert calls == [(job, DAY - timedelta(days=5)) for job in ("t.a", "t.b", "t.c")]
    calls.clear()
    jobplan.run_owed(DAY - timedelta(days=2), ["t.c"], hand=True)
    assert calls == [("t.c", day) for day in days(4, 3, 2)]
    calls.clear()
    jobplan.run_owed(DAY)  # the scheduler: what is left, each date once
    assert sorted(calls) == sorted([(job, day) for job in ("t.a", "t.b") for day in days(4, 3, 2, 1, 0)]
                                   + [("t.c", day) for day in days(1, 0)])
    for job in ("t.a", "t.b", "t.c"):
        assert runs_of(session, job) == days(5, 4, 3, 2, 1, 0)


def test_a_date_after_today_is_refused_and_nothing_is_written(book, session):
    with pytest.raises(ValueError, match="after today"):
        jobplan.run_owed(DAY + timedelta(days=1), hand=True)
    assert session.scalars(select(JobRun)).all() == []


def test_a_failing_job_holds_back_its_later_dates_and_its_dependants_only(book, session):
    calls, broken = book
    start_everyone_at(4)
    broken.add(("t.a", DAY - timedelta(days=2)))
    outcome = jobplan.run_owed(DAY)
    assert runs_of(session, "t.a") == days(4, 3) and runs_of(session, "t.b") == days(4, 3)
    assert runs_of(session, "t.c") == days(4, 3, 2, 1, 0)  # the others go on, that date and later
    assert runs_of(session, "t.a", JobRunStatus.FAILED) == days(2)
    assert outcome.failed["t.a"][0] == DAY - timedelta(days=2) and "broke" in outcome.failed["t.a"][1]
    assert outcome.waiting == {"t.b": (DAY - timedelta(days=2), "t.a")}
    failing = jobplan.failing()
    assert [(f.job_id, f.since, f.attempts, f.holds_back) for f in failing] == [("t.a", days(2)[0], 1, ("t.b",))]
    assert "broke on" in failing[0].last_error

    jobplan.run_owed(DAY)  # fails again: a second attempt
    assert jobplan.failing()[0].attempts == 2
    broken.clear()
    calls.clear()
    jobplan.run_owed(DAY)
    assert calls == [(job, day) for day in days(2, 1, 0) for job in ("t.a", "t.b")]
    assert jobplan.failing() == []


def test_a_failure_the_database_could_not_take_is_recorded_when_it_answers(book, session, monkeypatch):
    start_everyone_at(1)
    real_commit, down = db.session.commit, [True]

    def commit():
        if down[0]:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        real_commit()

    monkeypatch.setattr(db.session, "commit", commit)
    failed_at = clock.now()
    with pytest.raises(jobs.DatabaseUnavailable):
        jobs.run_job(jobs.registered(["t.a"])[0], DAY)
    assert jobs.unrecorded_count() == 1
    down[0] = False
    with clock.frozen(NOW + timedelta(minutes=15)):  # the next tick
        jobplan.run_owed(DAY)
    assert jobs.unrecorded_count() == 0
    failure = session.scalars(select(JobRun).where(JobRun.status == JobRunStatus.FAILED)).one()
    assert (failure.job_id, failure.logical_date, failure.started_at) == ("t.a", DAY, failed_at)
    assert "server closed the connection" in failure.error
    assert runs_of(session, "t.a") == days(1, 0)


@pytest.mark.parametrize(("local_hour", "runnable"), [(0, DAY - timedelta(days=1)), (1, DAY), (23, DAY)])
def test_the_runnable_day_waits_for_the_run_hour(app, local_hour, runnable):
    with app.app_context():
        assert jobplan.runnable_day(datetime(2026, 11, 22, local_hour, 30, tzinfo=clock.zone())) == runnable


def test_a_retry_before_the_hour_does_not_run_today(book, session, app):
    calls, _broken = book
    start_everyone_at(2)
    calls.clear()
    before_the_hour = datetime(2026, 11, 22, 0, 30, tzinfo=clock.zone())
    with clock.frozen(before_the_hour):
        scheduler.tick(app)
    assert {day for _job, day in calls} == {DAY - timedelta(days=1)}
    with clock.frozen(before_the_hour + timedelta(hours=1)):
        scheduler.tick(app)
    assert {day for _job, day in calls} == {DAY - timedelta(days=1), DAY}


def test_a_stop_request_ends_a_catch_up_between_two_jobs(book, session):
    calls, _broken = book
    start_everyone_at(3)
    calls.clear()

    @jobs.daily_job("t.stopper", order=0)
    def stopper(logical_date):
        jobs.STOP.set()  # SIGTERM arrives while this job runs
        return {}

    try:
        outcome = jobplan.run_owed(DAY)
    finally:
        jobs.STOP.clear()
    assert outcome.stopped and calls == []
    assert runs_of(session, "t.stopper") == days(2)  # the running job finished and was recorded
