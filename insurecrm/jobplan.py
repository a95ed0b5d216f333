"""Which dates the daily jobs owe, and running them in order with failures kept to where they belong.

A job owes every date from its first record (any :class:`~insurecrm.models.JobRun` row of it: succeeded, failed
or skipped) up to the day being run that has no successful claim — a gap before the latest run is owed like one
after it. A job without any record yet starts where the others stand (the day after the latest date any job has
succeeded for; on a fresh database, the day being run).

The scheduler runs the owed dates of the last ``INSURECRM_JOBS_MAX_CATCH_UP_DAYS`` days (today and the days before
it); an owed date older than that is recorded once as ``skipped``, with the reason, and from then on is run only
by hand (``insurecrm jobs run --date``, or the button on ``/admin/ops/jobs``). A hand run for a date first runs
the earlier dates still owed of the same jobs and of the jobs they depend on (not the ones recorded skipped,
which wait for a hand run of their own), then that date.

Dates run oldest first, each date's jobs in order. A job that fails for a date holds back its later dates and its
dependants (:attr:`insurecrm.jobs.Job.depends_on`) for that date and later; every other job goes on.
"""

from __future__ import annotations

import logging
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from insurecrm import clock, joblock, jobs
from insurecrm.db import db, utcnow
from insurecrm.models import JobRun, JobRunStatus

log = logging.getLogger(__name__)
#: the ``attempt_key`` of a date recorded as skipped: unique with (job, date), so it is recorded once
SKIPPED_KEY = "skipped"
_failed = aliased(JobRun)


@dataclass
class Outcome:
    """What a run of the owed dates did."""

    runs: list[JobRun] = field(default_factory=list)
    #: (job, date) pairs found done when their turn came (another run did them)
    already_done: list[tuple[str, date]] = field(default_factory=list)
    #: job → (date, last line of the error): it failed for that date; its later dates wait
    failed: dict[str, tuple[date, str]] = field(default_factory=dict)
    #: job → (date, the job it waits for): a dependency had not succeeded for that date
    waiting: dict[str, tuple[date, str]] = field(default_factory=dict)
    #: (job, date) pairs recorded as skipped now
    skipped: list[tuple[str, date]] = field(default_factory=list)
    #: stopped by a signal before it was done
    stopped: bool = False


@dataclass
class Plan:
    """The owed dates of some jobs: ``to_run[job]`` in order, ``to_skip[job]`` to record as skipped."""

    first: dict[str, date]
    done: dict[str, set[date]]
    to_run: dict[str, list[date]]
    to_skip: dict[str, list[date]]

    def count(self) -> int:
        return sum(len(dates) for dates in self.to_run.values())


def runnable_day(at: datetime | None = None) -> date:
    """The last day whose jobs may run at ``at`` (default: now): today once ``INSURECRM_JOBS_HOUR`` has come in the
    insurer's time zone, else yesterday."""
    local = (at or clock.now()).astimezone(clock.zone())
    return local.date() if local.hour >= current_app.config["JOBS_HOUR"] else local.date() - timedelta(days=1)


def plan(through: date, selected: list[jobs.Job], *, hand: bool = False, today: date | None = None) -> Plan:
    """The owed dates of ``selected`` up to ``through``. The scheduler's plan (``hand=False``) runs only dates of
    the last ``INSURECRM_JOBS_MAX_CATCH_UP_DAYS`` days before ``today`` and skips older ones not yet recorded as
    skipped; a hand run's plan runs every owed date except those recorded as skipped before ``through``."""
    ids = [job.id for job in selected]
    rows = db.session.execute(select(JobRun.job_id, JobRun.logical_date, JobRun.attempt_key)
                              .where(JobRun.job_id.in_(ids), JobRun.logical_date <= through)).all()
    done: dict[str, set[date]] = defaultdict(set)
    skipped: dict[str, set[date]] = defaultdict(set)
    for job_id, logical_date, key in rows:  # failed attempts (a key of their own) count as neither
        if key == "":
            done[job_id].add(logical_date)
        elif key == SKIPPED_KEY:
            skipped[job_id].add(logical_date)
    first = dict(db.session.execute(select(JobRun.job_id, func.min(JobRun.logical_date))
                                    .where(JobRun.job_id.in_(ids)).group_by(JobRun.job_id)).all())
    latest = db.session.scalar(select(func.max(JobRun.logical_date)).where(
        JobRun.job_id.in_([job.id for job in jobs.registered()]), JobRun.attempt_key == ""))
    start = min(latest + timedelta(days=1), through) if latest else through
    first = {job_id: first.get(job_id, start) for job_id in ids}
    oldest_automatic = (today or clock.today()) - timedelta(days=current_app.config["JOBS_MAX_CATCH_UP_DAYS"] - 1)
    to_run: dict[str, list[date]] = {}
    to_skip: dict[str, list[date]] = {}
    for job_id in ids:
        owed = [first[job_id] + timedelta(days=n) for n in range((through - first[job_id]).days + 1)]
        owed = [day for day in owed if day not in done[job_id]]
        if hand:
            to_run[job_id] = [day for day in owed if day == through or day not in skipped[job_id]]
            to_skip[job_id] = []
        else:
            to_run[job_id] = [day for day in owed if day >= oldest_automatic]
            to_skip[job_id] = [day for day in owed if day < oldest_automatic and day not in skipped[job_id]]
    return Plan(first, done, to_run, to_skip)


def record_skipped(owed: Plan, outcome: Outcome) -> None:
    """Record each date of ``owed.to_skip`` as skipped, with the reason (one commit)."""
    limit = current_app.config["JOBS_MAX_CATCH_UP_DAYS"]
    reason = (f"Not run: more than {limit} days old when the scheduler caught up (INSURECRM_JOBS_MAX_CATCH_UP_DAYS)."
              " Run it by hand if it is still wanted: insurecrm jobs run --date <date> <job>.")
    now = utcnow()
    for job_id, dates in owed.to_skip.items():
        for day in dates:
            db.session.add(JobRun(job_id=job_id, logical_date=day, attempt_key=SKIPPED_KEY, status=JobRunStatus.SKIPPED,
                                  started_at=now, finished_at=now, host=socket.gethostname(), counts={}, error=reason))
            outcome.skipped.append((job_id, day))
    if outcome.skipped:
        db.session.commit()
        log.warning("%d owed job date(s) older than %d days recorded as skipped", len(outcome.skipped), limit)


def run_owed(through: date, job_ids: list[str] | None = None, *, hand: bool = False, lock_timeout: float | None = 0,
             on_wait: Callable[[], None] | None = None,
             on_plan: Callable[[Plan], None] | None = None,
             on_each: Callable[[str, date], None] | None = None) -> Outcome:
    """Run what ``job_ids`` (default: every job; with the jobs they depend on) owe up to ``through``, under the jobs
    lock (waiting ``lock_timeout`` seconds for it, see :func:`insurecrm.joblock.held`). ``on_plan`` is told the
    plan before anything runs, ``on_each`` each (job, date) when its turn is over. Commits. Refuses a date after
    today (``ValueError``); raises :class:`~insurecrm.jobs.DatabaseUnavailable` when the database stops answering
    (the failure is kept in memory and recorded on the next run)."""
    if through > clock.today():
        raise ValueError(f"{through} is after today ({clock.today()}): a date is run on or after its day, never ahead")
    db.session.commit()  # wait for the lock outside any transaction (on SQLite one would hold the write lock)
    jobs.flush_unrecorded()  # failures kept while the database was down: recorded first, lock or not
    with joblock.held(lock_timeout, on_wait):
        selected = jobs.registered(job_ids, with_dependencies=True)
        owed = plan(through, selected, hand=hand)
        outcome = Outcome()
        record_skipped(owed, outcome)
        if on_plan is not None:
            on_plan(owed)
        for day in sorted({day for dates in owed.to_run.values() for day in dates}):
            for job in selected:
                if day not in owed.to_run[job.id]:
                    continue
                if jobs.STOP.is_set():
                    outcome.stopped = True
                    return outcome
                _run_one(job, day, owed, outcome)
                if on_each is not None:
                    on_each(job.id, day)
    return outcome


def _run_one(job: jobs.Job, day: date, owed: Plan, outcome: Outcome) -> None:
    if job.id in outcome.failed or job.id in outcome.waiting:
        return  # an earlier date of its own did not run: its dates run in order
    for dependency in job.depends_on:
        if day >= owed.first[dependency] and day not in owed.done[dependency]:
            outcome.waiting[job.id] = (day, dependency)
            log.warning("job %s for %s waits for %s", job.id, day, dependency)
            return
    try:
        run = jobs.run_job(job, day)
    except jobs.DatabaseUnavailable:
        raise
    except Exception as exc:  # recorded by run_job; the others go on
        outcome.failed[job.id] = (day, f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        log.exception("job %s failed for %s; it and the jobs depending on it wait", job.id, day)
        return
    owed.done[job.id].add(day)
    if run is None:
        outcome.already_done.append((job.id, day))
    else:
        outcome.runs.append(run)


def last_line(error: str | None) -> str:
    """The line of an error that says what went wrong (a traceback's last one)."""
    lines = (error or "").strip().splitlines()
    return lines[-1] if lines else ""


@dataclass(frozen=True)
class Failing:
    """A job failing now: it failed for ``since`` (its oldest date without success) and is held there."""

    job_id: str
    since: date
    attempts: int
    last_error: str
    last_failed_at: datetime
    #: the jobs that wait for it (its dependants)
    holds_back: tuple[str, ...]


def failing() -> list[Failing]:
    """The jobs with failed runs for dates that have not succeeded since: since which date, the attempts on those
    dates, the last error. Two small queries over ``job_runs``."""
    succeeded = select(JobRun.id).where(JobRun.job_id == _failed.job_id, JobRun.logical_date == _failed.logical_date,
                                        JobRun.attempt_key == "").exists()
    unresolved = (_failed.status == JobRunStatus.FAILED, ~succeeded)
    summary = db.session.execute(
        select(_failed.job_id, func.min(_failed.logical_date), func.count(), func.max(_failed.id))
        .where(*unresolved).group_by(_failed.job_id).order_by(_failed.job_id)).all()
    latest = {row.id: row for row in db.session.scalars(
        select(JobRun).where(JobRun.id.in_([last_id for *_rest, last_id in summary])))}
    known = {job.id for job in jobs.registered()}
    return [Failing(job_id, since, attempts, last_line(latest[last_id].error), latest[last_id].finished_at
                    or latest[last_id].started_at, tuple(jobs.dependants(job_id)) if job_id in known else ())
            for job_id, since, attempts, last_id in summary]
