"""The premium schedule: when each installment of a policy falls due, and for how much.

A single premium is one installment on the effective date. Otherwise an installment falls due every
``frequency.months_between`` months from the effective date, as long as the due date is before the
expiry date. Each due date is computed from the effective date (effective + n × months), never from
the previous due date, so a policy starting on 31 January is due on 28/29 February, 31 March,
30 April, 31 May... and does not drift to the 28th. Every installment is the modal premium.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from policies.models import Installment, InstallmentStatus, Policy, PremiumFrequency


def schedule_dates(effective: date, expiry: date, frequency: PremiumFrequency | str) -> list[date]:
    """The due dates of a policy's premiums (pure: no database), in order.

    ``single`` gives ``[effective]``; other frequencies give every due date from ``effective`` that is
    before ``expiry`` (none when ``expiry`` is not after ``effective``).
    """
    months = PremiumFrequency(frequency).months_between
    if months is None:
        return [effective]
    dates: list[date] = []
    due = effective
    while due < expiry:
        dates.append(due)
        due = effective + relativedelta(months=months * len(dates))
    return dates


def build_schedule(policy: Policy) -> list[Installment]:
    """The installments of ``policy`` (not yet added to the session), numbered 1..n, each of the
    modal premium. The policy must have an id (be flushed) first."""
    return [
        Installment(policy_id=policy.id, sequence=sequence, due_date=due, amount=policy.premium,
                    paid_amount=Decimal("0"), status=InstallmentStatus.DUE)
        for sequence, due in enumerate(schedule_dates(policy.effective_date, policy.expiry_date, policy.frequency),
                                       start=1)
    ]
