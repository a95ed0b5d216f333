"""Fixtures of the policies tests: a selling agent with a login, and policies with their premium schedule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta

from insurecrm import clock
from insurecrm.models import Role
from policies.schedule import build_schedule

TODAY = clock.today()  # the insurer's today, as the services see it


def months_ago(months: int) -> date:
    return TODAY - relativedelta(months=months)


@pytest.fixture
def seller(make):
    """An agent, their login, and a policyholder they own: ``seller.agent``, ``seller.user``, ``seller.holder``."""

    class Seller:
        agent = make.agent()
        user = make.user(Role.AGENT, agent_id=agent.id)
        holder = make.policyholder(owner=agent)

    return Seller


@pytest.fixture
def scheduled_policy(make, session):
    """``scheduled_policy(**overrides)``: a factory policy with its premium schedule written."""

    def build(**kw):
        kw.setdefault("premium", Decimal("100.00"))
        policy = make.policy(**kw)
        session.add_all(build_schedule(policy))
        session.commit()
        return policy

    return build
