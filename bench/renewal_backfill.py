"""Benchmark of the renewal engine's first run on a PostgreSQL book of 1,000,000 policies.

    .venv/bin/python bench/renewal_backfill.py --policies 1000000

The first run of the renewal engine opens the whole 60-day window at once (the backfill) and queues the
reminders owed at once (offsets 30 and 7: the nearest one per case). It is timed three ways on the same book,
each starting from no cases and an empty outbox:

- the jobs as the scheduler runs them (``run_job`` of ``policies.open_renewal_cases`` then
  ``policies.remind_renewals``: claim + set-based INSERT … SELECT);
- the same inserts written by hand in SQL (the floor);
- a per-policy ORM loop (what the jobs must not be): load each renewable policy, check it, add a case and its
  reminder.

Targets (issue 4): the job within 3× of the SQL, and at least 20× faster than the loop. The book is synthetic
(``generate_series``), not the demo book: building 1M policies that way takes seconds, not a quarter of an hour.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import select  # noqa: E402

from insurecrm import create_app, jobs  # noqa: E402
from insurecrm.db import db, utcnow  # noqa: E402
from insurecrm.models import Outbox  # noqa: E402
from insurecrm.registry import metadata  # noqa: E402
from policies.models import IN_FORCE_STATUSES, Policy, Product, RenewalCase, RenewalReminder  # noqa: E402
from tests import databases  # noqa: E402

DAY = date(2026, 11, 22)
SEED_SQL = [
    "INSERT INTO org_units (id, code, name, kind, path, created_at, updated_at) "
    "VALUES (1, 'HQ', 'Head office', 'company', '/1/', now(), now())",
    "INSERT INTO agents (id, code, name, org_unit_id, channel, status, hire_date, created_at, updated_at) "
    "SELECT g, 'A' || g, 'Agent ' || g, 1, 'agency', CASE WHEN g % 20 = 0 THEN 'inactive' ELSE 'active' END, "
    "DATE '2020-01-01', now(), now() FROM generate_series(1, 500) g",
    "INSERT INTO products (id, code, name, line, term_months, renewable, frequencies, first_year_commission_rate, "
    "renewal_commission_rate, bank_share_rate, grace_period_days, cooling_off_days, callback_required, "
    "max_renewal_discount, active, created_at, updated_at) VALUES "
    "(1, 'MOTOR', 'Motor', 'motor', 12, true, '[\"annual\"]', 0.1, 0.05, 0, 60, 15, false, 0.1, true, now(), now()), "
    "(2, 'LIFE', 'Life', 'life', 240, false, '[\"annual\"]', 0.3, 0.05, 0, 60, 15, true, 0.1, true, now(), now())",
    "INSERT INTO policyholders (id, kind, name, org_unit_id, owner_agent_id, preferred_language, consent_marketing, "
    "consent_sms, consent_email, phone, email, acquisition_channel, status, version, created_at, updated_at) "
    "SELECT g, 'person', 'Holder ' || g, 1, 1 + g % 500, CASE WHEN g % 5 = 0 THEN 'en' ELSE 'zh' END, g % 2 = 0, "
    "g % 3 = 0, g % 4 = 0, '+86138' || lpad(g::text, 8, '0'), CASE WHEN g % 2 = 0 THEN 'h' || g || '@example.com' END, "
    "'agency', 'active', 1, now(), now() FROM generate_series(1, :holders) g",
    # expiry spread over a year from DAY - 30: about a sixth of the book falls in the 60-day window
    "INSERT INTO policies (id, number, policyholder_id, product_id, servicing_agent_id, org_unit_id, channel, "
    "business_type, issue_date, effective_date, expiry_date, sum_insured, premium, frequency, status, status_date, "
    "cooling_off_cancellation, version, created_at, updated_at) "
    "SELECT g, 'B' || lpad(g::text, 13, '0'), 1 + g % :holders, CASE WHEN g % 5 = 0 THEN 2 ELSE 1 END, 1 + g % 500, 1, "
    "'agency', 'new', DATE :day - 395 + g % 365, DATE :day - 395 + g % 365, DATE :day - 30 + g % 365, "
    "10000, 100 + g % 900, 'annual', CASE WHEN g % 10 = 0 THEN 'lapsed' ELSE 'in_force' END, "
    "DATE :day - 395 + g % 365, false, 1, now(), now() FROM generate_series(1, :policies) g",
]
HAND_REMINDERS_SQL = """
INSERT INTO outbox (idempotency_key, kind, channel, recipient, language, policyholder_id, policy_id, agent_id, body,
                    payload, status, attempts, created_at)
SELECT 'renewal_reminder:policy=' || p.id || '\\:offset=' || o.days, 'renewal_reminder',
       CASE WHEN ph.consent_email AND ph.email IS NOT NULL THEN 'email'
            WHEN ph.consent_sms AND ph.phone IS NOT NULL THEN 'sms' ELSE 'task' END,
       CASE WHEN ph.consent_email AND ph.email IS NOT NULL THEN ph.email
            WHEN ph.consent_sms AND ph.phone IS NOT NULL THEN ph.phone END,
       ph.preferred_language, ph.id, p.id, rc.assigned_agent_id, '',
       json_build_object('renewal_case_id', rc.id, 'policy_number', p.number, 'product_name', pr.name,
                         'expiry_date', p.expiry_date, 'days_left', p.expiry_date - :day, 'premium', p.premium::text,
                         'policyholder_name', ph.name, 'agent_name', a.name, 'agent_phone', a.phone,
                         'offset_days', o.days),
       'pending', 0, now()
FROM renewal_cases rc
JOIN policies p ON p.id = rc.policy_id
JOIN products pr ON pr.id = p.product_id
JOIN policyholders ph ON ph.id = p.policyholder_id
LEFT JOIN agents a ON a.id = rc.assigned_agent_id
JOIN (VALUES (30, 7), (7, NULL)) AS o(days, nearer)
  ON p.expiry_date <= CAST(:day AS DATE) + o.days
 AND (o.nearer IS NULL OR p.expiry_date > CAST(:day AS DATE) + o.nearer)
WHERE rc.status IN ('open', 'contacted', 'quoted') AND p.expiry_date > :day;
INSERT INTO renewal_reminders (renewal_case_id, offset_days, channel, outbox_id, created_at)
SELECT rc.id, split_part(ob.idempotency_key, '=', 3)::int, ob.channel, ob.id, now()
FROM outbox ob JOIN renewal_cases rc ON rc.policy_id = ob.policy_id
WHERE ob.kind = 'renewal_reminder'
"""
HAND_SQL = """
INSERT INTO renewal_cases (policy_id, due_date, opened_on, assigned_agent_id, org_unit_id, status, version,
                           created_at, updated_at)
SELECT p.id, p.expiry_date, :day, CASE WHEN a.status = 'active' THEN a.id END, p.org_unit_id, 'open', 1, now(), now()
FROM policies p
JOIN products pr ON pr.id = p.product_id AND pr.renewable
LEFT JOIN agents a ON a.id = p.servicing_agent_id
WHERE p.status IN ('in_force', 'grace', 'reinstated') AND p.expiry_date > :day AND p.expiry_date <= :window_end
  AND NOT EXISTS (SELECT 1 FROM renewal_cases rc WHERE rc.policy_id = p.id)
  AND NOT EXISTS (SELECT 1 FROM policies r WHERE r.renews_policy_id = p.id)
"""


def seed(policies: int) -> None:
    params = {"policies": policies, "holders": max(policies // 2, 1), "day": DAY}
    for statement in SEED_SQL:
        db.session.execute(sa.text(statement.replace("DATE :day", "CAST(:day AS DATE)")), params)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def reset() -> None:
    db.session.execute(sa.text("TRUNCATE renewal_cases, renewal_reminders, outbox, job_runs RESTART IDENTITY CASCADE"))
    db.session.commit()


def timed(label: str, work) -> tuple[str, float, int]:
    reset()
    started = time.perf_counter()
    count = work()
    db.session.commit()
    return label, time.perf_counter() - started, count


def run_the_job() -> int:
    """The two jobs of the backfill: open the cases, then queue their reminders (rows = cases + reminders)."""
    opened = jobs.run_job(jobs.registered(["policies.open_renewal_cases"])[0], DAY).counts
    reminded = jobs.run_job(jobs.registered(["policies.remind_renewals"])[0], DAY).counts
    return opened["cases_opened"] + reminded["reminders_queued"] + reminded["reminder_tasks"]


def run_hand_sql() -> int:
    cases = db.session.execute(sa.text(HAND_SQL), {"day": DAY, "window_end": DAY + timedelta(days=60)}).rowcount
    statement, links = HAND_REMINDERS_SQL.strip().rstrip(";").split(";\n")
    reminders = db.session.execute(sa.text(statement), {"day": DAY}).rowcount
    db.session.execute(sa.text(links))
    return cases + reminders


def run_orm_loop() -> int:
    opened = 0
    window_end = DAY + timedelta(days=60)
    renewable = select(Policy).join(Product).where(Product.renewable.is_(True))
    for policy in db.session.scalars(renewable.execution_options(yield_per=2000)):
        if policy.status not in IN_FORCE_STATUSES or not DAY < policy.expiry_date <= window_end:
            continue
        if db.session.scalar(select(RenewalCase.id).where(RenewalCase.policy_id == policy.id)) is not None:
            continue
        if db.session.scalar(select(Policy.id).where(Policy.renews_policy_id == policy.id)) is not None:
            continue
        agent = policy.servicing_agent
        case = RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=DAY,
                           assigned_agent_id=agent.id if agent and agent.status == "active" else None,
                           org_unit_id=policy.org_unit_id, created_at=utcnow(), updated_at=utcnow())
        db.session.add(case)
        opened += 1 + _remind_one(policy, case)
        if opened % 2000 == 0:
            db.session.flush()
    return opened


def _remind_one(policy: Policy, case: RenewalCase) -> int:
    """The loop's reminder: the nearest offset owed, by the first consented channel with a contact."""
    days_left = (policy.expiry_date - DAY).days
    offset = 7 if days_left <= 7 else 30 if days_left <= 30 else None
    if offset is None:
        return 0
    holder = policy.policyholder
    channel, recipient = (("email", holder.email) if holder.consent_email and holder.email else
                          ("sms", holder.phone) if holder.consent_sms and holder.phone else ("task", None))
    key = f"renewal_reminder:policy={policy.id}:offset={offset}"
    if db.session.scalar(select(Outbox.id).where(Outbox.idempotency_key == key)) is not None:
        return 0
    outbox = Outbox(idempotency_key=key, kind="renewal_reminder", channel=channel, recipient=recipient,
                    language=holder.preferred_language, policyholder_id=holder.id, policy_id=policy.id,
                    agent_id=case.assigned_agent_id, payload={"policy_number": policy.number,
                                                              "expiry_date": policy.expiry_date.isoformat()})
    db.session.add(outbox)
    db.session.flush()  # ids for the case and the outbox row
    db.session.add(RenewalReminder(renewal_case_id=case.id, offset_days=offset, channel=channel, outbox_id=outbox.id))
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=1_000_000)
    parser.add_argument("--skip-loop", action="store_true", help="leave out the (slow) ORM loop")
    args = parser.parse_args()
    url = databases.create_pg_database("insurecrm_bench_renewals")
    try:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        with app.app_context():
            metadata.create_all(db.engine)
            started = time.perf_counter()
            seed(args.policies)
            print(f"book of {args.policies:,} policies seeded in {time.perf_counter() - started:.1f} s")
            results = [timed("jobs (run_job)", run_the_job), timed("hand-written SQL", run_hand_sql)]
            if not args.skip_loop:
                results.append(timed("per-policy ORM loop", run_orm_loop))
            db.session.remove()
        job_seconds = results[0][1]
        print(f"{'variant':<22} {'seconds':>9} {'rows':>9} {'vs jobs':>8}")
        for label, seconds, count in results:
            print(f"{label:<22} {seconds:>9.2f} {count:>9,} {seconds / job_seconds:>7.1f}×")
    finally:
        db.engine.dispose()
        databases.drop_pg_database(url)


if __name__ == "__main__":
    main()
