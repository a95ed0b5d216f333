"""Fault tests of the once-per-date guard with real processes on PostgreSQL.

Each test gets a database of its own with a small demo book (a copy of one built once per test run), and runs
``insurecrm jobs run`` in separate processes. A test connection holds a lock on ``renewal_cases`` to stop a job
half-way, deterministically: the job holds the jobs lock and is waiting to write its cases.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from functools import partial

import pytest
import sqlalchemy as sa

from tests import databases

DAY = "2026-11-22"
JOB = "policies.open_renewal_cases"
#: renewable, renewing policies inside the window without a case: what the job must leave at zero
MISSING_CASES = """
SELECT count(*) FROM policies p JOIN products pr ON pr.id = p.product_id
WHERE pr.renewable AND p.status IN ('in_force', 'grace', 'reinstated')
  AND p.expiry_date > CAST(:day AS DATE) AND p.expiry_date <= CAST(:day AS DATE) + 60
  AND NOT EXISTS (SELECT 1 FROM renewal_cases rc WHERE rc.policy_id = p.id)
  AND NOT EXISTS (SELECT 1 FROM policies r WHERE r.renews_policy_id = p.id)
"""

pytestmark = pytest.mark.slow


def require_pg() -> None:
    if not databases.pg_available():
        if databases.pg_required():
            pytest.fail("PostgreSQL is required (INSURECRM_REQUIRE_PG=1) but does not answer")
        pytest.skip("PostgreSQL not reachable")


def _build_book(url: str, *, instance_path: str) -> None:
    env = {**os.environ, "INSURECRM_DATABASE_URL": url, "INSURECRM_INSTANCE_PATH": instance_path}
    cli(env, "db", "upgrade")
    cli(env, "demo", "--policyholders", "150", "--seed", "3")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:  # make the window hold work for the job
            connection.execute(sa.text("DELETE FROM renewal_cases WHERE status = 'open'"))
            assert connection.execute(sa.text(MISSING_CASES), {"day": DAY}).scalar() > 0
    finally:
        engine.dispose()


@pytest.fixture
def pg_book(tmp_path, tmp_path_factory):
    """(env, engine): a copy of the run's book (built once by ``db upgrade`` and ``demo``) for this test alone."""
    require_pg()
    build = partial(_build_book, instance_path=str(tmp_path_factory.mktemp("jobs-book")))
    url = databases.shared_pg_copy(tmp_path_factory, "jobs150", build, prefix="insurecrm_jobs")
    env = {**os.environ, "INSURECRM_DATABASE_URL": url, "INSURECRM_INSTANCE_PATH": str(tmp_path)}
    engine = sa.create_engine(url)
    try:
        yield env, engine
    finally:
        engine.dispose()
        databases.drop_pg_database(url)


def cli(env, *args, check=True):
    return subprocess.run([sys.executable, "-m", "insurecrm.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=check)


def start_job(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "insurecrm.cli", "jobs", "run", "--date", DAY, JOB], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_blocked(engine, count: int, timeout: float = 30) -> None:
    """Wait until ``count`` other sessions wait on a lock (the held table lock or a rival's claim)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            waiting = connection.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar()
        if waiting >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"expected {count} blocked job processes")


def read_line(process: subprocess.Popen, timeout: float = 30) -> str:
    """The next line the process prints, waiting at most ``timeout`` seconds for it."""
    ready, _w, _x = select.select([process.stdout], [], [], timeout)
    assert ready, "the process printed nothing in time"
    return process.stdout.readline()


def claims(engine) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT status, attempt_key FROM job_runs WHERE job_id = :job AND logical_date = CAST(:day AS DATE)"),
            {"job": JOB, "day": DAY}).all()


def missing(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text(MISSING_CASES), {"day": DAY}).scalar()


def test_three_processes_started_together_do_the_work_once(pg_book):
    env, engine = pg_book
    blocker = engine.connect()
    transaction = blocker.begin()
    blocker.execute(sa.text("LOCK TABLE renewal_cases IN EXCLUSIVE MODE"))
    first = start_job(env)
    wait_for_blocked(engine, 1)  # holds the jobs lock, waits to write its cases
    others = [start_job(env) for _ in range(2)]
    assert all("Waiting for the scheduler's run to finish" in read_line(other) for other in others)
    transaction.commit()
    blocker.close()
    outputs = [process.communicate(timeout=60) for process in [first, *others]]
    assert [process.returncode for process in [first, *others]] == [0, 0, 0], outputs
    assert f"{JOB} {DAY}: cases_opened=" in outputs[0][0]
    assert all(f"{JOB} {DAY}: already done" in out for out, _err in outputs[1:]), outputs
    assert claims(engine) == [("succeeded", "")]
    assert missing(engine) == 0


def test_a_process_killed_in_the_middle_of_a_job_leaves_nothing_and_the_rerun_does_it_all(pg_book):
    env, engine = pg_book
    before = missing(engine)
    blocker = engine.connect()
    transaction = blocker.begin()
    blocker.execute(sa.text("LOCK TABLE renewal_cases IN EXCLUSIVE MODE"))
    victim = start_job(env)
    wait_for_blocked(engine, 1)  # claimed, now writing its cases
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)  # reaps it and closes its pipes
    transaction.commit()
    blocker.close()
    assert claims(engine) == [] and missing(engine) == before  # claim and work rolled back together

    rerun = cli(env, "jobs", "run", "--date", DAY, JOB)
    assert f"cases_opened={before}" in rerun.stdout
    assert claims(engine) == [("succeeded", "")]
    assert missing(engine) == 0
    assert "already done" in cli(env, "jobs", "run", "--date", DAY, JOB).stdout
