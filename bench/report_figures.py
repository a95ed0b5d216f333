"""Benchmark: the maintained report figures (issue 9, point 11, "Speed").

    .venv/bin/python bench/report_figures.py                           # books of 50,000 and 500,000 policyholders
    .venv/bin/python bench/report_figures.py --policyholders 50000     # one book

Each book is built on a fresh PostgreSQL database with set-based SQL (``generate_series``, as bench/jobs_growth.py):
two policies per policyholder (four in five annual motor policies paid in one installment, one in five monthly life
policies with an installment per month since it began), a commission per paid installment, a claim on one policy in
ten (one in seven of them rejected), a service request for one policyholder in ten (a third naming no policy) and an
interaction with a cost for one in twenty. Then, on the benchmark's clock:

1. the refresh of ``DAY - 1`` (the month's first: every policyholder), timed;
2. the day's changes, the same in every book: 200 payments (with the installments they pay), 100 new claims and 100
   changed ones, 100 service requests, 100 interactions with a cost, 50 policies changed;
3. (c) the refresh of ``DAY``, timed: it follows the day's changes, not the book;
4. (a) the contribution page's work for an admin (the first page of 50 policyholders with the count, the totals,
   the top 20, and counts by quadrant of contribution and margin) from the maintained rows and by the live SQL
   (the full scan), with both answers compared;
5. (b) the full export of the policyholders table (:func:`reports.exports.csv_chunks`, every row: written by COPY,
   :mod:`reports.csv_copy`; and again formatted in Python, the text compared) against a plain
   ``COPY (SELECT …) TO STDOUT`` of the table's statement.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from insurecrm import clock, create_app, jobs  # noqa: E402
from insurecrm.db import db  # noqa: E402
from insurecrm.models import Role, User  # noqa: E402
from insurecrm.registry import metadata  # noqa: E402
from reports.contribution import ContributionArgs, contribution, holder_contribution  # noqa: E402
from reports.exports import csv_chunks  # noqa: E402
from reports.figures import REFRESH_JOB  # noqa: E402
from reports.filters import Filters  # noqa: E402
from tests import databases  # noqa: E402

DAY = date(2026, 11, 22)  # default period: 2025-11-01 .. 2026-10-31
OLD = datetime(2026, 5, 1, tzinfo=UTC)
#: the book; :n policyholders, policies 2h - 1 and 2h of policyholder h
BOOK_SQL = [
    "INSERT INTO org_units (id, code, name, kind, path, created_at, updated_at) "
    "VALUES (1, 'HQ', 'Head office', 'company', '/1/', :old, :old)",
    "INSERT INTO agents (id, code, name, name_sort_key, org_unit_id, channel, status, hire_date, created_at, "
    "updated_at) SELECT g, 'A' || g, 'Agent ' || g, 'agent ' || g, 1, 'agency', 'active', DATE '2020-01-01', "
    ":old, :old FROM generate_series(1, 500) g",
    "INSERT INTO products (id, code, name, line, term_months, renewable, frequencies, first_year_commission_rate, "
    "renewal_commission_rate, bank_share_rate, grace_period_days, cooling_off_days, callback_required, "
    "max_renewal_discount, active, created_at, updated_at) VALUES "
    "(1, 'MOTOR', 'Motor', 'motor', 12, true, '[\"annual\"]', 0.1, 0.05, 0, 60, 15, false, 0.1, true, :old, :old), "
    "(2, 'LIFE', 'Life', 'life', 240, false, '[\"monthly\"]', 0.3, 0.05, 0, 60, 15, true, 0.1, true, :old, :old)",
    "INSERT INTO policyholders (id, kind, name, name_sort_key, org_unit_id, owner_agent_id, preferred_language, "
    "consent_marketing, consent_sms, consent_email, acquisition_channel, status, version, created_at, updated_at) "
    "SELECT h, 'person', 'Holder ' || h, 'holder ' || h, 1, 1 + h % 500, 'zh', false, false, false, 'agency', "
    "'active', 1, :old, :old FROM generate_series(1, :n) h",
    # effective dates spread over the two years before DAY; life policies (one in five) pay monthly
    "INSERT INTO policies (id, number, policyholder_id, product_id, servicing_agent_id, org_unit_id, channel, "
    "business_type, issue_date, effective_date, expiry_date, sum_insured, premium, frequency, status, status_date, "
    "cooling_off_cancellation, version, created_at, updated_at) "
    "SELECT g, 'P' || lpad(g::text, 13, '0'), (g + 1) / 2, p.product, 1 + g % 500, 1, 'agency', 'new', p.start, "
    "p.start, p.start + CASE WHEN p.product = 1 THEN 365 ELSE 7300 END, 10000, "
    "CASE WHEN p.product = 1 THEN 300 + g % 900 ELSE 50 + g % 200 END, "
    "CASE WHEN p.product = 1 THEN 'annual' ELSE 'monthly' END, 'in_force', p.start, false, 1, :old, :old "
    "FROM generate_series(1, 2 * :n) g, LATERAL (SELECT CASE WHEN g % 5 = 0 THEN 2 ELSE 1 END AS product, "
    "CAST(:day AS DATE) - 30 - ((g::bigint * 7919) % 700)::int AS start) p",
    # one installment a year (motor), one a month since the start (life); paid but for one in twenty
    "INSERT INTO installments (policy_id, sequence, due_date, amount, paid_amount, paid_date, status) "
    "SELECT p.id, s + 1, d.due, p.premium, CASE WHEN d.paid THEN p.premium ELSE 0 END, "
    "CASE WHEN d.paid THEN d.due END, CASE WHEN d.paid THEN 'paid' ELSE 'due' END FROM policies p, "
    "LATERAL generate_series(0, CASE WHEN p.product_id = 1 THEN 0 "
    "  ELSE (CAST(:day AS DATE) - p.effective_date) / 31 END) s, "
    "LATERAL (SELECT CAST(p.effective_date + make_interval(months => s::int) AS DATE) AS due, "
    "  (p.id + s) % 20 <> 0 AS paid) d",
    "INSERT INTO commissions (policy_id, payee, agent_id, kind, rate, base_amount, amount, earned_on) "
    "SELECT i.policy_id, 'agent', 1 + i.policy_id % 500, 'first_year', 0.1, i.paid_amount, "
    "round(i.paid_amount * 0.1, 2), i.due_date FROM installments i WHERE i.status = 'paid'",
    "INSERT INTO claims (number, policy_id, loss_date, report_date, kind, status, incurred_amount, paid_amount, "
    "created_at, updated_at) SELECT 'C' || p.id, p.id, p.effective_date + p.id % 300, p.effective_date + p.id % 300, "
    "'other', CASE WHEN p.id % 7 = 0 THEN 'rejected' ELSE 'approved' END, 200 + p.id % 3000, 100 + p.id % 1000, "
    ":old, :old FROM policies p WHERE p.id % 10 = 3",
    "INSERT INTO service_requests (policyholder_id, policy_id, kind, category, priority, status, subject, "
    "opened_at, due_at, cost, created_at, updated_at) "
    "SELECT h, CASE WHEN h % 3 = 0 THEN NULL ELSE 2 * h END, 'service', 'enquiry', 'normal', 'closed', 'Question', "
    "t.at, t.at + interval '3 days', h % 50, :old, :old FROM generate_series(10, :n, 10) h, "
    "LATERAL (SELECT CAST(:day AS TIMESTAMPTZ) - interval '1 hour' * (h % 9000) AS at) t",
    "INSERT INTO interactions (policyholder_id, channel, direction, occurred_at, summary, cost, created_at, "
    "updated_at) SELECT h, 'visit', 'outbound', CAST(:day AS TIMESTAMPTZ) - interval '1 hour' * (h % 8000), "
    "'Visit', 5, :old, :old FROM generate_series(20, :n, 20) h",
]
#: the day's changes, stamped :at (after the refresh of DAY - 1); the policyholders :n / 1000 * k apart
CHANGES_SQL = [
    "INSERT INTO payments (policy_id, paid_on, amount, method, created_at, updated_at) "
    "SELECT 2 * h - 1, CAST(:day AS DATE) - 1, 100, 'bank_transfer', :at, :at "
    "FROM generate_series(:step, 200 * :step, :step) h",
    "UPDATE installments SET paid_amount = amount, paid_date = CAST(:day AS DATE) - 1, status = 'paid' "
    "WHERE policy_id IN (SELECT 2 * h - 1 FROM generate_series(:step, 200 * :step, :step) h)",
    "INSERT INTO claims (number, policy_id, loss_date, report_date, kind, status, incurred_amount, paid_amount, "
    "created_at, updated_at) SELECT 'N' || h, 2 * h, CAST(:day AS DATE) - 40, CAST(:day AS DATE) - 2, 'other', "
    "'reported', 1000, 0, :at, :at FROM generate_series(:step + 1, 100 * :step + 1, :step) h",
    "UPDATE claims SET incurred_amount = incurred_amount + 100, updated_at = :at "
    "WHERE number IN (SELECT 'C' || (10 * (h * :step / 5) + 3) FROM generate_series(1, 100) h)",
    "INSERT INTO service_requests (policyholder_id, policy_id, kind, category, priority, status, subject, "
    "opened_at, due_at, cost, created_at, updated_at) SELECT h, 2 * h, 'complaint', 'enquiry', 'normal', 'open', "
    "'Complaint', CAST(:day AS TIMESTAMPTZ) - interval '40 days', CAST(:day AS TIMESTAMPTZ), 25, :at, :at "
    "FROM generate_series(:step + 2, 100 * :step + 2, :step) h",
    "INSERT INTO interactions (policyholder_id, channel, direction, occurred_at, summary, cost, created_at, "
    "updated_at) SELECT h, 'visit', 'outbound', CAST(:day AS TIMESTAMPTZ) - interval '35 days', 'Visit', 8, :at, :at "
    "FROM generate_series(:step + 3, 100 * :step + 3, :step) h",
    "UPDATE policies SET updated_at = :at, version = version + 1 "
    "WHERE id IN (SELECT 2 * h FROM generate_series(:step + 4, 50 * :step + 4, :step) h)",
]


def at_night(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(hour=1, tzinfo=clock.zone())


def build(holders: int) -> dict[str, int]:
    params = {"n": holders, "day": DAY, "old": OLD}
    for statement in BOOK_SQL:
        db.session.execute(sa.text(statement), params)
    for table in ("policyholders", "policies", "installments", "claims", "commissions", "service_requests",
                  "interactions", "payments"):
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"coalesce(max(id), 0) + 1, false) FROM {table}"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return {table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
            for table in ("policies", "installments", "commissions", "claims", "service_requests")}


def refresh(day: date) -> tuple[float, dict]:
    with clock.frozen(at_night(day)):
        started = time.perf_counter()
        run = jobs.run_job(jobs.registered([REFRESH_JOB])[0], day)
        return time.perf_counter() - started, dict(run.counts)


def timed(function, repeat: int) -> tuple[float, object]:
    """The median seconds of ``repeat`` calls, and the last answer."""
    seconds, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = function()
        seconds.append(time.perf_counter() - started)
        db.session.rollback()
    return statistics.median(seconds), answer


def page_work(admin: User, maintained: bool):
    """What the contribution page asks of the database: its tables' first pages (50 rows, with their counts) and
    counts by quadrant (contribution above or below zero, margin above or below 20%, no margin)."""
    with clock.frozen(at_night(DAY).replace(hour=9)):
        if not maintained:  # the same report, by the live SQL
            from reports import contribution as module
            kept, module.maintained_as_of = module.maintained_as_of, lambda *_args: None
        try:
            result = contribution(admin, ContributionArgs().load({}), DAY)
            pages = {table.key: table.page(1, 50) for table in result.tables}
            rows = holder_contribution(admin, Filters.from_args({}, DAY), maintained=maintained)
            margin = rows.c.contribution / sa.func.nullif(rows.c.earned, 0)
            quadrants = db.session.execute(
                sa.select(rows.c.contribution >= 0, sa.case((margin.is_(None), "none"), (margin >= 0.2, "high"),
                                                            else_="low"), sa.func.count())
                .group_by(sa.literal_column("1"), sa.literal_column("2"))).all()
        finally:
            if not maintained:
                module.maintained_as_of = kept
    return ([(key, [dict(row) for row in rows_], total) for key, (rows_, total) in pages.items()],
            sorted(quadrants, key=str), result.notes)


def export_work(admin: User, rounds: int = 3) -> dict:
    """The full CSV export of the policyholders table as users get it (written by COPY, reports.csv_copy) and a
    plain COPY of the table's statement, in turns (the median of ``rounds``), and once the same export formatted in
    Python (its text compared): seconds and bytes of each."""
    from reports import exports

    with clock.frozen(at_night(DAY).replace(hour=9)):
        table = contribution(admin, ContributionArgs().load({}), DAY).table("policyholders")
        sql = str(table.statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))

        def plain_copy() -> int:
            copied = 0
            connection = db.session.connection().connection.driver_connection
            with connection.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)") as copy:
                for data in copy:
                    copied += len(data)
            return copied

        def python_export() -> str:
            kept, exports.copy_lines = exports.copy_lines, lambda *_args, **_kwargs: None
            try:
                return b"".join(csv_chunks(table, pseudonymise=False)).decode()
            finally:
                exports.copy_lines = kept

        seconds: dict[str, list[float]] = {"export": [], "copy": []}
        for _ in range(rounds):
            for variant, work in (("export", lambda: b"".join(csv_chunks(table, pseudonymise=False))),
                                  ("copy", plain_copy)):
                started = time.perf_counter()
                answer = work()
                seconds[variant].append(time.perf_counter() - started)
                db.session.rollback()
                size = len(answer) if isinstance(answer, bytes) else answer
                if variant == "export":
                    exported = (answer.decode(), size)
                else:
                    copied = size
        started = time.perf_counter()
        formatted = python_export()
        python_seconds = time.perf_counter() - started
        db.session.rollback()
    return {"export": (statistics.median(seconds["export"]), exported[1]),
            "copy": (statistics.median(seconds["copy"]), copied),
            "python": (python_seconds, len(formatted.encode())), "identical": formatted == exported[0]}


def measure(holders: int, *, scans: int) -> dict:
    url = databases.create_pg_database("insurecrm_bench_figures")
    out: dict = {"holders": holders}
    try:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-report-figures-" + "x" * 32})
        with app.app_context():
            metadata.create_all(db.engine)
            started = time.perf_counter()
            out["rows"] = build(holders)
            out["build"] = time.perf_counter() - started
            print(f"{holders:,} policyholders: {out['rows']} built and analysed in {out['build']:.1f} s", flush=True)
            out["full"] = refresh(DAY - timedelta(days=1))
            print(f"  full refresh (the month's first): {out['full'][0]:.2f} s {out['full'][1]}", flush=True)
            step = holders // 1000
            with clock.frozen(at_night(DAY - timedelta(days=1)).replace(hour=12)):
                for statement in CHANGES_SQL:
                    db.session.execute(sa.text(statement), {"day": DAY, "at": clock.now(), "step": step})
                db.session.commit()
            out["daily"] = refresh(DAY)
            print(f"  (c) daily refresh after the day's changes: {out['daily'][0]:.3f} s {out['daily'][1]}",
                  flush=True)
            admin = User(username="bench", role=Role.ADMIN)
            out["page_maintained"], kept = timed(lambda: page_work(admin, True), 3)
            print(f"  (a) page from the maintained rows: {out['page_maintained']:.3f} s", flush=True)
            out["page_live"], live = timed(lambda: page_work(admin, False), scans)
            print(f"  (a) page by the live SQL (full scan): {out['page_live']:.3f} s", flush=True)
            out["identical"] = kept[:2] == live[:2]
            assert any("Figures as of" in str(note) for note in kept[2]), "the maintained rows were not read"
            print(f"  (a) the same answers: {out['identical']}", flush=True)
            out["export"] = export = export_work(admin)
            print(f"  (b) CSV export {export['export'][0]:.2f} s ({export['export'][1]:,} bytes; formatted in "
                  f"Python: {export['python'][0]:.2f} s, the same text: {export['identical']}) vs a plain COPY "
                  f"{export['copy'][0]:.2f} s ({export['copy'][1]:,} bytes): "
                  f"{export['export'][0] / export['copy'][0]:.2f}×", flush=True)
            db.session.remove()
        return out
    finally:
        db.engine.dispose()
        databases.drop_pg_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policyholders", type=int, nargs="+", default=[50_000, 500_000])
    parser.add_argument("--scans", type=int, default=2, help="runs of the live full scan (median)")
    args = parser.parse_args()
    results = [measure(size, scans=args.scans) for size in args.policyholders]
    print(f"\n{'policyholders':>13} {'full refresh s':>14} {'daily refresh s':>15} {'page maintained s':>17} "
          f"{'page live s':>11} {'ratio':>6} {'CSV s':>6} {'(Python) s':>10} {'COPY s':>7} {'ratio':>6}")
    for r in results:
        export = r["export"]
        ratio = export["export"][0] / export["copy"][0]
        print(f"{r['holders']:>13,} {r['full'][0]:>14.2f} {r['daily'][0]:>15.3f} {r['page_maintained']:>17.3f} "
              f"{r['page_live']:>11.3f} {r['page_maintained'] / r['page_live']:>6.3f} {export['export'][0]:>6.2f} "
              f"{export['python'][0]:>10.2f} {export['copy'][0]:>7.2f} {ratio:>5.2f}×")
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(f"daily refresh, largest vs smallest book: {large['daily'][0] / small['daily'][0]:.2f}× "
              f"(the same changes: {small['daily'][1]} / {large['daily'][1]})")
    print("targets: (a) page ≤ 0.1 of the scan; (b) CSV within 1.5× of COPY; (c) the daily refresh follows the "
          "day's changes")


if __name__ == "__main__":
    main()
