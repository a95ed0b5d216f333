"""The simulation (``insurecrm simulate``): the daily jobs run day after day on a simulated clock while the
outside world keeps paying premiums, to see what the renewal engine does to a book over months.

Each simulated day, in order:

1. the clock is frozen at 02:00 of that day in the insurer's time zone (when the scheduler would run);
2. premiums arrive (:class:`PremiumPayers`): every installment falling due that day on a running policy is
   paid on the day with the on-time probability; of the others, two thirds are paid late, 1 to 45 days
   after the due date (some beyond the product's grace period: the policy has lapsed by then and the money
   is turned away), and the rest never. Payments go through :func:`policies.payments.apply_payment`, the
   real service, so grace is left as it would be in production. The day's payments are committed;
3. every registered daily job runs for the day through :func:`insurecrm.jobs.run_job`, in order, each
   committing its own work under its claim.

Agents do nothing in the simulation: no contact is logged, no renewal written, so renewable policies
expire and their cases close as lapsed. The simulation writes to the database it runs on: use it on a demo
book or a copy, never on a production book.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, time, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from tqdm import tqdm

from agents.models import Activity
from insurecrm import clock, jobs
from insurecrm.actor import acting_as
from insurecrm.db import db
from insurecrm.models import JobRun, Outbox
from policies.models import IN_FORCE_STATUSES, Installment, InstallmentStatus, Policy, RenewalCase
from policies.payments import apply_payment
from policyholders.tasks import local_instant

#: the local time of day at which the simulated scheduler runs the jobs
JOB_HOUR = time(2)
#: of the installments not paid on time, the share paid late (the others are never paid)
LATE_SHARE = 2 / 3
#: a late payment arrives this many days after the due date (at random, inclusive)
LATE_DAYS = (1, 45)
OPEN_INSTALLMENT = (InstallmentStatus.DUE, InstallmentStatus.PARTIALLY_PAID)


class PremiumPayers:
    """The policyholders' side: who pays which installment, when. Seeded, so a simulation can be replayed."""

    def __init__(self, rng: random.Random, on_time_probability: float) -> None:
        self.rng, self.on_time_probability = rng, on_time_probability
        #: the late payments arriving on a date: installment id → the amount its payer sends
        self.late: defaultdict[date, dict[int, Decimal]] = defaultdict(dict)
        self.counts: Counter[str] = Counter(on_time=0, late=0, never=0, turned_away=0)

    @property
    def still_late(self) -> int:
        """Late payments planned for a day not simulated yet."""
        return sum(len(arrivals) for arrivals in self.late.values())

    def pay(self, day: date, *, first_day: bool = False) -> None:
        """Pay what arrives on ``day``: installments due that day (on the first day, also those overdue from
        before the simulation, which their payer settles now or later like any other), and the late payments
        planned for the day. One query loads them all with their policies; each payment is then applied."""
        late = self.late.pop(day, {})
        due_today = Installment.due_date <= day if first_day else Installment.due_date == day
        falling_due = due_today & Installment.status.in_(OPEN_INSTALLMENT) & Policy.status.in_(IN_FORCE_STATUSES)
        rows = db.session.execute(
            select(Installment, Policy).join(Policy, Policy.id == Installment.policy_id)
            .where(or_(falling_due, Installment.id.in_(late)) if late else falling_due)
            .order_by(Installment.policy_id, Installment.due_date, Installment.sequence)
        ).all()
        for installment, policy in rows:
            if installment.id in late:
                self._arrive_late(late[installment.id], policy, day)
            else:
                self._fall_due(installment, policy, day)

    def _fall_due(self, installment: Installment, policy: Policy, day: date) -> None:
        owed = installment.amount - installment.paid_amount
        if owed <= 0:  # settled today already, by a late payment that the service put on it
            self.counts["on_time"] += 1
            return
        draw = self.rng.random()
        if draw < self.on_time_probability:
            apply_payment(policy, owed, day)
            self.counts["on_time"] += 1
        elif draw < self.on_time_probability + (1 - self.on_time_probability) * LATE_SHARE:
            arrival = max(installment.due_date + timedelta(days=self.rng.randint(*LATE_DAYS)), day + timedelta(days=1))
            self.late[arrival][installment.id] = owed
        else:
            self.counts["never"] += 1

    def _arrive_late(self, amount: Decimal, policy: Policy, day: date) -> None:
        # the payer sends what the installment owed when it fell due; the service puts it on the oldest open
        # installment, which may be another one if a later payment went to this one first
        if policy.status not in IN_FORCE_STATUSES:
            self.counts["turned_away"] += 1
            return
        apply_payment(policy, amount, day)
        self.counts["late"] += 1


def simulate(start: date, days: int, *, on_time_probability: float = 0.9, seed: int = 1,
             progress: bool = False) -> dict:
    """Simulate ``days`` days from ``start``: each day premiums arrive (see :class:`PremiumPayers`), are
    committed, then every daily job (but those that only report to staff) runs for the day under the simulated
    clock. Returns the book's state at the end (see :func:`summary`) with ``start``, ``end``, ``days``, ``jobs``
    (per job, the totals of its counts) and ``payments``: installments paid on time, paid late, never to be paid,
    whose late payment was turned away (the policy had lapsed or ended) and whose late payment falls after the last
    day (``still_late``).

    Refuses (``ValueError``) fewer than one day, a probability outside 0..1, and a database where a job has
    already run for ``start`` or a later date (its claims would make the simulation skip those days). A day
    that fails is rolled back and the error raised; the days before it stay committed.
    """
    if days < 1:
        raise ValueError("Simulate at least one day.")
    if not 0 <= on_time_probability <= 1:
        raise ValueError("The on-time probability lies between 0 and 1.")
    if db.session.scalar(select(func.count(JobRun.id)).where(JobRun.logical_date >= start, JobRun.attempt_key == "")):
        raise ValueError(f"Daily jobs have already run for {start.isoformat()} or later: simulate from a later "
                         "date, or on a fresh book.")
    payers = PremiumPayers(random.Random(seed), on_time_probability)
    totals: dict[str, Counter[str]] = {job.id: Counter() for job in _simulated_jobs()}
    dates = [start + timedelta(days=n) for n in range(days)]
    with acting_as("cli:simulate"), tqdm(dates, unit="day", desc="Simulating", disable=not progress) as bar:
        for day in bar:
            _simulate_day(day, payers, totals, first_day=day == start)
    result = summary()
    payments = {**payers.counts, "still_late": payers.still_late}
    return {"start": start, "end": dates[-1], "days": days, "payments": payments,
            "jobs": {job_id: dict(counts) for job_id, counts in totals.items()}, **result}


def _simulate_day(day: date, payers: PremiumPayers, totals: dict[str, Counter[str]], *, first_day: bool) -> None:
    # the jobs change policies with bulk statements the session does not see: start each day from the database
    db.session.expire_all()
    with clock.frozen(local_instant(day, JOB_HOUR)):
        try:
            payers.pay(day, first_day=first_day)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        for job in _simulated_jobs():
            run = jobs.run_job(job, day)
            if run is not None:
                totals[job.id].update(run.counts)


def summary() -> dict:
    """The state of the whole book: policies by status, renewal cases by status, outbox rows by kind and
    channel (``{kind: {channel: count}}``) and the tasks the jobs gave people, by reason and status."""
    policies = db.session.execute(select(Policy.status, func.count()).group_by(Policy.status)).all()
    cases = db.session.execute(select(RenewalCase.status, func.count()).group_by(RenewalCase.status)).all()
    outbox: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, channel, count in db.session.execute(
            select(Outbox.kind, Outbox.channel, func.count()).group_by(Outbox.kind, Outbox.channel)):
        outbox[kind][str(channel)] = count
    tasks = db.session.execute(
        select(Activity.reason, Activity.status, func.count()).where(Activity.reason.is_not(None))
        .group_by(Activity.reason, Activity.status)).all()
    return {"policies": {str(status): count for status, count in sorted(policies)},
            "renewal_cases": {str(status): count for status, count in sorted(cases)},
            "outbox": {kind: dict(sorted(channels.items())) for kind, channels in sorted(outbox.items())},
            "tasks": {f"{reason}  {status}": count for reason, status, count in sorted(tasks)}}


def _simulated_jobs() -> list[jobs.Job]:
    """Every daily job but those that only report on the day to staff (``reports_only``): over hundreds of days they
    would write a report a day per manager and change nothing the simulation follows."""
    return [job for job in jobs.registered() if not job.reports_only]
