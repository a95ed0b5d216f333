"""policies.grace_and_lapse: grace, lapse, expiry and renewal in bulk, each with its status history row."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from insurecrm import jobs
from policies.models import (
    Installment,
    InstallmentStatus,
    Policy,
    PolicyStatus,
    PolicyStatusChange,
    RenewalCase,
    RenewalStatus,
)
from policies.tasks import grace_and_lapse
from tests.helpers import saved

DAY = date(2026, 11, 22)
S = PolicyStatus
LABEL = "job:policies.grace_and_lapse"


def installment(make, policy, due: date, status=InstallmentStatus.DUE, sequence=1) -> Installment:
    paid = policy.premium if status == InstallmentStatus.PAID else Decimal("0")
    return saved(make, Installment(policy_id=policy.id, sequence=sequence, due_date=due, amount=policy.premium,
                                   paid_amount=paid, status=status))


def open_case(make, policy, status=RenewalStatus.OPEN) -> RenewalCase:
    return saved(make, RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=DAY - timedelta(60),
                                   assigned_agent_id=policy.servicing_agent_id, org_unit_id=policy.org_unit_id,
                                   status=status))


def history(session, policy) -> list[tuple]:
    return [tuple(row) for row in session.execute(
        select(PolicyStatusChange.from_status, PolicyStatusChange.to_status, PolicyStatusChange.effective_date,
               PolicyStatusChange.actor_label)
        .where(PolicyStatusChange.policy_id == policy.id).order_by(PolicyStatusChange.id))]


def assert_history_matches_statuses(session):
    """Every policy the job moved ends in the status its last history row says."""
    last = (select(PolicyStatusChange.policy_id, func.max(PolicyStatusChange.id).label("id"))
            .group_by(PolicyStatusChange.policy_id).subquery())
    pairs = session.execute(select(Policy.status, PolicyStatusChange.to_status)
                            .join(last, last.c.policy_id == Policy.id)
                            .join(PolicyStatusChange, PolicyStatusChange.id == last.c.id)).all()
    assert pairs and all(status == to_status for status, to_status in pairs)


def test_an_installment_unpaid_after_its_due_date_puts_the_policy_in_grace(make, session):
    late = make.policy()
    installment(make, late, DAY - timedelta(days=1))
    due_today = make.policy()
    installment(make, due_today, DAY)
    paid = make.policy()
    installment(make, paid, DAY - timedelta(days=20), InstallmentStatus.PAID)
    reinstated = make.policy(status=S.REINSTATED)
    installment(make, reinstated, DAY - timedelta(days=3), InstallmentStatus.PARTIALLY_PAID)

    run = jobs.run_job(jobs.registered(["policies.grace_and_lapse"])[0], DAY)
    assert run.counts == {"renewed": 0, "expired": 0, "matured": 0, "lapses": 0, "to_grace": 2, "cases_closed": 0}
    session.expire_all()
    assert (late.status, late.status_date, late.version) == (S.GRACE, DAY, 2)
    assert reinstated.status == S.GRACE and due_today.status == S.IN_FORCE and paid.status == S.IN_FORCE
    assert history(session, late) == [(S.IN_FORCE, S.GRACE, DAY, LABEL)]
    assert history(session, reinstated) == [(S.REINSTATED, S.GRACE, DAY, LABEL)]
    assert history(session, due_today) == []
    assert_history_matches_statuses(session)


def test_grace_ends_in_a_lapse_after_the_products_grace_period(make, session):
    product = make.product(grace_period_days=30)
    over = make.policy(product=product, status=S.GRACE)
    installment(make, over, DAY - timedelta(days=31))
    last_day = make.policy(product=product, status=S.GRACE)
    installment(make, last_day, DAY - timedelta(days=30))
    longer_grace = make.policy(product=make.product(grace_period_days=60), status=S.GRACE)
    installment(make, longer_grace, DAY - timedelta(days=31))
    case = open_case(make, over, RenewalStatus.CONTACTED)
    grace_case = open_case(make, last_day)

    counts = grace_and_lapse(DAY)
    assert (counts["lapses"], counts["to_grace"], counts["cases_closed"]) == (1, 0, 1)
    session.expire_all()
    assert over.status == S.LAPSED and last_day.status == S.GRACE and longer_grace.status == S.GRACE
    assert history(session, over) == [(S.GRACE, S.LAPSED, DAY, LABEL)]
    change = session.scalar(select(PolicyStatusChange).where(PolicyStatusChange.policy_id == over.id))
    assert change.reason == "Premium unpaid beyond the grace period."
    assert (case.status, case.closed_at is not None, case.version) == (RenewalStatus.LAPSED, True, 2)
    assert grace_case.status == RenewalStatus.OPEN and grace_case.closed_at is None

    assert grace_and_lapse(DAY + timedelta(days=1))["lapses"] == 1  # the next day, the other one
    session.expire_all()
    assert last_day.status == S.LAPSED


def test_a_policy_in_force_long_unpaid_spends_a_day_in_grace_before_it_lapses(make, session):
    policy = make.policy()
    installment(make, policy, DAY - timedelta(days=200))
    assert grace_and_lapse(DAY)["to_grace"] == 1
    assert grace_and_lapse(DAY + timedelta(days=1))["lapses"] == 1
    session.expire_all()
    assert [row[:2] for row in history(session, policy)] == [(S.IN_FORCE, S.GRACE), (S.GRACE, S.LAPSED)]


def test_policies_at_expiry_expire_mature_or_are_renewed_and_their_cases_close(make, session):
    renewable, one_off = make.product(renewable=True), make.product(renewable=False)
    unrenewed = make.policy(product=renewable, expiry_date=DAY)
    unrenewed_case = open_case(make, unrenewed, RenewalStatus.QUOTED)
    renewed = make.policy(product=renewable, expiry_date=DAY - timedelta(days=1))  # missed yesterday: caught up
    renewed_case = open_case(make, renewed)
    renewal = make.policy(product=renewable, renews_policy_id=renewed.id, effective_date=renewed.expiry_date)
    lost_case_policy = make.policy(product=renewable, expiry_date=DAY)
    lost_case = open_case(make, lost_case_policy, RenewalStatus.LOST)
    matured = make.policy(product=one_off, expiry_date=DAY)
    in_grace = make.policy(product=renewable, expiry_date=DAY, status=S.GRACE)
    running = make.policy(product=renewable, expiry_date=DAY + timedelta(days=1))
    cancelled_renewal_of = make.policy(product=renewable, expiry_date=DAY)
    make.policy(product=renewable, renews_policy_id=cancelled_renewal_of.id, status=S.CANCELLED,
                cooling_off_cancellation=True, effective_date=DAY)

    counts = grace_and_lapse(DAY)
    assert counts == {"renewed": 1, "expired": 3, "matured": 1, "lapses": 0, "to_grace": 0, "cases_closed": 2}
    session.expire_all()
    assert [p.status for p in (unrenewed, renewed, lost_case_policy, matured, in_grace, running,
                               cancelled_renewal_of)] == [S.EXPIRED, S.RENEWED, S.EXPIRED, S.MATURED, S.GRACE,
                                                          S.IN_FORCE, S.EXPIRED]
    assert history(session, renewed) == [(S.IN_FORCE, S.RENEWED, DAY, LABEL)]
    assert history(session, in_grace) == [] and renewal.status == S.IN_FORCE
    assert (unrenewed_case.status, unrenewed_case.renewing_policy_id) == (RenewalStatus.LAPSED, None)
    assert (renewed_case.status, renewed_case.renewing_policy_id) == (RenewalStatus.RENEWED, renewal.id)
    assert renewed_case.closed_at is not None and lost_case.status == RenewalStatus.LOST
    assert_history_matches_statuses(session)


def test_a_renewal_still_quoted_at_expiry_renews_the_policy_late_once_written(make, session):
    expiring = make.policy(expiry_date=DAY)
    renewal = make.policy(renews_policy_id=expiring.id, effective_date=DAY, status=S.QUOTED)
    assert grace_and_lapse(DAY)["expired"] == 1
    renewal.status = S.IN_FORCE
    session.commit()
    assert grace_and_lapse(DAY + timedelta(days=3))["renewed"] == 1
    session.expire_all()
    assert expiring.status == S.RENEWED
    assert [row[:3] for row in history(session, expiring)] == [
        (S.IN_FORCE, S.EXPIRED, DAY), (S.EXPIRED, S.RENEWED, DAY + timedelta(days=3))]


def test_an_expiring_unpaid_policy_expires_rather_than_entering_grace(make, session):
    policy = make.policy(expiry_date=DAY)
    installment(make, policy, DAY - timedelta(days=10))
    counts = grace_and_lapse(DAY)
    assert (counts["expired"], counts["to_grace"]) == (1, 0)


def test_no_change_takes_effect_before_the_policys_last_one(make, session):
    policy = make.policy(status_date=DAY + timedelta(days=1))
    installment(make, policy, DAY - timedelta(days=5))
    assert grace_and_lapse(DAY)["to_grace"] == 0
    assert grace_and_lapse(DAY + timedelta(days=1))["to_grace"] == 1


def test_running_twice_for_a_date_changes_nothing_more(make, session):
    policy = make.policy()
    installment(make, policy, DAY - timedelta(days=1))
    expiring = make.policy(expiry_date=DAY)
    open_case(make, expiring)
    job = jobs.registered(["policies.grace_and_lapse"])[0]
    assert jobs.run_job(job, DAY).counts["to_grace"] == 1
    assert jobs.run_job(job, DAY) is None
    assert set(grace_and_lapse(DAY).values()) == {0}
    assert session.scalar(select(func.count(PolicyStatusChange.id))) == 2
