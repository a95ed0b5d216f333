"""A small organisation with a renewable book for the renewal tests, on a frozen clock (22 November 2026).

``org.branch`` (with ``org.team`` below it) and ``org.sibling``; the agent and a colleague in the team, another
agent in the sibling branch, a bancassurance specialist in the branch, users of every role; ``renewal_case``
makes a case on a fresh policy (annual premium 1,000.00, product discount limit 10%, expiring in 28 days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from agents.models import AgentChannel, OrgUnitKind
from insurecrm import clock
from insurecrm.models import Role
from policies.models import InstallmentStatus, PremiumFrequency, RenewalCase, RenewalStatus
from policies.schedule import build_schedule

TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # noon in Shanghai


@pytest.fixture(autouse=True)
def _frozen_clock():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def org(make):
    company = make.org_unit()
    branch = make.org_unit(company)
    team = make.org_unit(branch, kind=OrgUnitKind.TEAM)
    sibling = make.org_unit(company)
    agent, colleague, other_agent = make.agent(team), make.agent(team), make.agent(sibling)
    specialist = make.agent(branch, channel=AgentChannel.BANCASSURANCE)
    return SimpleNamespace(
        company=company, branch=branch, team=team, sibling=sibling,
        agent=agent, colleague=colleague, other_agent=other_agent, specialist=specialist,
        agent_user=make.user(Role.AGENT, agent_id=agent.id),
        colleague_user=make.user(Role.AGENT, agent_id=colleague.id),
        other_agent_user=make.user(Role.AGENT, agent_id=other_agent.id),
        specialist_user=make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=specialist.id),
        manager=make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id),
        sibling_manager=make.user(Role.BRANCH_MANAGER, org_unit_id=sibling.id),
        admin=make.user(Role.ADMIN),
        actuary=make.user(Role.ACTUARY),
        referrer=make.user(Role.BANK_REFERRER, referrer_id=make.referrer().id),
    )


@pytest.fixture
def product(make):
    return make.product(renewable=True, term_months=12, max_renewal_discount=Decimal("0.1000"))


@pytest.fixture
def renewal_case(make, session, org, product):
    """``renewal_case(agent=org.agent, **policy_overrides)``: a case on a new policy of a new policyholder
    owned by the agent, its premium schedule written and paid unless ``paid=False``."""

    def build(agent=None, *, paid=True, holder=None, case_status=RenewalStatus.OPEN, **kw):
        agent = agent or org.agent
        holder = holder or make.policyholder(owner=agent, consent_email=True)
        kw.setdefault("effective_date", TODAY + timedelta(days=28) - timedelta(days=365))
        kw.setdefault("expiry_date", TODAY + timedelta(days=28))
        kw.setdefault("premium", Decimal("1000.00"))
        kw.setdefault("frequency", PremiumFrequency.ANNUAL)
        policy = make.policy(holder, kw.pop("product", product), **kw)
        for installment in build_schedule(policy):
            if paid:
                installment.paid_amount, installment.status = installment.amount, InstallmentStatus.PAID
                installment.paid_date = installment.due_date
            session.add(installment)
        case = RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=TODAY - timedelta(days=32),
                           assigned_agent_id=agent.id if agent.status == "active" else None,
                           org_unit_id=policy.org_unit_id, status=case_status)
        session.add(case)
        session.commit()
        return case

    return build
