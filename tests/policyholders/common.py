"""Shared values of the policyholders tests."""

from __future__ import annotations

from sqlalchemy import func, select

#: valid PRC resident IDs (check digit included); the birth date is digits 7-14
RIC_1990 = "110105199003071239"
RIC_1985 = "110105198512240024"
RIC_2000 = "110105200001010016"
#: a valid unified social credit code of an organisation
USCC = "91110000600037341L"


def count(session, model) -> int:
    """Rows of ``model`` in the database (to prove a refused request wrote nothing)."""
    return session.scalar(select(func.count()).select_from(model))
