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
from typing import Any

from dateutil.relativedelta import relativedelta
from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import select

from insurecrm.audit import record
from insurecrm.db import db
from insurecrm.validation_messages import in_refusal
from policies.models import Installment, InstallmentStatus, Policy, PremiumFrequency
from policies.payments import to_money
from policies.status import FINAL_STATUSES


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
    modal premium. The policy need not have an id yet: the flush gives it to them."""
    return [
        Installment(policy_id=policy.id, policy=policy, sequence=sequence, due_date=due, amount=policy.premium,
                    paid_amount=Decimal("0"), status=InstallmentStatus.DUE)
        for sequence, due in enumerate(schedule_dates(policy.effective_date, policy.expiry_date, policy.frequency),
                                       start=1)
    ]


def schedule_installment(policy: Policy, sequence: int, data: dict[str, Any], *,
                         installments: list[Installment] | None = None, flush: bool = True) -> str:
    """Make installment ``sequence`` of ``policy`` fall due on ``data["due_date"]`` for ``data["amount"]`` (and,
    when ``data`` says ``status``, due or waived), as a core system schedules it: the import of installments.
    ``"unchanged"`` when it already does, ``"updated"`` or ``"created"`` otherwise; a change is audited on the
    policy (``installments[3].amount``).

    A new installment is the next after the last one. Refuses (422): a due date outside the policy's term (from
    its effective date, before its expiry) or out of the order of the installments around it; a change to an
    installment that money was paid to (a payment is corrected by a reversal) or of a policy that has ended.

    For a caller scheduling many (an import, in batches): ``installments`` are all of the policy's installments, read
    by the caller, which the service takes as this session holds them and to which it adds the installment it
    creates — the rows of one batch see each other's changes before any is written; ``flush=False`` leaves the
    installment to the caller's flush (run under ``no_autoflush``). The audit entry is written at once either way.
    """
    if installments is None:
        installments = list(db.session.scalars(select(Installment).where(Installment.policy_id == policy.id)))
    by_sequence = {installment.sequence: installment for installment in installments}
    current = by_sequence.get(sequence)
    wanted = {"due_date": data["due_date"], "amount": to_money(data["amount"])}
    if "status" in data:
        wanted["status"] = InstallmentStatus(data["status"])
    if current is not None:
        wanted = {key: value for key, value in wanted.items() if getattr(current, key) != value}
        if not wanted:
            return "unchanged"
    _check_change(policy, sequence, current, wanted, by_sequence)
    before = {key: None if current is None else getattr(current, key) for key in wanted}
    if current is None:
        added = Installment(policy_id=policy.id, sequence=sequence, paid_amount=Decimal("0"),
                            **{"status": InstallmentStatus.DUE, **wanted})
        db.session.add(added)
        installments.append(added)
    else:
        for key, value in wanted.items():
            setattr(current, key, value)
    if flush:
        db.session.flush()
    record(db.session, action="update", entity_type="policies", entity_id=policy.id,
           changes={f"installments[{sequence}].{key}": [_plain(before[key]), _plain(value)]
                    for key, value in wanted.items()})
    return "created" if current is None else "updated"


def _check_change(policy: Policy, sequence: int, current: Installment | None, wanted: dict[str, Any],
                  by_sequence: dict[int, Installment]) -> None:
    if policy.status in FINAL_STATUSES:
        raise ValidationError({"_schema": [gettext("Policy %(number)s has ended (%(status)s): its installments are "
                                                   "not changed.", number=policy.number,
                                                   status=in_refusal(policy.status, "policy_status"))]})
    if current is not None and current.paid_amount > 0:
        raise ValidationError({"amount": [gettext("Installment %(sequence)s of policy %(number)s has money paid to "
                                                  "it: a payment is corrected by a reversal, not by changing the "
                                                  "installment.", sequence=sequence, number=policy.number)]})
    last = max(by_sequence, default=0)
    if current is None and sequence != last + 1:
        raise ValidationError({"sequence": [gettext("Policy %(number)s has installments 1 to %(last)s: the next is "
                                                    "number %(next)s.", number=policy.number, last=last,
                                                    next=last + 1)]})
    due = wanted.get("due_date", current.due_date if current is not None else None)
    if due < policy.effective_date or (policy.expiry_date is not None and due >= policy.expiry_date):
        raise ValidationError({"due_date": [gettext("The policy runs from %(effective)s to %(expiry)s: an "
                                                    "installment falls due within.", effective=policy.effective_date,
                                                    expiry=policy.expiry_date)]})
    before, after = by_sequence.get(sequence - 1), by_sequence.get(sequence + 1)
    if (before is not None and due <= before.due_date) or (after is not None and due >= after.due_date):
        raise ValidationError({"due_date": [gettext("Installment %(sequence)s falls due after installment "
                                                    "%(previous)s and before installment %(next)s.",
                                                    sequence=sequence, previous=sequence - 1, next=sequence + 1)]})


def _plain(value: Any) -> Any:
    """A value as the audit log keeps it."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value.value if isinstance(value, InstallmentStatus) else value
