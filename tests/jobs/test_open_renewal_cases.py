"""policies.open_renewal_cases: every renewable policy gets its case when it enters the window, once."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from agents.models import AgentStatus
from insurecrm import jobs
from policies.models import PolicyStatus, RenewalCase, RenewalStatus

DAY = date(2026, 11, 22)


def run(day=DAY):
    return jobs.run_job(jobs.registered(["policies.open_renewal_cases"])[0], day)


def case_of(session, policy):
    return session.scalar(select(RenewalCase).where(RenewalCase.policy_id == policy.id))


def test_cases_open_for_policies_entering_the_window(make, session):
    agent = make.agent()
    holder = make.policyholder(owner=agent)
    renewable = make.product(renewable=True)
    inside = make.policy(holder, renewable, expiry_date=DAY + timedelta(days=60))
    outside = make.policy(holder, renewable, expiry_date=DAY + timedelta(days=61))
    one_year_life = make.policy(holder, make.product(renewable=False), expiry_date=DAY + timedelta(days=30))
    lapsed = make.policy(holder, renewable, expiry_date=DAY + timedelta(days=30), status=PolicyStatus.LAPSED)

    assert run().counts == {"cases_opened": 1}
    case = case_of(session, inside)
    assert (case.due_date, case.opened_on, case.assigned_agent_id, case.status) == (
        inside.expiry_date, DAY, agent.id, RenewalStatus.OPEN)
    assert case.org_unit_id == inside.org_unit_id
    assert all(case_of(session, p) is None for p in (outside, one_year_life, lapsed))

    assert run(DAY + timedelta(days=1)).counts == {"cases_opened": 1}  # the next day, the next policy
    assert case_of(session, outside) is not None


def test_an_inactive_agents_case_goes_to_the_units_pool(make, session):
    agent = make.agent(status=AgentStatus.INACTIVE)
    policy = make.policy(make.policyholder(owner=agent), make.product(renewable=True),
                         expiry_date=DAY + timedelta(days=10))
    run()
    case = case_of(session, policy)
    assert case.assigned_agent_id is None and case.org_unit_id == policy.org_unit_id


def test_no_case_for_a_policy_already_renewed_or_with_a_case(make, session):
    product = make.product(renewable=True)
    renewed = make.policy(product=product, expiry_date=DAY + timedelta(days=20))
    make.policy(product=product, renews_policy_id=renewed.id, effective_date=renewed.expiry_date,
                expiry_date=renewed.expiry_date + timedelta(days=365))
    assert run().counts == {"cases_opened": 0}


def test_a_product_may_open_its_cases_earlier_or_later(make, session):
    holder = make.policyholder()
    early = make.product(renewable=True, renewal_window_days=90)
    late = make.product(renewable=True, renewal_window_days=30)
    early_policy = make.policy(holder, early, expiry_date=DAY + timedelta(days=80))
    late_policy = make.policy(holder, late, expiry_date=DAY + timedelta(days=45))
    default_policy = make.policy(holder, make.product(renewable=True), expiry_date=DAY + timedelta(days=45))
    assert run().counts == {"cases_opened": 2}
    assert case_of(session, early_policy) is not None and case_of(session, default_policy) is not None
    assert case_of(session, late_policy) is None
