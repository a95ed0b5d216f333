"""Aggregates of the book, computed in SQL inside the user's scope (never a Python loop over rows)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select

from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible
from policies.models import Policy, PolicyStatus, PremiumFrequency
from policyholders.models import Policyholder

IN_FORCE_STATUSES = (PolicyStatus.IN_FORCE, PolicyStatus.GRACE, PolicyStatus.REINSTATED)


def annualised_premium():
    """SQL expression: a policy's annualised premium (premium × installments per year)."""
    per_year = case(
        *[(Policy.frequency == f, f.per_year) for f in PremiumFrequency],
        else_=1,
    )
    return Policy.premium * per_year


def book_summary(user: User, as_of: date) -> dict:
    """Policyholders by status, and in-force policies with annualised premium by channel, for ``user``'s scope.

    Three grouped queries whatever the size of the book.
    """
    holders = dict(db.session.execute(
        select(Policyholder.status, func.count()).where(visible(Policyholder, user)).group_by(Policyholder.status)
    ).all())
    in_force = (Policy.status.in_(IN_FORCE_STATUSES)) & (Policy.expiry_date > as_of)
    by_channel = db.session.execute(
        select(Policy.channel, func.count(), func.coalesce(func.sum(annualised_premium()), 0))
        .where(visible(Policy, user), in_force)
        .group_by(Policy.channel).order_by(Policy.channel)
    ).all()
    by_status = dict(db.session.execute(
        select(Policy.status, func.count()).where(visible(Policy, user)).group_by(Policy.status)
    ).all())
    channels = [
        {"channel": channel, "policies": count, "annualised_premium": Decimal(premium).quantize(Decimal("0.01"))}
        for channel, count, premium in by_channel
    ]
    return {
        "as_of": as_of,
        "policyholders_by_status": {status.value: n for status, n in holders.items()},
        "policies_by_status": {status.value: n for status, n in by_status.items()},
        "in_force_by_channel": channels,
        "in_force_policies": sum(c["policies"] for c in channels),
        "in_force_annualised_premium": sum((c["annualised_premium"] for c in channels), Decimal("0.00")),
    }
