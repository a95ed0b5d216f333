"""Fixtures of the agents domain: a small organisation tree and clients that survive refused requests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from agents.models import OrgUnitKind


@pytest.fixture
def tree(make):
    """company → branch A → team A1, and company → branch B (a sibling of A)."""
    company = make.org_unit(code="HQ")
    branch_a = make.org_unit(company, code="BR-A")
    team_a1 = make.org_unit(branch_a, code="TEAM-A1", kind=OrgUnitKind.TEAM)
    branch_b = make.org_unit(company, code="BR-B")
    return SimpleNamespace(company=company, branch_a=branch_a, team_a1=team_a1, branch_b=branch_b)


@pytest.fixture
def count(session):
    """``count(Model)``: the number of rows of a model, to prove a refused request wrote nothing."""

    def rows(model) -> int:
        return session.scalar(select(func.count()).select_from(model))

    return rows
