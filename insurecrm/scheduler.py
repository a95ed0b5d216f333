"""The scheduler process (``insurecrm scheduler``): APScheduler 3 running the daily jobs.

It is a process of its own, never a thread inside web workers. On start it catches up every owed date;
then every day at ``INSURECRM_JOBS_HOUR`` (insurer's time zone) it runs the day's jobs, every 15 minutes it
retries, in case a run failed or another host's scheduler was down, and every 2 minutes it delivers the
outbox (:mod:`insurecrm.outbox.sender`). Any number of these
processes may run on any number of hosts: the claims in the database (:mod:`insurecrm.jobs`) make each
job run once per date.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from insurecrm import clock, jobs
from insurecrm.db import db

log = logging.getLogger(__name__)
RETRY_MINUTES = 15
SEND_MINUTES = 2


def tick(app: Flask) -> None:
    """Run what is owed up to today; a failing job is logged and retried at the next tick."""
    with app.app_context():
        try:
            runs = jobs.catch_up(clock.today())
            if runs:
                log.info("ran %d job(s): %s", len(runs), ", ".join(f"{r.job_id}@{r.logical_date}" for r in runs))
        except Exception:
            log.exception("a daily job failed; it will be retried")
        finally:
            db.session.remove()


def send_outbox(app: Flask) -> None:
    """Deliver pending emails and SMS (several senders on several hosts never pick the same row)."""
    from insurecrm.actor import acting_as
    from insurecrm.outbox.sender import send_pending

    with app.app_context(), acting_as("scheduler:outbox.send"):
        try:
            send_pending(app.config["OUTBOX_BATCH_SIZE"])
        except Exception:
            log.exception("sending the outbox failed; it will be retried")
        finally:
            db.session.remove()


def build(app: Flask) -> BlockingScheduler:
    zone = app.config["TIMEZONE"]
    scheduler = BlockingScheduler(timezone=zone)
    scheduler.add_job(tick, CronTrigger(hour=app.config["JOBS_HOUR"], timezone=zone), args=[app],
                      id="daily", coalesce=True, max_instances=1, misfire_grace_time=3600)
    scheduler.add_job(tick, IntervalTrigger(minutes=RETRY_MINUTES), args=[app], id="retry", coalesce=True,
                      max_instances=1)
    scheduler.add_job(send_outbox, IntervalTrigger(minutes=SEND_MINUTES), args=[app], id="outbox", coalesce=True,
                      max_instances=1)
    return scheduler


def run(app: Flask) -> None:
    """Catch up, then run on schedule until stopped (Ctrl-C or SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    tick(app)
    scheduler = build(app)
    log.info("scheduler started: daily jobs at %02d:00 %s", app.config["JOBS_HOUR"], app.config["TIMEZONE"])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
