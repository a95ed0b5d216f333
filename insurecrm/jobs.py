"""Daily jobs: registered by id, each run once per logical date, one run at a time, under the jobs lock.

APScheduler 3 only promises to run a job once when a single process schedules it. We keep that promise
ourselves, so that any number of scheduler processes on any number of hosts, hand runs and an admin's button may
run the jobs side by side:

- every run is for a *logical date* (the day it stands for, not the moment it runs);
- whoever runs jobs holds the one jobs lock (:mod:`insurecrm.joblock`) for as long as it runs them, across
  transactions: a second runner waits for it (a hand run) or skips its turn (a scheduler's tick);
- :func:`run_job`, under the lock, checks the claim ``(job, date)`` (:class:`~insurecrm.models.JobRun`), runs the
  job, then inserts the claim and commits. A job may commit its work in batches (short row locks for the users),
  so every job is idempotent for its date: a rerun after a crash between batches finishes what is left. The unique
  ``(job, date, attempt_key="")`` stays as the last line of defence: a claim inserted twice fails, never doubles;
- :mod:`insurecrm.jobplan` decides which dates are owed (every date without a claim since the job's first record,
  up to ``INSURECRM_JOBS_MAX_CATCH_UP_DAYS`` back; older ones are recorded as skipped) and runs them in order,
  keeping a failure to the job and the jobs that depend on it.

Jobs are defined in each domain's ``tasks.py`` with :func:`daily_job` and return the counts of what they did
(``{"cases_opened": 12}``), which the run records.
"""

from __future__ import annotations

import logging
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from insurecrm import joblock
from insurecrm.actor import acting_as
from insurecrm.db import db, utcnow
from insurecrm.models import JobRun, JobRunStatus

log = logging.getLogger(__name__)
JobFunction = Callable[[date], dict[str, int] | None]
#: set by SIGTERM/SIGINT in the scheduler: a catch-up in progress stops before its next job
STOP = threading.Event()


@dataclass(frozen=True)
class Job:
    id: str
    run: JobFunction
    #: jobs of one date run in this order (e.g. open renewal cases before sending their reminders)
    order: int
    #: jobs whose run for the same date must have succeeded before this one runs for it (they have lower orders)
    depends_on: tuple[str, ...] = ()
    #: the job only reports on the day to staff (e.g. emailed sales reports): it changes nothing the book or another
    #: job reads, so a simulation of the book (:mod:`insurecrm.simulation`) leaves it out
    reports_only: bool = False


_registry: dict[str, Job] = {}


class DatabaseUnavailable(RuntimeError):
    """A job failed and the database could not even record it: the failure is kept in memory (see
    :func:`flush_unrecorded`) and nothing more can run now."""


def daily_job(job_id: str, *, order: int = 100, depends_on: tuple[str, ...] = (),
              reports_only: bool = False) -> Callable[[JobFunction], JobFunction]:
    """Register ``function(logical_date) -> counts`` as the daily job ``job_id`` (``"<domain>.<name>"``), run for a
    date only once each of ``depends_on`` has succeeded for it (each must have a lower ``order``). ``reports_only``:
    see :attr:`Job.reports_only`."""

    def register(function: JobFunction) -> JobFunction:
        _registry[job_id] = Job(job_id, function, order, tuple(depends_on), reports_only)
        return function

    return register


def registered(job_ids: list[str] | None = None, *, with_dependencies: bool = False) -> list[Job]:
    """The jobs, in run order; ``job_ids`` selects some (an unknown id raises :class:`KeyError`), with the jobs they
    depend on when ``with_dependencies``. Refuses (``RuntimeError``) a dependency that is unknown or does not run
    before its dependant."""
    for job in _registry.values():
        for dependency in job.depends_on:
            if dependency not in _registry or (_registry[dependency].order, dependency) >= (job.order, job.id):
                raise RuntimeError(f"{job.id} depends on {dependency}, which must be a job with a lower order")
    selected = {job_id: _registry[job_id] for job_id in job_ids} if job_ids else dict(_registry)
    pending = list(selected.values()) if with_dependencies else []
    while pending:
        for dependency in pending.pop().depends_on:
            if dependency not in selected:
                selected[dependency] = _registry[dependency]
                pending.append(_registry[dependency])
    return sorted(selected.values(), key=lambda job: (job.order, job.id))


def dependants(job_id: str) -> list[str]:
    """The jobs that wait, directly or not, when ``job_id`` has not run for a date."""
    found: list[str] = []
    for job in registered():  # in run order, so a dependant's dependants come after it
        if any(dependency == job_id or dependency in found for dependency in job.depends_on):
            found.append(job.id)
    return found


def is_done(job_id: str, logical_date: date) -> bool:
    return db.session.scalar(select(JobRun.id).where(
        JobRun.job_id == job_id, JobRun.logical_date == logical_date, JobRun.attempt_key == "")) is not None


def run_job(job: Job, logical_date: date, *, lock_timeout: float | None = None) -> JobRun | None:
    """Run ``job`` for ``logical_date`` unless it has run for that date, holding the jobs lock (waiting for it up
    to ``lock_timeout`` seconds, ``None``: as long as it takes; :class:`~insurecrm.joblock.JobsBusy` after that).
    Returns the run, or ``None`` when it had run. A failing job is rolled back (what it committed in earlier
    batches stays: its rerun finishes it), recorded as failed and re-raised; when not even the failure can be
    written, :class:`DatabaseUnavailable` is raised and the failure is kept in memory. Does not check the date's
    order or the job's dependencies: :mod:`insurecrm.jobplan` does."""
    with joblock.held(lock_timeout):
        if is_done(job.id, logical_date):
            return None
        started = utcnow()
        try:
            with acting_as(f"job:{job.id}"):
                counts = dict(job.run(logical_date) or {})
            claim = JobRun(job_id=job.id, logical_date=logical_date, attempt_key="", status=JobRunStatus.SUCCEEDED,
                           started_at=started, finished_at=utcnow(), host=socket.gethostname(), counts=counts)
            db.session.add(claim)
            db.session.commit()
        except IntegrityError as exc:
            _rollback()
            if not is_done(job.id, logical_date):
                _fail(job.id, logical_date, started, exc)
            # only a runner that ignored the lock can have claimed it meanwhile: the unique key kept it once
            log.warning("job %s for %s was claimed by another run meanwhile", job.id, logical_date)
            return None
        except Exception as exc:
            _rollback()
            _fail(job.id, logical_date, started, exc)
    log.info("job %s for %s: %s", job.id, logical_date, claim.counts)
    return claim


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection: the session starts anew on its next use
        log.exception("rollback failed")


def _fail(job_id: str, logical_date: date, started: datetime, exc: Exception):
    if not record_failure(job_id, logical_date, exc, started):
        raise DatabaseUnavailable(f"{job_id} for {logical_date} failed and the database could not record it") from exc
    raise exc


# Failures the database could not take when they happened (it was what failed): written at the next chance.
_unrecorded: list[dict] = []
_unrecorded_lock = threading.Lock()


def record_failure(job_id: str, logical_date: date, exc: BaseException, started: datetime) -> bool:
    """Record that ``job_id`` failed for ``logical_date`` (with the traceback and when it happened). Returns
    ``False`` when the database cannot take it now: it is then kept in memory for :func:`flush_unrecorded`."""
    with _unrecorded_lock:
        _unrecorded.append({
            "job_id": job_id, "logical_date": logical_date, "attempt_key": uuid.uuid4().hex,
            "status": JobRunStatus.FAILED, "started_at": started, "finished_at": utcnow(),
            "host": socket.gethostname(), "error": "".join(traceback.format_exception(exc))[-4000:]})
    return flush_unrecorded()


def flush_unrecorded() -> bool:
    """Write the failures kept in memory; ``True`` when none is left (each keeps the time it happened)."""
    with _unrecorded_lock:
        if not _unrecorded:
            return True
        try:
            db.session.add_all([JobRun(**row) for row in _unrecorded])
            db.session.commit()
        except Exception:  # noqa: BLE001 - the database still does not answer: keep them for the next try
            log.exception("%d job failure(s) could not be recorded yet", len(_unrecorded))
            _rollback()
            return False
        log.info("recorded %d job failure(s) kept since the database was unavailable", len(_unrecorded))
        _unrecorded.clear()
        return True


def unrecorded_count() -> int:
    return len(_unrecorded)


def catch_up(through: date, job_ids: list[str] | None = None) -> list[JobRun]:
    """Run every owed date up to ``through`` (see :func:`insurecrm.jobplan.run_owed`, waiting for the jobs lock as
    long as it takes); returns the runs that did work. A failing job holds back only itself and its dependants."""
    from insurecrm import jobplan

    return jobplan.run_owed(through, job_ids, lock_timeout=None).runs


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
