"""The simulation (issue 4, point 7): 400 days of daily jobs over a small demo book keep the engine's promises."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import current_app
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from insurecrm import jobs
from insurecrm.demo import build_demo_book
from insurecrm.models import JobRun, Outbox, OutboxChannel
from insurecrm.simulate_cli import simulate as simulate_command
from insurecrm.simulation import simulate
from policies.models import (
    IN_FORCE_STATUSES,
    Installment,
    InstallmentStatus,
    Payment,
    Policy,
    PolicyStatus,
    PolicyStatusChange,
    Product,
    RenewalCase,
)
from policies.tasks import STATUS_JOB
from policyholders.models import Policyholder
from policyholders.tasks import days_between

START = date(2026, 3, 2)
DAYS = 400
END = START + timedelta(days=DAYS - 1)
UNPAID = (InstallmentStatus.DUE, InstallmentStatus.PARTIALLY_PAID)


def demo_book(policyholders: int = 40) -> None:
    build_demo_book(policyholders=policyholders, seed=5, password="x", today=START, progress=False)


@pytest.mark.slow
def test_four_hundred_days_keep_the_renewal_engines_promises(session):
    demo_book()
    result = simulate(START, DAYS, on_time_probability=0.85, seed=3)

    assert (result["start"], result["end"], result["days"]) == (START, END, DAYS)
    assert result["payments"]["on_time"] > 0 and result["payments"]["late"] > 0
    # every job ran each day, but those that only report to staff (the sales reports emailed to managers)
    simulated = [job for job in jobs.registered() if not job.reports_only]
    assert "agents.sales_reports" not in {job.id for job in simulated} and len(simulated) >= 10
    assert session.scalar(select(func.count(JobRun.id)).where(JobRun.logical_date.between(START, END))) \
        == DAYS * len(simulated)
    assert_no_renewal_missed_its_window(session)
    assert_every_reminder_went_by_a_consented_channel(session)
    assert_no_outbox_key_twice(session)
    lapses = assert_every_lapse_had_an_installment_unpaid_beyond_grace(session)
    assert lapses == result["jobs"][STATUS_JOB]["lapses"] > 0
    assert sum(result["policies"].values()) == session.scalar(select(func.count(Policy.id)))


def assert_no_renewal_missed_its_window(session) -> None:
    """Every renewable policy expiring in the period that was running (in force, grace, reinstated) when its
    renewal window opened got its case that day at the latest: ``window`` days before expiry, or on the first
    simulated day for a policy already inside its window then."""
    window = current_app.config["RENEWAL_WINDOW_DAYS"]
    already_inside = Policy.expiry_date <= START + timedelta(days=window)

    def by_window_opening(day_column):
        return or_(and_(already_inside, day_column <= START),
                   and_(~already_inside, days_between(Policy.expiry_date, day_column) >= window))

    change = aliased(PolicyStatusChange)
    status_at_opening = (select(change.to_status).where(change.policy_id == Policy.id,
                                                        by_window_opening(change.effective_date))
                         .order_by(change.effective_date.desc(), change.id.desc()).limit(1).scalar_subquery())
    due = (select(Policy.id).join(Product, Product.id == Policy.product_id)
           .where(Product.renewable.is_(True), Policy.expiry_date.between(START, END),
                  status_at_opening.in_(IN_FORCE_STATUSES)))
    opened_in_time = exists().where(RenewalCase.policy_id == Policy.id, by_window_opening(RenewalCase.opened_on))

    assert len(session.scalars(due).all()) >= 20
    assert session.scalars(due.where(~opened_in_time)).all() == []


def assert_every_reminder_went_by_a_consented_channel(session) -> None:
    """A renewal reminder by email went to a policyholder with email consent, at their address; by SMS, with
    SMS consent, to their phone."""
    consented = or_(
        and_(Outbox.channel == OutboxChannel.EMAIL, Policyholder.consent_email.is_(True),
             Outbox.recipient == Policyholder.email),
        and_(Outbox.channel == OutboxChannel.SMS, Policyholder.consent_sms.is_(True),
             Outbox.recipient == Policyholder.phone),
    )
    reminders = (select(Outbox.channel, func.count(Outbox.id))
                 .outerjoin(Policyholder, Policyholder.id == Outbox.policyholder_id)
                 .where(Outbox.kind == "renewal_reminder",
                        Outbox.channel.in_((OutboxChannel.EMAIL, OutboxChannel.SMS)))
                 .group_by(Outbox.channel))
    sent = dict(session.execute(reminders).all())
    assert sent.get(OutboxChannel.EMAIL, 0) > 0 and sent.get(OutboxChannel.SMS, 0) > 0
    assert dict(session.execute(reminders.where(consented)).all()) == sent


def assert_no_outbox_key_twice(session) -> None:
    rows, keys = session.execute(select(func.count(Outbox.id), func.count(Outbox.idempotency_key.distinct()))).one()
    assert rows == keys > 0


def assert_every_lapse_had_an_installment_unpaid_beyond_grace(session) -> int:
    """Each lapse in the period had, on its effective date, an installment of the policy due more than the
    product's grace period before and not paid by then (still open, or paid only later). The number of lapses."""
    lapse = PolicyStatusChange
    unpaid_beyond_grace = exists().where(
        Installment.policy_id == lapse.policy_id,
        days_between(lapse.effective_date, Installment.due_date) > Product.grace_period_days,
        or_(Installment.status.in_(UNPAID), Installment.paid_date > lapse.effective_date),
    )
    lapses = (select(lapse.id).join(Policy, Policy.id == lapse.policy_id).join(Product, Product.id == Policy.product_id)
              .where(lapse.to_status == PolicyStatus.LAPSED, lapse.effective_date.between(START, END)))
    assert session.scalars(lapses.where(~unpaid_beyond_grace)).all() == []
    return len(session.scalars(lapses).all())


# -- the command ---------------------------------------------------------------------------------------------

def test_the_command_prints_the_summary_of_the_simulated_days(app, session):
    demo_book(policyholders=15)
    result = app.test_cli_runner().invoke(simulate_command, ["--start", START.isoformat(), "--days", "40",
                                                             "--on-time", "0.5", "--seed", "7"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert f"Simulated 40 days: {START.isoformat()} to {(START + timedelta(days=39)).isoformat()}" in output
    for heading in ("Premium payments", "Daily jobs (totals)", "Policies by status", "Renewal cases by status",
                    "Outbox by kind and channel"):
        assert heading in output
    assert "policies.open_renewal_cases  cases_opened" in output and "renewal_reminder  " in output
    assert session.scalar(select(func.count(JobRun.id)).where(JobRun.logical_date >= START)) \
        == 40 * len([job for job in jobs.registered() if not job.reports_only])
    # the payments are real ones, made through the payment service as of their simulated day
    assert session.scalar(select(func.count(Payment.id)).where(Payment.paid_on >= START)) > 0
    assert session.scalar(select(func.max(Payment.paid_on))) <= START + timedelta(days=39)


def test_the_command_refuses_days_the_jobs_have_already_run_and_writes_nothing(app, session):
    demo_book(policyholders=5)
    jobs.run_job(jobs.registered()[0], START + timedelta(days=3))
    payments = session.scalar(select(func.count(Payment.id)))
    runs = session.scalar(select(func.count(JobRun.id)))  # the demo's task jobs of the days before START, and that
    result = app.test_cli_runner().invoke(simulate_command, ["--start", START.isoformat(), "--days", "10"])
    assert result.exit_code == 1
    assert "already run" in result.output and "Traceback" not in result.output
    assert session.scalar(select(func.count(Payment.id))) == payments
    assert session.scalar(select(func.count(JobRun.id))) == runs


@pytest.mark.parametrize("arguments", [["--days", "0"], ["--days", "5", "--on-time", "1.5"], ["--days", "x"]])
def test_the_command_refuses_bad_options(app, arguments):
    result = app.test_cli_runner().invoke(simulate_command, ["--start", START.isoformat(), *arguments])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
