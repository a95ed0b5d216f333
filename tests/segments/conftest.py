"""A small book for the segments tests, every trait a filter reads set by hand.

Agent A (team T below branch B) owns four policyholders; agent Z (sibling branch) owns one who has the same traits as
A's first, so that a filter that leaks out of A's book is seen. Today is 2026-11-22 (``ON``).

- h1: person, female, born 1980-03-15, Shanghai, teacher, high income, married, prefers email; tags vip, golf; a
  health policy in force to 2027-01-01; churn 60; marketing and email consent.
- h2: person, male, born 1995-07-01, Beijing, engineer, middle income, acquired through bank P (bancassurance); tag
  vip; a life policy in force expiring 2026-12-10; churn 20; SMS consent.
- h3: an organisation, prospect, Shanghai; nothing else.
- h4: person, female, born 2000-12-31, Hangzhou, low income; tag golf; a lapsed health policy with an open renewal
  case due 2026-12-01.
- z1: as h1, owned by agent Z.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from agents.models import AgentChannel, OrgUnitKind
from insurecrm.models import Role
from policies.models import PolicyStatus, ProductLine, RenewalCase, RenewalStatus
from policyholders.models import (
    AcquisitionChannel,
    ContactChannel,
    Gender,
    IncomeBand,
    MaritalStatus,
    PartyKind,
    PolicyholderStatus,
    PolicyholderTag,
)
from reports.models import ChurnScore

ON = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # noon in Shanghai


def _holder(make, owner, name, tags=(), **traits):
    holder = make.policyholder(owner, name=name, **traits)
    holder.tags = [PolicyholderTag(tag=tag) for tag in tags]
    make.session.commit()
    return holder


@pytest.fixture
def book(make, session):
    company = make.org_unit(kind=OrgUnitKind.COMPANY)
    branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    team = make.org_unit(branch, kind=OrgUnitKind.TEAM)
    sibling = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    agent, other = make.agent(team), make.agent(sibling)
    specialist = make.agent(team, channel=AgentChannel.BANCASSURANCE)
    partner = make.bank_partner()
    health, life = make.product(line=ProductLine.HEALTH), make.product(line=ProductLine.LIFE)
    first = dict(kind=PartyKind.PERSON, gender=Gender.FEMALE, date_of_birth=date(1980, 3, 15), region="Shanghai",
                 occupation="teacher", income_band=IncomeBand.HIGH, marital_status=MaritalStatus.MARRIED,
                 preferred_channel=ContactChannel.EMAIL, consent_marketing=True, consent_email=True)
    h1 = _holder(make, agent, "Holder One", ("vip", "golf"), **first)
    h2 = _holder(make, agent, "Holder Two", ("vip",), kind=PartyKind.PERSON, gender=Gender.MALE,
                 date_of_birth=date(1995, 7, 1), region="Beijing", occupation="engineer",
                 income_band=IncomeBand.MIDDLE, bank_partner_id=partner.id,
                 acquisition_channel=AcquisitionChannel.BANCASSURANCE, consent_sms=True)
    h3 = _holder(make, agent, "Holder Three", kind=PartyKind.ORGANISATION, region="Shanghai",
                 status=PolicyholderStatus.PROSPECT)
    h4 = _holder(make, agent, "Holder Four", ("golf",), gender=Gender.FEMALE, date_of_birth=date(2000, 12, 31),
                 region="Hangzhou", income_band=IncomeBand.LOW)
    z1 = _holder(make, other, "Holder Zed", ("vip", "golf"), **first)
    make.policy(h1, health)
    make.policy(h2, life, effective_date=date(2025, 12, 10), expiry_date=date(2026, 12, 10))
    lapsed = make.policy(h4, health, effective_date=date(2025, 12, 1), expiry_date=date(2026, 12, 1),
                         status=PolicyStatus.LAPSED, status_date=date(2026, 6, 1))
    make.policy(z1, health)
    session.add(RenewalCase(policy_id=lapsed.id, due_date=lapsed.expiry_date, opened_on=date(2026, 10, 1),
                            assigned_agent_id=agent.id, org_unit_id=team.id, status=RenewalStatus.OPEN))
    session.add_all([ChurnScore(policyholder_id=h.id, scored_on=ON, score=score)
                     for h, score in ((h1, 60), (h2, 20), (z1, 60))])
    session.commit()
    return SimpleNamespace(
        h1=h1, h2=h2, h3=h3, h4=h4, z1=z1, health=health, life=life, partner=partner, team=team, branch=branch,
        sibling=sibling, agent=agent, other=other,
        agent_user=make.user(Role.AGENT, agent_id=agent.id),
        other_user=make.user(Role.AGENT, agent_id=other.id),
        specialist_user=make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=specialist.id),
        manager=make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id),
        sibling_manager=make.user(Role.BRANCH_MANAGER, org_unit_id=sibling.id),
        admin=make.user(Role.ADMIN), actuary=make.user(Role.ACTUARY),
        referrer=make.user(Role.BANK_REFERRER, referrer_id=make.referrer().id),
    )
