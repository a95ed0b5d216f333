"""What the book was on a given day, from the policies' status history: the one definition of "in force on a date"
that the reports share (docs/metrics.md, "In force on a date").

A policy's status on a day is the status its latest change effective on or before that day moved it to; before its
first recorded change, the status that change moved it from; a policy without any recorded change has its current
status. It is in force on the day when that status is in force, in grace or reinstated and the day lies in its
cover (effective date ≤ day < expiry date).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from policies.models import IN_FORCE_STATUSES, Policy, PolicyStatusChange


def status_on(day) -> ColumnElement:
    """SQL expression (correlated to ``Policy``): the policy's status at the end of ``day``."""
    change = PolicyStatusChange
    latest = (select(change.to_status).where(change.policy_id == Policy.id, change.effective_date <= day)
              .order_by(change.effective_date.desc(), change.id.desc()).limit(1).scalar_subquery())
    before_first = (select(change.from_status).where(change.policy_id == Policy.id, change.effective_date > day)
                    .order_by(change.effective_date, change.id).limit(1).scalar_subquery())
    return func.coalesce(latest, before_first, Policy.status)


def in_force_as_of(day: date) -> ColumnElement[bool]:
    """SQL condition on ``Policy``: in force at the end of ``day``, judged on its status history."""
    return (Policy.effective_date <= day) & (Policy.expiry_date > day) & status_on(day).in_(
        [status.value for status in IN_FORCE_STATUSES])
