"""The scheduler process (``insurecrm scheduler``): APScheduler 3 running the daily jobs.

It is a process of its own, never a thread inside web workers. On start it catches up every owed date up to the
last day whose run hour has passed (today once ``INSURECRM_JOBS_HOUR`` has come in the insurer's time zone, else
yesterday); then every day at that hour it runs the day's jobs, and every 15 minutes it retries what is still
owed up to that same day (a failed job, a date another host's scheduler missed) — never a day before its hour.
Every 2 minutes it delivers the outbox (:mod:`insurecrm.outbox.sender`).

Any number of these processes may run on any number of hosts: a tick takes the jobs lock
(:mod:`insurecrm.joblock`) or, when another run holds it, skips its turn (the next tick finds what is left),
and the claims in the database (:mod:`insurecrm.jobs`) make each job run once per date.

SIGTERM and SIGINT stop it cleanly: the job running finishes (its run is recorded), no other job starts — a
catch-up stops between two jobs — and the process exits with status 0. A SIGKILL, or a crash, loses nothing
either: what a job committed stays, and the job, idempotent for its date, finishes it on its next run.
"""

from __future__ import annotations

import logging
import signal

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from insurecrm import joblock, jobplan, jobs
from insurecrm.db import db

log = logging.getLogger(__name__)
RETRY_MINUTES = 15
SEND_MINUTES = 2


def tick(app: Flask) -> jobplan.Outcome | None:
    """Run what is owed up to the last day whose run hour has passed, unless another run holds the jobs lock (then
    this tick is skipped: the next one finds what is left). A failing job is recorded and retried at the next
    tick; when the database itself fails, the failure is kept and recorded once it answers."""
    with app.app_context():
        if jobs.STOP.is_set():
            return None
        try:
            outcome = jobplan.run_owed(jobplan.runnable_day(), lock_timeout=0)
        except joblock.JobsBusy:
            log.info("another run of the daily jobs holds the lock; this tick is skipped")
            return None
        except Exception:
            log.exception("the daily jobs could not run; they will be retried at the next tick")
            return None
        finally:
            db.session.remove()
        _log(outcome)
        return outcome


def _log(outcome: jobplan.Outcome) -> None:
    if outcome.runs:
        log.info("ran %d job(s): %s", len(outcome.runs),
                 ", ".join(f"{run.job_id}@{run.logical_date}" for run in outcome.runs))
    for job_id, (day, error) in outcome.failed.items():
        log.error("%s failed for %s (%s); it and its dependants wait until it succeeds", job_id, day, error)
    for job_id, (day, dependency) in outcome.waiting.items():
        log.warning("%s waits from %s on for %s", job_id, day, dependency)
    if outcome.stopped:
        log.info("stopping: the catch-up ends here; the next start resumes it")


def send_outbox(app: Flask) -> None:
    """Deliver pending emails and SMS (several senders on several hosts never pick the same row)."""
    from insurecrm.actor import acting_as
    from insurecrm.outbox.sender import send_pending

    if jobs.STOP.is_set():
        return
    with app.app_context(), acting_as("scheduler:outbox.send"):
        try:
            send_pending(app.config["OUTBOX_BATCH_SIZE"])
        except Exception:
            log.exception("sending the outbox failed; it will be retried")
        finally:
            db.session.remove()


def resume_imports(app: Flask) -> None:
    """Do the imports left queued or abandoned by a process that stopped (insurecrm.imports.engine)."""
    from insurecrm.imports.engine import resume_abandoned

    try:
        resume_abandoned(app)
    except Exception:  # logged; the next minute tries again
        log.exception("resuming imports failed; it will be retried")


def build(app: Flask) -> BackgroundScheduler:
    zone = app.config["TIMEZONE"]
    scheduler = BackgroundScheduler(timezone=zone)
    scheduler.add_job(tick, CronTrigger(hour=app.config["JOBS_HOUR"], timezone=zone), args=[app],
                      id="daily", coalesce=True, max_instances=1, misfire_grace_time=3600)
    scheduler.add_job(tick, IntervalTrigger(minutes=RETRY_MINUTES), args=[app], id="retry", coalesce=True,
                      max_instances=1)
    scheduler.add_job(send_outbox, IntervalTrigger(minutes=SEND_MINUTES), args=[app], id="outbox", coalesce=True,
                      max_instances=1)
    scheduler.add_job(resume_imports, IntervalTrigger(minutes=1), args=[app], id="imports", coalesce=True,
                      max_instances=1)
    return scheduler


def run(app: Flask) -> None:
    """Catch up, then run on schedule until SIGTERM or SIGINT (Ctrl-C), which let the running job finish."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    jobs.STOP.clear()

    def stop(signum, _frame) -> None:  # only sets the flag: the main thread below does the stopping
        log.info("%s received: finishing the running job, then stopping", signal.Signals(signum).name)
        jobs.STOP.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        tick(app)  # the catch-up at start, in this thread: it stops between two jobs once the flag is set
        if not jobs.STOP.is_set():
            scheduler = build(app)
            scheduler.start()
            log.info("scheduler started: daily jobs at %02d:00 %s", app.config["JOBS_HOUR"], app.config["TIMEZONE"])
            while not jobs.STOP.wait(1):
                pass
            scheduler.shutdown(wait=True)  # the tick or delivery running finishes; nothing new starts
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("scheduler stopped")
