"""Daily jobs: registered by id, run exactly once per logical date under a claim in the database.

APScheduler 3 only promises to run a job once when a single process schedules it. We keep that promise
ourselves, in the database, so that any number of scheduler processes on any number of hosts may run:

- every run is for a *logical date* (the day it stands for, not the moment it runs);
- :func:`run_job` inserts the claim ``(job, date)`` (:class:`~insurecrm.models.JobRun`) in the same
  transaction as the job's work. A second process inserting the same claim waits on the unique index
  until the first commits, then fails and skips: the work is done once. A crash rolls claim and work back
  together, so the next run does both;
- :func:`catch_up` runs, date by date in order, every date since the last claimed one up to today (at
  most ``INSURECRM_JOBS_MAX_CATCH_UP_DAYS``), so days missed while every scheduler was down are not lost.

Jobs are defined in each domain's ``tasks.py`` with :func:`daily_job` and return the counts of what they
did (``{"cases_opened": 12}``), which the run records.
"""

from __future__ import annotations

import logging
import socket
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from insurecrm.actor import acting_as
from insurecrm.db import db, utcnow
from insurecrm.models import JobRun, JobRunStatus

log = logging.getLogger(__name__)
JobFunction = Callable[[date], dict[str, int] | None]


@dataclass(frozen=True)
class Job:
    id: str
    run: JobFunction
    #: jobs of one date run in this order (e.g. open renewal cases before sending their reminders)
    order: int


_registry: dict[str, Job] = {}


def daily_job(job_id: str, *, order: int = 100) -> Callable[[JobFunction], JobFunction]:
    """Register ``function(logical_date) -> counts`` as the daily job ``job_id`` (``"<domain>.<name>"``)."""

    def register(function: JobFunction) -> JobFunction:
        _registry[job_id] = Job(job_id, function, order)
        return function

    return register


def registered(job_ids: list[str] | None = None) -> list[Job]:
    """The jobs, in run order; ``job_ids`` selects some (an unknown id raises :class:`KeyError`)."""
    jobs = [_registry[job_id] for job_id in job_ids] if job_ids else list(_registry.values())
    return sorted(jobs, key=lambda job: (job.order, job.id))


def is_done(job_id: str, logical_date: date) -> bool:
    return db.session.scalar(select(JobRun.id).where(
        JobRun.job_id == job_id, JobRun.logical_date == logical_date, JobRun.attempt_key == "")) is not None


def run_job(job: Job, logical_date: date) -> JobRun | None:
    """Run ``job`` for ``logical_date`` unless it has run for that date; returns the run, or ``None`` when
    another run (earlier, or in another process right now) has it. A failing job is rolled back, recorded
    as failed and re-raised."""
    if is_done(job.id, logical_date):
        return None
    claim = JobRun(job_id=job.id, logical_date=logical_date, attempt_key="", status=JobRunStatus.SUCCEEDED,
                   started_at=utcnow(), host=socket.gethostname())
    db.session.add(claim)
    try:
        db.session.flush()  # the claim: waits for, then loses to, a concurrent claim of the same (job, date)
    except IntegrityError:
        db.session.rollback()
        return None
    try:
        with acting_as(f"job:{job.id}"):
            claim.counts = dict(job.run(logical_date) or {})
        claim.finished_at = utcnow()
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        _record_failure(job, logical_date, exc)
        raise
    log.info("job %s for %s: %s", job.id, logical_date, claim.counts)
    return claim


def _record_failure(job: Job, logical_date: date, exc: Exception) -> None:
    db.session.add(JobRun(job_id=job.id, logical_date=logical_date, attempt_key=uuid.uuid4().hex,
                          status=JobRunStatus.FAILED, started_at=utcnow(), finished_at=utcnow(),
                          host=socket.gethostname(), error="".join(traceback.format_exception(exc))[-4000:]))
    db.session.commit()


def dates_to_run(today: date, jobs: list[Job] | None = None, max_days: int | None = None) -> list[date]:
    """The logical dates the scheduler owes: from the day after the date up to which *every* job has run,
    up to ``today``.

    A database on which no job has ever run starts with ``today``. At most the ``max_days`` most recent
    dates are returned (older ones are past helping, and a warning says so).
    """
    max_days = max_days or current_app.config["JOBS_MAX_CATCH_UP_DAYS"]
    ids = [job.id for job in (jobs or registered())]
    last_by_job = dict(db.session.execute(
        select(JobRun.job_id, func.max(JobRun.logical_date))
        .where(JobRun.attempt_key == "", JobRun.job_id.in_(ids)).group_by(JobRun.job_id)
    ).all())
    if not last_by_job:
        return [today]
    # a job that never ran (new, or failed from the start) is owed from where the others stand
    first = min(last_by_job.get(job_id, max(last_by_job.values())) for job_id in ids) + timedelta(days=1)
    first = min(first, today)
    dates = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    if len(dates) > max_days:
        log.warning("%d days were missed; catching up the last %d only", len(dates), max_days)
        dates = dates[-max_days:]
    return dates


def catch_up(today: date, job_ids: list[str] | None = None) -> list[JobRun]:
    """Run every owed date, oldest first, each date's jobs in order. A job that fails stops the catch-up
    (later dates would build on its missing work); the next start resumes from there."""
    runs = []
    jobs = registered(job_ids)
    for logical_date in dates_to_run(today, jobs):
        for job in jobs:
            run = run_job(job, logical_date)
            if run is not None:
                runs.append(run)
    return runs


def add_to_daily_record(record_id: str, day: date, counts: dict[str, int]) -> JobRun:
    """Add ``counts`` to the run record ``record_id`` of ``day`` — for work done many times a day, such as the
    outbox sender every few minutes, so that the day's record shows what was sent and failed beside what the
    daily jobs queued. Not a daily job: the catch-up never looks at these records. Commits."""
    for _attempt in range(2):
        record = db.session.scalar(select(JobRun).where(
            JobRun.job_id == record_id, JobRun.logical_date == day, JobRun.attempt_key == "").with_for_update())
        if record is None:
            record = JobRun(job_id=record_id, logical_date=day, attempt_key="", status=JobRunStatus.SUCCEEDED,
                            started_at=utcnow(), host=socket.gethostname(), counts={})
            db.session.add(record)
        record.counts = {key: record.counts.get(key, 0) + counts.get(key, 0) for key in {*record.counts, *counts}}
        record.finished_at = utcnow()
        try:
            db.session.commit()
            return record
        except IntegrityError:  # another sender created the day's record first: add to theirs
            db.session.rollback()
    raise RuntimeError(f"could not record {record_id} for {day}")
