"""A small organisation for the policyholders tests: one company, two sibling branches, a team below
the first branch, agents in each, a bancassurance specialist and users of every role."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agents.models import AgentChannel, OrgUnitKind
from insurecrm.models import Role


@pytest.fixture
def org(make):
    """``org.branch`` (with ``org.team`` below it) and ``org.sibling``, agents and users in each."""
    company = make.org_unit()
    branch = make.org_unit(company)
    team = make.org_unit(branch, kind=OrgUnitKind.TEAM)
    sibling = make.org_unit(company)
    agent = make.agent(team)
    colleague = make.agent(team)
    other_agent = make.agent(sibling)
    specialist = make.agent(branch, channel=AgentChannel.BANCASSURANCE)
    partner = make.bank_partner()
    specialist.bank_partners.append(partner)
    make.session.commit()
    return SimpleNamespace(
        company=company, branch=branch, team=team, sibling=sibling, partner=partner,
        agent=agent, colleague=colleague, other_agent=other_agent, specialist=specialist,
        agent_user=make.user(Role.AGENT, agent_id=agent.id),
        other_agent_user=make.user(Role.AGENT, agent_id=other_agent.id),
        specialist_user=make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=specialist.id),
        manager=make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id),
        sibling_manager=make.user(Role.BRANCH_MANAGER, org_unit_id=sibling.id),
        admin=make.user(Role.ADMIN),
        actuary=make.user(Role.ACTUARY),
        referrer=make.user(Role.BANK_REFERRER, referrer_id=make.referrer().id),
    )


