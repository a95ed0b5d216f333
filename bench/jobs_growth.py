"""Benchmark: the daily jobs' cost follows the day's work, not the size of the book (issue 8, point 8).

    .venv/bin/python bench/jobs_growth.py                      # books of 100,000 and 1,000,000 policies
    .venv/bin/python bench/jobs_growth.py --policies 100000 300000

Each book is built on a fresh PostgreSQL database with set-based SQL (``generate_series``), then ``ANALYZE``d.
Every book holds the SAME day's work for the benchmark's date ``DAY`` (:data:`WORK_SQL`): as many policies
entering the renewal window, owed a reminder or an escalation, expiring, entering grace, lapsing, issued with a
callback owed, as many birthdays and key customers coming due. The rest of the book is background that no job
has anything to do with on ``DAY``: policies in force expiring after every window, paid up, issued before every
cooling-off period, with their future installments; history (expired, renewed and lapsed policies — the lapsed
ones with their unpaid installments); key customers whose service call is planned or was done lately.

All the jobs are run for ``DAY - 1`` first (the day before, untimed, as the scheduler would have), then each job
is timed for ``DAY``, under its claim (``jobs.run_job``), on the clock of that morning. The benchmark prints
each job's time in each book and the ratio of the totals; the target is under 1.5×.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from insurecrm import clock, create_app, jobs  # noqa: E402
from insurecrm.db import db  # noqa: E402
from insurecrm.registry import metadata  # noqa: E402
from policyholders.tasks import local_instant  # noqa: E402
from tests import databases  # noqa: E402

DAY = date(2026, 11, 22)
#: the background: holders, policies (two per holder), their installments, calls; :nb policies, :nh holders
BACKGROUND_SQL = [
    "INSERT INTO org_units (id, code, name, kind, path, created_at, updated_at) "
    "VALUES (1, 'HQ', 'Head office', 'company', '/1/', now(), now())",
    "INSERT INTO agents (id, code, name, name_sort_key, org_unit_id, channel, status, hire_date, created_at, "
    "updated_at) SELECT g, 'A' || g, 'Agent ' || g, 'agent ' || g, 1, 'agency', "
    "CASE WHEN g % 20 = 0 THEN 'inactive' ELSE 'active' END, DATE '2020-01-01', now(), now() "
    "FROM generate_series(1, 500) g",
    "INSERT INTO products (id, code, name, line, term_months, renewable, frequencies, first_year_commission_rate, "
    "renewal_commission_rate, bank_share_rate, grace_period_days, cooling_off_days, callback_required, "
    "max_renewal_discount, active, created_at, updated_at) VALUES "
    "(1, 'MOTOR', 'Motor', 'motor', 12, true, '[\"annual\"]', 0.1, 0.05, 0, 60, 15, false, 0.1, true, now(), now()), "
    "(2, 'LIFE', 'Life', 'life', 240, false, '[\"annual\"]', 0.3, 0.05, 0, 60, 15, true, 0.1, true, now(), now())",
    # born on any day but DAY and the day before; changed long ago
    "INSERT INTO policyholders (id, kind, name, name_sort_key, org_unit_id, owner_agent_id, preferred_language, "
    "consent_marketing, consent_sms, consent_email, phone, email, date_of_birth, acquisition_channel, status, "
    "version, created_at, updated_at) "
    "SELECT g, 'person', 'Holder ' || g, 'holder ' || g, 1, 1 + g % 500, CASE WHEN g % 5 = 0 THEN 'en' ELSE 'zh' END, "
    "g % 2 = 0, g % 3 = 0, g % 4 = 0, '+86138' || lpad(g::text, 8, '0'), 'h' || g || '@example.com', "
    "make_date(1960 + g % 30, extract(month FROM b.d)::int, extract(day FROM b.d)::int), 'agency', 'active', 1, "
    ":old, :old FROM generate_series(1, :nh) g, LATERAL (SELECT DATE '2001-01-01' + g % 363 "
    "+ CASE WHEN DATE '2001-01-01' + g % 363 >= DATE '2001-11-21' THEN 2 ELSE 0 END AS d) b",
    # policy g belongs to holder 1 + g % nh; one in twenty holders is a key customer (2 × 30,000 a year)
    "INSERT INTO policies (id, number, policyholder_id, product_id, servicing_agent_id, org_unit_id, channel, "
    "business_type, issue_date, effective_date, expiry_date, sum_insured, premium, frequency, status, status_date, "
    "cooling_off_cancellation, version, created_at, updated_at) "
    "SELECT g, 'B' || lpad(g::text, 13, '0'), 1 + g % :nh, CASE WHEN g % 5 = 0 THEN 2 ELSE 1 END, 1 + g % 500, 1, "
    "'agency', 'new', s.start, s.start, "
    "CASE WHEN s.status = 'in_force' THEN s.start + 730 ELSE s.start + 365 END, 10000, "
    "CASE WHEN (1 + g % :nh) % 20 = 0 THEN 30000 ELSE 100 + g % 900 END, 'annual', s.status, "
    "CASE WHEN s.status = 'in_force' THEN s.start ELSE s.start + 365 END, false, 1, :old, :old "
    "FROM generate_series(1, :nb) g, LATERAL (SELECT "
    "  CASE WHEN g % 100 < 85 THEN CAST(:day AS DATE) - 30 - g % 300 ELSE CAST(:day AS DATE) - 400 - g % 700 END "
    "    AS start, "
    "  CASE WHEN g % 100 < 85 THEN 'in_force' WHEN g % 100 < 93 THEN 'expired' WHEN g % 100 < 98 THEN 'renewed' "
    "    ELSE 'lapsed' END AS status) s",
    # the first year paid (the lapsed: unpaid), the second one due in the future (for those in force)
    "INSERT INTO installments (policy_id, sequence, due_date, amount, paid_amount, paid_date, status) "
    "SELECT id, 1, effective_date, premium, CASE WHEN status = 'lapsed' THEN 0 ELSE premium END, "
    "CASE WHEN status = 'lapsed' THEN NULL ELSE effective_date END, "
    "CASE WHEN status = 'lapsed' THEN 'due' ELSE 'paid' END FROM policies",
    "INSERT INTO installments (policy_id, sequence, due_date, amount, paid_amount, status) "
    "SELECT id, 2, effective_date + 365, premium, 0, 'due' FROM policies WHERE status = 'in_force'",
    # key customers: a call planned (half of them) or done 30 days ago (the others)
    "INSERT INTO activities (agent_id, org_unit_id, kind, priority, subject, planned_start, status, actual_start, "
    "policyholder_id, recurrence, created_at, updated_at) "
    "SELECT 1 + g % 500, 1, 'call', 'normal', 'Service call', "
    "CASE WHEN g % 40 = 0 THEN :recent ELSE :recent + interval '40 days' END, "
    "CASE WHEN g % 40 = 0 THEN 'done' ELSE 'planned' END, CASE WHEN g % 40 = 0 THEN :recent END, g, 'none', "
    ":old, :old FROM generate_series(20, :nh, 20) g",
]
#: the day's work, the same in every book: ids from :base (policies) and :hbase (holders) up
WORK_SQL = [
    # 1,220 holders of the work: 50 born on DAY and 50 the day before; 100 key customers whose call came due
    "INSERT INTO policyholders (id, kind, name, name_sort_key, org_unit_id, owner_agent_id, preferred_language, "
    "consent_marketing, consent_sms, consent_email, phone, email, date_of_birth, acquisition_channel, status, "
    "version, created_at, updated_at) "
    "SELECT :hbase + g, 'person', 'Worker ' || g, 'worker ' || g, 1, 1 + g % 500, 'zh', true, g % 3 = 0, true, "
    "'+86139' || lpad(g::text, 8, '0'), 'w' || g || '@example.com', "
    "CASE WHEN g <= 50 THEN DATE '1980-11-22' WHEN g <= 100 THEN DATE '1981-11-21' ELSE DATE '1970-03-03' END, "
    "'agency', 'active', 1, :old, :old FROM generate_series(1, 1220) g",
    # 1,220 policies expiring from DAY to DAY + 60, 20 a day: cases, reminders, escalations, expiry
    "INSERT INTO policies (id, number, policyholder_id, product_id, servicing_agent_id, org_unit_id, channel, "
    "business_type, issue_date, effective_date, expiry_date, sum_insured, premium, frequency, status, status_date, "
    "cooling_off_cancellation, version, created_at, updated_at) "
    "SELECT :base + g, 'W' || lpad(g::text, 13, '0'), :hbase + g, 1, 1 + g % 500, 1, 'agency', 'new', "
    "CAST(:day AS DATE) - 365 + (g - 1) / 20, CAST(:day AS DATE) - 365 + (g - 1) / 20, "
    "CAST(:day AS DATE) + (g - 1) / 20, 10000, CASE WHEN g > 1120 THEN 60000 ELSE 500 END, 'annual', 'in_force', "
    "CAST(:day AS DATE) - 365 + (g - 1) / 20, false, 1, :old, :old FROM generate_series(1, 1220) g",
    # their premium of the year, paid
    "INSERT INTO installments (policy_id, sequence, due_date, amount, paid_amount, paid_date, status) "
    "SELECT id, 1, effective_date, premium, premium, effective_date, 'paid' FROM policies WHERE number LIKE 'W%'",
    # 400 policies unpaid since DAY - 1 or DAY - 2 (into grace), 200 in grace since 60 days (lapsing)
    "INSERT INTO policies (id, number, policyholder_id, product_id, servicing_agent_id, org_unit_id, channel, "
    "business_type, issue_date, effective_date, expiry_date, sum_insured, premium, frequency, status, status_date, "
    "cooling_off_cancellation, version, created_at, updated_at) "
    "SELECT :base + 2000 + g, 'G' || lpad(g::text, 13, '0'), :hbase + 1 + g % 1000, 1, 1 + g % 500, 1, 'agency', "
    "'new', d.start, d.start, d.start + 730, 10000, 500, 'annual', "
    "CASE WHEN g <= 400 THEN 'in_force' ELSE 'grace' END, "
    "CASE WHEN g <= 400 THEN d.start ELSE CAST(:day AS DATE) - 59 - g % 2 END, false, 1, :old, :old "
    "FROM generate_series(1, 600) g, LATERAL (SELECT CASE WHEN g <= 400 THEN CAST(:day AS DATE) - 1 - g % 2 "
    "ELSE CAST(:day AS DATE) - 61 - g % 2 END AS start) d",
    "INSERT INTO installments (policy_id, sequence, due_date, amount, paid_amount, status) "
    "SELECT id, 1, effective_date, premium, 0, 'due' FROM policies WHERE number LIKE 'G%'",
    # 100 life policies issued on DAY and the day before, their callback owed
    "INSERT INTO policies (id, number, policyholder_id, product_id, servicing_agent_id, org_unit_id, channel, "
    "business_type, issue_date, effective_date, expiry_date, sum_insured, premium, frequency, status, status_date, "
    "cooling_off_cancellation, version, created_at, updated_at) "
    "SELECT :base + 3000 + g, 'N' || lpad(g::text, 13, '0'), :hbase + 200 + g, 2, 1 + g % 500, 1, 'agency', "
    "'new', CAST(:day AS DATE) - g % 2, CAST(:day AS DATE) - g % 2, CAST(:day AS DATE) + 7000, 10000, 500, 'annual', "
    "'in_force', CAST(:day AS DATE) - g % 2, false, 1, :old, :old FROM generate_series(1, 100) g",
    "INSERT INTO installments (policy_id, sequence, due_date, amount, paid_amount, paid_date, status) "
    "SELECT id, 1, effective_date, premium, premium, effective_date, 'paid' FROM policies WHERE number LIKE 'N%'",
    # the key customers (holders 1121..1220, 60,000 a year): their last call done 90 days ago (due on DAY - 1, DAY)
    "INSERT INTO activities (agent_id, org_unit_id, kind, priority, subject, planned_start, status, actual_start, "
    "policyholder_id, recurrence, created_at, updated_at) "
    "SELECT 1 + g % 500, 1, 'call', 'normal', 'Service call', :due - interval '12 hours' - interval '1 day' * (g % 2), "
    "'done', :due - interval '12 hours' - interval '1 day' * (g % 2), :hbase + g, 'none', :old, :old "
    "FROM generate_series(1121, 1220) g",
]


def build(policies: int) -> tuple[int, int]:
    """The book: background, then the day's work; returns (policies, installments)."""
    work_policies = 1220 + 600 + 100
    nb = policies - work_policies
    old = local_instant(DAY - timedelta(days=200))
    params = {"nb": nb, "nh": max(nb // 2, 1), "day": DAY, "old": old, "base": nb, "hbase": max(nb // 2, 1),
              "due": local_instant(DAY - timedelta(days=90)), "recent": local_instant(DAY - timedelta(days=30))}
    for statement in BACKGROUND_SQL + WORK_SQL:
        db.session.execute(sa.text(statement), params)
    for table in ("policyholders", "policies"):
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return (db.session.scalar(sa.text("SELECT count(*) FROM policies")),
            db.session.scalar(sa.text("SELECT count(*) FROM installments")))


def run_day(day: date) -> dict[str, tuple[float, dict]]:
    """Every job for ``day``, in order, on the clock of that morning; each one's seconds and counts."""
    results = {}
    with clock.frozen(datetime.combine(day, datetime.min.time()).replace(hour=1, tzinfo=clock.zone())):
        for job in jobs.registered():
            started = time.perf_counter()
            run = jobs.run_job(job, day)
            results[job.id] = (time.perf_counter() - started, dict(run.counts or {}) if run else {})
    return results


def measure(policies: int) -> dict[str, tuple[float, dict]]:
    url = databases.create_pg_database("insurecrm_bench_jobs")
    try:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-jobs-growth-" + "x" * 32})
        with app.app_context():
            metadata.create_all(db.engine)
            started = time.perf_counter()
            count, installments = build(policies)
            print(f"book of {count:,} policies ({installments:,} installments) built and analysed in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            run_day(DAY - timedelta(days=1))
            results = run_day(DAY)
            db.session.remove()
        return results
    finally:
        db.engine.dispose()
        databases.drop_pg_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, nargs=2, default=[100_000, 1_000_000], metavar=("SMALL", "LARGE"))
    args = parser.parse_args()
    small, large = (measure(size) for size in args.policies)
    print(f"\n{'job':<36} {'counts on the day (both books)':<58} {'small s':>8} {'large s':>8} {'ratio':>6}")
    for job_id in small:
        (a, counts), (b, other) = small[job_id], large[job_id]
        same = "" if counts == other else "  ≠ " + str(other)
        shown = ", ".join(f"{k}={v}" for k, v in counts.items()) + same
        print(f"{job_id:<36} {shown:<58} {a:>8.3f} {b:>8.3f} {b / a:>5.1f}×")
    total_small, total_large = (sum(seconds for seconds, _ in r.values()) for r in (small, large))
    print(f"{'total':<36} {'':<58} {total_small:>8.3f} {total_large:>8.3f} {total_large / total_small:>5.2f}×")
    print(f"target: under 1.5× — {'met' if total_large / total_small < 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
