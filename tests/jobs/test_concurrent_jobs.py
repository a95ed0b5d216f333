"""Daily jobs against each other and against a user, on PostgreSQL with real connections (issue 8, points 2
and 7): two runs for adjacent dates started together create every task and message once, and a user's edit of
a policy a running job touches waits well under a second.

These tests need rows committed for real, visible to other connections, so they use a database of their own
(not the rolled-back transaction of the other tests) and runs in threads, each with its own session.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from insurecrm import clock, create_app
from insurecrm.db import db
from insurecrm.registry import metadata
from policies import tasks as policy_jobs
from policies.models import PremiumFrequency, RenewalCase
from policyholders import tasks as holder_jobs
from tests import databases
from tests.factories import Factory
from tests.helpers import saved

#: SQLite's writers take turns (BEGIN IMMEDIATE): two runs cannot interleave there
pytestmark = pytest.mark.postgresql_only
DAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 on DAY + 1 in Asia/Shanghai


@pytest.fixture
def committed(backend):
    """An app on a fresh PostgreSQL database; ``(app, engine)``."""
    url = databases.create_pg_database("insurecrm_jobs_race")
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "jobs",
                          "RATELIMIT_STORAGE_URI": "memory://"})
        with clock.frozen(NOW):
            yield app, engine
    finally:
        db.session.remove()
        engine.dispose()
        databases.drop_pg_database(url)
        db.configure(backend)  # the rest of the session's tests use the backend's database again


def key_customers(make) -> None:
    for _ in range(3):
        make.policy(make.policyholder(), premium=Decimal("5000.00"), frequency=PremiumFrequency.MONTHLY,
                    effective_date=DAY - timedelta(days=200))


def renewal_cases(make) -> None:
    for n in range(3):
        holder = make.policyholder(consent_email=n != 0)  # the first one is called, the others emailed
        policy = make.policy(holder, make.product(renewable=True), expiry_date=DAY + timedelta(days=12),
                             effective_date=DAY - timedelta(days=353))
        saved(make, RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=DAY,
                                org_unit_id=policy.org_unit_id, assigned_agent_id=holder.owner_agent_id))


def new_policies(make) -> None:
    product = make.product(callback_required=True, cooling_off_days=15)
    for _ in range(3):
        make.policy(product=product, effective_date=DAY - timedelta(days=1))


RACES = {
    # job, the book it needs, what it creates (one per key: three)
    "key_customer_callbacks": (holder_jobs.key_customer_callbacks, key_customers,
                               "SELECT count(*) FROM activities WHERE reason = 'key_customer_call'"),
    "remind_renewals": (policy_jobs.remind_renewals, renewal_cases,
                        "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM activities)"),
    "escalate_renewals": (policy_jobs.escalate_renewals, renewal_cases,
                          "SELECT count(*) FROM activities WHERE reason = 'renewal_escalation'"),
    "new_policy_callbacks": (policy_jobs.new_policy_callbacks, new_policies,
                             "SELECT count(*) FROM activities WHERE reason = 'new_policy_callback'"),
}


@pytest.mark.parametrize("name", RACES)
def test_two_runs_for_adjacent_dates_started_together_create_each_row_once(committed, monkeypatch, name):
    app, engine = committed
    job, build, created = RACES[name]
    with app.app_context():
        build(Factory(db.session))
        db.session.commit()
        db.session.remove()
    first_wrote, second_tried = threading.Event(), threading.Event()
    real_insert = holder_jobs.insert_new

    def interleaved(*args, **kwargs):
        """The first run writes its rows and waits, uncommitted, for the second to try writing the same."""
        written = real_insert(*args, **kwargs)
        if threading.current_thread().name == "first" and not first_wrote.is_set():
            first_wrote.set()
            second_tried.wait(3)  # a second run blocked on the unique keys never gets here: go on after 3 s
        elif threading.current_thread().name == "second":
            second_tried.set()
        return written

    monkeypatch.setattr(holder_jobs, "insert_new", interleaved)
    errors: list[BaseException] = []

    def run(day: date, after: threading.Event | None = None):
        with app.app_context():
            try:
                if after is not None:
                    after.wait(10)
                job(day)
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(DAY,), name="first"),
               threading.Thread(target=run, args=(DAY + timedelta(days=1), first_wrote), name="second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert first_wrote.is_set() and errors == []
    with engine.connect() as connection:
        assert connection.execute(sa.text(created)).scalar() == 3


LATE_POLICIES = """
INSERT INTO policies (number, policyholder_id, product_id, servicing_agent_id, org_unit_id, channel, business_type,
                      issue_date, effective_date, expiry_date, sum_insured, premium, frequency, status, status_date,
                      cooling_off_cancellation, version, created_at, updated_at)
SELECT 'L' || lpad(g::text, 12, '0'), :holder, :product, NULL, :unit, 'agency', 'new', :start, :start, :start + 365,
       10000, 100, 'annual', 'in_force', :start, false, 1, now(), now()
FROM generate_series(1, :count) g;
INSERT INTO installments (policy_id, sequence, due_date, amount, paid_amount, status)
SELECT id, 1, :start, 100, 0, 'due' FROM policies WHERE number LIKE 'L%'
"""


def test_a_users_edit_of_a_policy_waits_well_under_a_second_while_a_job_moves_thousands(committed):
    app, engine = committed
    with app.app_context():
        make = Factory(db.session)
        first = make.policy(expiry_date=DAY, effective_date=DAY - timedelta(days=365))  # the job's first move
        db.session.commit()
        holder, product, unit = first.policyholder_id, first.product_id, first.org_unit_id
        db.session.remove()
    with engine.begin() as connection:  # 40,000 policies entering grace, after the first one expired
        for statement in LATE_POLICIES.split(";"):
            connection.execute(sa.text(statement), {"holder": holder, "product": product, "unit": unit,
                                                    "start": DAY - timedelta(days=10), "count": 40_000})
        connection.execute(sa.text("ANALYZE"))
    done = threading.Event()

    def run_job():
        with app.app_context():
            try:
                policy_jobs.grace_and_lapse(DAY)
                db.session.commit()
            finally:
                db.session.remove()
                done.set()

    thread = threading.Thread(target=run_job)
    thread.start()
    waits = []
    with engine.connect() as user:
        user.execute(sa.text("SET lock_timeout = '1s'"))
        user.commit()
        while not done.is_set():  # a user saving the first policy again and again while the job runs
            started = time.perf_counter()
            user.execute(sa.text("UPDATE policies SET sum_insured = sum_insured WHERE id = :id"), {"id": first.id})
            user.commit()
            waits.append(time.perf_counter() - started)
            time.sleep(0.05)
    thread.join(120)
    with engine.connect() as connection:
        moved = connection.execute(sa.text("SELECT count(*) FROM policy_status_changes")).scalar()
    assert moved == 40_001
    assert len(waits) > 3 and max(waits) < 1.0, waits
