"""``insurecrm jobs``: run the daily jobs by hand, and see their runs (registered on the main command group)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

#: above this many (job, date) runs a hand run shows a progress bar
PROGRESS_FROM = 8


@click.group("jobs")
def jobs_group() -> None:
    """Daily jobs: run them by hand, see their runs."""


@jobs_group.command("run")
@click.option("--date", "logical_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The logical date to run for (default: today in the insurer's time zone); never after today.")
@click.option("--wait", "wait_seconds", type=click.IntRange(min=0, max=86400), default=600, show_default=True,
              help="Seconds to wait for another run of the jobs (a scheduler's) to finish before giving up.")
@click.argument("job_ids", nargs=-1)
@with_appcontext
def jobs_run(logical_date, wait_seconds: int, job_ids) -> None:
    """Run JOB_IDS (default: every job) for one date, with the jobs they depend on.

    Earlier dates these jobs still owe (since each job's first run; not those recorded as skipped) run first, in
    order; a date recorded as skipped runs when it is the date asked for. One run of the jobs at a time, across
    hosts: this waits (up to --wait) while a scheduler runs them. Exits 1 when a job failed or waits for a job
    that failed, and refuses a date after today."""
    from insurecrm import clock, joblock, jobplan, jobs

    day = logical_date.date() if logical_date else clock.today()
    if day > clock.today():
        raise click.ClickException(f"{day} is after today ({clock.today()}): a date's jobs run on or after that date, "
                                   "never ahead of it. Nothing was run.")
    try:
        selection = jobs.registered(list(job_ids) or None)
    except KeyError as exc:
        known = ", ".join(job.id for job in jobs.registered())
        raise click.ClickException(f"unknown job {exc.args[0]}; known: {known}") from None
    progress = _Progress(day, [job.id for job in selection])
    try:
        outcome = jobplan.run_owed(day, [job.id for job in selection], hand=True, lock_timeout=wait_seconds,
                                   on_wait=lambda: click.echo("Waiting for the scheduler's run to finish..."),
                                   on_plan=progress.start, on_each=progress.step)
    except joblock.JobsBusy:
        raise click.ClickException(f"another run of the daily jobs still holds the lock after {wait_seconds} s; "
                                   "nothing was run. Try again later, or with a longer --wait.") from None
    except jobs.DatabaseUnavailable as exc:
        raise click.ClickException(f"{exc}; try again once the database answers.") from None
    finally:
        progress.close()
    _report(outcome, progress)
    if outcome.failed or outcome.waiting:
        sys.exit(1)


class _Progress:
    """Says what a hand run will do before it does it, with a progress bar for many runs."""

    def __init__(self, day, asked: list[str]) -> None:
        self.day, self.asked, self.bar, self.done_before = day, asked, None, []

    def start(self, owed) -> None:
        self.done_before = [job_id for job_id in self.asked if self.day in owed.done[job_id]]
        for job_id, dates in owed.to_run.items():
            earlier = [day for day in dates if day != self.day]
            if earlier:
                listed = ", ".join(str(day) for day in earlier)
                click.echo(f"{job_id}: earlier dates still owed run first: {listed}")
            if job_id not in self.asked and dates:
                click.echo(f"{job_id}: runs too, as a job the ones asked for depend on")
        if owed.count() >= PROGRESS_FROM:
            self.bar = click.progressbar(length=owed.count(), label="Running", file=sys.stderr)
            self.bar.__enter__()

    def step(self, _job_id, _day) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _report(outcome, progress: _Progress) -> None:
    for run in outcome.runs:
        counts = ", ".join(f"{key}={value}" for key, value in run.counts.items()) or "nothing to do"
        click.echo(f"{run.job_id} {run.logical_date}: {counts}")
    for job_id, day in [*[(job_id, progress.day) for job_id in progress.done_before], *outcome.already_done]:
        click.echo(f"{job_id} {day}: already done")
    for job_id, (day, error) in outcome.failed.items():
        click.echo(f"{job_id} {day}: FAILED: {error} (its later dates and the jobs depending on it wait)", err=True)
    for job_id, (day, dependency) in outcome.waiting.items():
        click.echo(f"{job_id} {day}: not run: waits for {dependency} to succeed for {day}", err=True)


@jobs_group.command("status")
@click.option("--limit", type=click.IntRange(min=1, max=10000), default=20, show_default=True)
@with_appcontext
def jobs_status(limit: int) -> None:
    """The jobs failing now (since which date, how many attempts, the last error), then the latest runs: succeeded
    with their counts, failed with their error, skipped with why."""
    from sqlalchemy import select

    from insurecrm import jobplan
    from insurecrm.db import db
    from insurecrm.models import JobRun

    for failing in jobplan.failing():
        held = f"; holds back {', '.join(failing.holds_back)}" if failing.holds_back else ""
        click.echo(f"FAILING {failing.job_id} since {failing.since}: {failing.attempts} attempt(s), "
                   f"last error: {failing.last_error}{held}")
    runs = db.session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)).all()
    if not runs:
        click.echo("No job has run yet.")
    for run in runs:
        counts = ", ".join(f"{key}={value}" for key, value in run.counts.items())
        outcome = counts if run.status == "succeeded" else jobplan.last_line(run.error)
        click.echo(f"{run.logical_date}  {run.job_id:<36} {run.status.value:<9} {run.host:<16} {outcome}")
