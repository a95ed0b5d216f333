"""``insurecrm jobs run`` / ``jobs status``, the jobs lock, the limit's configuration and the /admin/ops/jobs page
for skipped and failing jobs (both databases)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from flask.cli import ScriptInfo
from sqlalchemy import select

from insurecrm import clock, joblock, jobplan, jobs
from insurecrm.cli import main
from insurecrm.config import ConfigError, load_config
from insurecrm.models import JobRun, JobRunStatus, Role
from tests.api_client import csrf_token

DAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 3, tzinfo=UTC)


@pytest.fixture
def book(app, monkeypatch):
    monkeypatch.setattr(jobs, "_registry", {})
    broken: set[date] = set()

    @jobs.daily_job("policies.open_renewal_cases", order=1)
    def first(logical_date):
        if logical_date in broken:
            raise RuntimeError("the renewal window is on fire")
        return {"cases_opened": 2}

    @jobs.daily_job("policies.remind_renewals", order=2, depends_on=("policies.open_renewal_cases",))
    def second(logical_date):
        return {"reminders_queued": 1}

    with clock.frozen(NOW):
        yield broken


@pytest.fixture
def run(app):
    def invoke(*args):
        return app.test_cli_runner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))

    return invoke


def claims(session) -> list[tuple[str, date]]:
    return sorted(session.execute(select(JobRun.job_id, JobRun.logical_date).where(JobRun.attempt_key == "")).all())


def test_jobs_run_refuses_a_date_after_today_and_writes_nothing(book, run, session):
    result = run("jobs", "run", "--date", "2026-11-23")
    assert result.exit_code == 1 and "after today" in result.output and "Nothing was run" in result.output
    assert session.scalars(select(JobRun)).all() == []


def test_jobs_run_runs_the_earlier_owed_dates_first_and_says_so(book, run, session):
    assert run("jobs", "run", "--date", "2026-11-17").exit_code == 0
    result = run("jobs", "run", "--date", "2026-11-20", "policies.remind_renewals")
    assert result.exit_code == 0, result.output
    assert "policies.remind_renewals: earlier dates still owed run first: 2026-11-18, 2026-11-19" in result.output
    assert "policies.open_renewal_cases: runs too, as a job the ones asked for depend on" in result.output
    assert "policies.remind_renewals 2026-11-20: reminders_queued=1" in result.output
    assert claims(session) == sorted((job, date(2026, 11, d)) for d in (17, 18, 19, 20)
                                     for job in ("policies.open_renewal_cases", "policies.remind_renewals"))
    assert "already done" in run("jobs", "run", "--date", "2026-11-20").output


def test_jobs_run_reports_a_failure_and_the_dependant_waiting_and_exits_1(book, run, session):
    book.add(DAY)
    result = run("jobs", "run")
    assert result.exit_code == 1
    assert "open_renewal_cases 2026-11-22: FAILED: RuntimeError: the renewal window is on fire" in result.output
    assert "policies.remind_renewals 2026-11-22: not run: waits for policies.open_renewal_cases" in result.output
    status = run("jobs", "status")
    assert "FAILING policies.open_renewal_cases since 2026-11-22: 1 attempt(s)" in status.output
    assert "holds back policies.remind_renewals" in status.output


@contextmanager
def lock_held_elsewhere(release_after: float | None = None) -> Iterator[threading.Event]:
    """Another thread holds the jobs lock (it competes like another process) until the block ends, or until
    ``release_after`` seconds; yields the event that lets go of it."""
    held, release = threading.Event(), threading.Event()

    def other_run():
        with joblock.held(timeout=5):
            held.set()
            release.wait(10)

    other = threading.Thread(target=other_run)
    other.start()
    held.wait(5)
    if release_after is not None:
        threading.Timer(release_after, release.set).start()
    try:
        yield release
    finally:
        release.set()
        other.join()


def test_jobs_run_waits_for_the_lock_held_by_another_run_then_runs(book, run, session):
    with lock_held_elsewhere(release_after=0.5):
        result = run("jobs", "run", "--wait", "10")
    assert result.exit_code == 0, result.output
    assert "Waiting for the scheduler's run to finish" in result.output
    assert "policies.open_renewal_cases 2026-11-22: cases_opened=2" in result.output


def test_jobs_run_gives_up_after_its_wait_and_runs_nothing(book, run, session):
    with lock_held_elsewhere():
        result = run("jobs", "run", "--wait", "0")
    assert result.exit_code == 1 and "still holds the lock" in result.output
    assert claims(session) == []


def test_a_scheduler_tick_skips_its_turn_while_another_run_holds_the_lock(book, app, session):
    from insurecrm import scheduler

    with lock_held_elsewhere():
        assert scheduler.tick(app) is None
    assert claims(session) == []


@pytest.mark.parametrize("value", ["0", "-3", "thirty"])
def test_a_catch_up_limit_below_one_is_refused_at_config_load(monkeypatch, tmp_path, value):
    monkeypatch.setenv("INSURECRM_JOBS_MAX_CATCH_UP_DAYS", value)
    with pytest.raises(ConfigError, match="INSURECRM_JOBS_MAX_CATCH_UP_DAYS must be a whole number from 1"):
        load_config(str(tmp_path))


def test_a_run_hour_outside_the_day_is_refused_at_config_load(monkeypatch, tmp_path):
    monkeypatch.setenv("INSURECRM_JOBS_HOUR", "24")
    with pytest.raises(ConfigError, match="INSURECRM_JOBS_HOUR"):
        load_config(str(tmp_path))


@pytest.fixture
def admin(web, make):
    return web(make.user(Role.ADMIN))


def test_the_ops_page_shows_skipped_dates_and_an_admin_runs_one(book, admin, session):
    for job in jobs.registered():
        jobs.run_job(job, DAY - timedelta(days=35))
    jobplan.run_owed(DAY)
    html = admin.get("/admin/ops/jobs?status=skipped").get_data(as_text=True)
    assert "Skipped" in html and "Not run: older than the catch-up limit" in html and "Run this date" in html
    skipped_day = DAY - timedelta(days=32)
    response = admin.post("/admin/ops/jobs/run", data={"csrf_token": csrf_token(admin), "date": skipped_day.isoformat(),
                                                       "job": "policies.remind_renewals"})
    assert response.status_code == 302
    assert ("policies.remind_renewals", skipped_day) in claims(session)
    assert ("policies.open_renewal_cases", skipped_day) in claims(session)  # its dependency first
    page = admin.get("/admin/ops/jobs?status=skipped").get_data(as_text=True)
    assert "Run since." in page


def test_the_run_button_refuses_bad_input_others_and_posts_without_csrf(book, admin, web, make, session):
    token = csrf_token(admin)
    future = admin.post("/admin/ops/jobs/run", data={"csrf_token": token, "date": "2026-11-23",
                                                     "job": "policies.remind_renewals"})
    assert future.status_code == 422
    assert admin.post("/admin/ops/jobs/run", data={"csrf_token": token, "date": "2026-11-20",
                                                   "job": "no.such"}).status_code == 422
    assert admin.post("/admin/ops/jobs/run", data={"csrf_token": token, "date": "yesterday",
                                                   "job": "x" * 500}).status_code == 422
    assert admin.post("/admin/ops/jobs/run", data={"date": "2026-11-20", "job": "policies.remind_renewals"}
                      ).status_code == 400
    agent = web(make.user(Role.AGENT))
    assert agent.post("/admin/ops/jobs/run", data={"csrf_token": csrf_token(agent), "date": "2026-11-20",
                                                   "job": "policies.remind_renewals"}).status_code == 403
    assert claims(session) == []


@pytest.mark.parametrize(("language", "words"), [("en", ["Failing jobs", "Failing since", "Waiting for it"]),
                                                 ("zh", ["失败的任务"])])
def test_the_ops_page_summarises_failing_jobs_in_each_language(book, web, make, session, language, words):
    book.add(DAY)
    jobplan.run_owed(DAY)
    html = web(make.user(Role.ADMIN, preferred_language=language)).get("/admin/ops/jobs").get_data(as_text=True)
    for word in words:
        assert word in html
    assert "RuntimeError: the renewal window is on fire" in html
    assert session.scalars(select(JobRun.status)).all() == [JobRunStatus.FAILED]
