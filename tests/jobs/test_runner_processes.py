"""The runner with real processes on PostgreSQL: a hand run beside a scheduler's catch-up, and SIGTERM.

Each test gets a database of its own with a demo book (a copy of one built once per test run), whose daily jobs
are set to have last run ``CATCH_UP_DAYS + 1`` days ago, so that ``insurecrm scheduler`` starts with a catch-up of
that many dates (``INSURECRM_JOBS_HOUR=0``: today is runnable at any hour). A test connection holding a lock on
``renewal_cases`` stops the catch-up inside its first job, deterministically.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests import databases
from tests.jobs.test_processes import cli, read_line, require_pg, wait_for_blocked

#: days owed before today: a catch-up of several dates, in order, then today. Five rather than ten halves the jobs'
#: work in each test (every owed date runs every job over the book); the demo book ran its reminder jobs for the
#: three days before today itself, so the two earliest owed dates still give the reminder job work of its own
CATCH_UP_DAYS = 5
#: every daily job, as a scheduler process registers them (asked of a fresh process: tests in this one register
#: jobs of their own)
JOBS = subprocess.run(
    [sys.executable, "-c", "from insurecrm import create_app, jobs; create_app(); "
                           "print(' '.join(job.id for job in jobs.registered()))"],
    check=True, capture_output=True, text=True, timeout=120).stdout.split()
#: what the jobs did, to compare a concurrent run with a serial one
EFFECTS = {
    "claims": "SELECT job_id, logical_date, count(*) FROM job_runs WHERE attempt_key = '' AND status = 'succeeded' "
              "GROUP BY job_id, logical_date ORDER BY 1, 2",
    "outbox": "SELECT kind, channel, count(*) FROM outbox GROUP BY kind, channel ORDER BY 1, 2",
    "status_changes": "SELECT from_status, to_status, effective_date, count(*) FROM policy_status_changes "
                      "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "tasks": "SELECT reason, count(*) FROM activities WHERE reason IS NOT NULL GROUP BY reason ORDER BY 1",
    "job_status_changes": "SELECT count(*) FROM policy_status_changes "
                          "WHERE actor_label = 'job:policies.grace_and_lapse'",
    "reminders": "SELECT offset_days, channel, count(*) FROM renewal_reminders GROUP BY 1, 2 ORDER BY 1, 2",
}
#: the same move of a policy recorded twice by the status job (in the days it ran)
DUPLICATE_STATUS_CHANGES = """
SELECT count(*) FROM (SELECT policy_id, from_status, to_status FROM policy_status_changes
                      WHERE actor_label = 'job:policies.grace_and_lapse'
                      GROUP BY policy_id, from_status, to_status HAVING count(*) > 1) AS twice
"""

pytestmark = pytest.mark.slow


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _build_book(url: str, *, instance_path: str) -> None:
    env = {**os.environ, "INSURECRM_DATABASE_URL": url, "INSURECRM_INSTANCE_PATH": instance_path}
    cli(env, "db", "upgrade")
    cli(env, "demo", "--policyholders", "400", "--seed", "5")


@pytest.fixture
def pg_behind(tmp_path, tmp_path_factory):
    """(env, engine, url): a demo book whose jobs last ran CATCH_UP_DAYS + 1 days ago (a copy of the run's book,
    built once by ``db upgrade`` and ``demo``)."""
    require_pg()
    build = partial(_build_book, instance_path=str(tmp_path_factory.mktemp("runner-book")))
    url = databases.shared_pg_copy(tmp_path_factory, "runner400", build, prefix="insurecrm_runner")
    env = {**os.environ, "INSURECRM_DATABASE_URL": url, "INSURECRM_INSTANCE_PATH": str(tmp_path),
           "INSURECRM_JOBS_HOUR": "0", "INSURECRM_TIMEZONE": "Asia/Shanghai"}
    engine = sa.create_engine(url)
    try:
        start = today() - timedelta(days=CATCH_UP_DAYS + 1)
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM job_runs"))
            for job in JOBS:
                connection.execute(sa.text(
                    "INSERT INTO job_runs (job_id, logical_date, attempt_key, status, started_at, counts, host) "
                    "VALUES (:job, :day, '', 'succeeded', now(), '{}', 'test')"), {"job": job, "day": start})
        yield env, engine, url
    finally:
        engine.dispose()
        databases.drop_pg_database(url)


def copy_database(url: str) -> str:
    """A copy of the database at ``url`` (no session may be connected to it)."""
    source = make_url(url)
    copy = f"{source.database}_serial"
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{copy}" TEMPLATE "{source.database}"'))
    admin.dispose()
    return source.set(database=copy).render_as_string(hide_password=False)


def effects(engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(sa.text(query))] for name, query in EFFECTS.items()}


def start_scheduler(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "insurecrm.cli", "scheduler"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def count(engine, query: str, **params) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text(query), params).scalar()


def stop(process: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def test_a_hand_run_beside_the_scheduler_catching_up_loses_and_duplicates_nothing(pg_behind):
    env, engine, url = pg_behind
    engine.dispose()
    serial_url = copy_database(url)
    serial_engine = sa.create_engine(serial_url)
    try:
        serial = cli({**env, "INSURECRM_DATABASE_URL": serial_url}, "jobs", "run")  # every owed date, in order
        assert serial.returncode == 0, serial.stderr
        expected = effects(serial_engine)
    finally:
        serial_engine.dispose()
        databases.drop_pg_database(serial_url)
    assert len(expected["claims"]) == len(JOBS) * (CATCH_UP_DAYS + 2)
    # the book gives the jobs work: renewal reminders at least. (Status changes by the grace-and-lapse job are
    # compared below too, but a demo book built as of today may owe none for the days caught up: it was 0 on
    # 2026-12-07 with several books and seeds, which is under investigation — see the closing note.)
    assert expected["reminders"]

    blocker = engine.connect()
    transaction = blocker.begin()
    blocker.execute(sa.text("LOCK TABLE renewal_cases IN EXCLUSIVE MODE"))
    scheduler = start_scheduler(env)
    try:
        wait_for_blocked(engine, 1)  # the catch-up is inside its first job, holding the jobs lock
        hand = subprocess.Popen([sys.executable, "-m", "insurecrm.cli", "jobs", "run"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert "Waiting for the scheduler's run to finish" in read_line(hand)
        transaction.commit()
        blocker.close()
        hand_out, hand_err = hand.communicate(timeout=300)
        assert hand.returncode == 0, hand_err
        assert "already done" in hand_out  # the scheduler had run today's jobs when the hand run got the lock
        assert effects(engine) == expected
        assert count(engine, DUPLICATE_STATUS_CHANGES) == 0
    finally:
        returncode, output = stop(scheduler)
    assert returncode == 0, output


def test_sigterm_mid_job_finishes_that_job_then_the_scheduler_exits_0(pg_behind):
    env, engine, _url = pg_behind
    blocker = engine.connect()
    transaction = blocker.begin()
    blocker.execute(sa.text("LOCK TABLE renewal_cases IN EXCLUSIVE MODE"))
    scheduler = start_scheduler(env)
    wait_for_blocked(engine, 1)  # inside the first job with cases to write (a job with nothing to do writes nothing)
    done = "SELECT job_id, logical_date FROM job_runs WHERE attempt_key = '' AND status = 'succeeded'"
    with engine.connect() as connection:
        before = set(connection.execute(sa.text(done)).all())
    scheduler.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert scheduler.poll() is None  # still finishing the job
    transaction.commit()
    blocker.close()
    started = time.monotonic()
    output, _ = scheduler.communicate(timeout=60)
    assert scheduler.returncode == 0, output
    assert time.monotonic() - started < 15
    assert "SIGTERM received" in output and "scheduler stopped" in output
    with engine.connect() as connection:
        after = set(connection.execute(sa.text(done)).all())
    assert len(after - before) == 1  # the job it was in finished and was recorded; no other job started


def test_a_scheduler_started_after_the_hour_catches_up_at_once_including_today(pg_behind):
    env, engine, _url = pg_behind
    scheduler = start_scheduler(env)
    try:
        wait_for(lambda: count(engine, "SELECT count(*) FROM job_runs WHERE attempt_key = '' AND logical_date = :day",
                               day=today()) == len(JOBS), timeout=300)
    finally:
        returncode, output = stop(scheduler)
    assert returncode == 0, output
    assert count(engine, "SELECT count(*) FROM job_runs WHERE attempt_key = ''") == len(JOBS) * (CATCH_UP_DAYS + 2)
