"""Payments: applying money received to a policy's premium installments, and the commissions it earns.

**Allocation rule.** A payment goes to the policy's open installments (due or partially paid), the
oldest due date first (then by sequence number), each filled up before the next one gets anything.
Every installment that received money gets a :class:`~policies.models.PaymentAllocation` row; an
installment filled completely becomes ``paid`` with ``paid_date`` = the payment's date, one filled in
part becomes ``partially_paid``. A payment larger than everything still open is refused: the book has
no place for the difference. A policy in grace whose overdue installments (due before today) are all
paid afterwards moves back to in force, as of the payment date — unless its grace had already ended
before the payment date (an installment stayed unpaid beyond the product's ``grace_period_days`` on a
day before it, judged as the daily job judges: see :func:`grace_ended_before`). Such a policy lapsed on
that day, whether or not the job has run for it yet (the scheduler may have been down): it stays in
grace for the job to lapse it as of that day, and the payment counts towards its arrears; it comes back
by the reinstatement rule (:mod:`policies.status`), never by the payment alone.

**Commission rule.** Each payment earns commission on the premium it pays, as of the payment date:

- the servicing agent earns ``product.first_year_commission_rate`` on installments due in the first
  12 months of a new or transfer-in policy, and ``product.renewal_commission_rate`` on every other
  installment (later years, and every installment of a renewal policy);
- on a policy with a bank partner (bancassurance), that commission is **split** between the agent and the bank
  partner by the partner's commission terms (:func:`split_commission`): the partner earns its
  ``BankPartner.commission_rate`` on the premium paid, first-year or renewal alike, and the agent the rest of the
  product's commission. Each part is rounded to the cent, half up, and the agent's part is the commission less the
  partner's, so the two add up to the product's commission to the cent. A partner whose rate exceeds the product's
  commission rate is still paid its terms (the insurer's contract with the bank), and the agent then earns nothing
  on that premium. A policy without a servicing agent pays the partner its part and nobody the rest.
- the product's ``bank_share_rate`` no longer pays anything: the bank's part is set per partner, in its terms.

One commission row is written per payee and kind (first year / renewal) of the payment (the partner's only when
its part is above zero).
The agent's row on a split premium states the net rate (the product's rate less the partner's, at least zero);
its amount is the commission less the partner's part, which may differ by a cent from base × net rate.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import exists, select

from agents.models import BankPartner
from insurecrm import clock
from insurecrm.db import db
from insurecrm.validation_messages import in_refusal
from policies.models import (
    BusinessType,
    Commission,
    CommissionKind,
    CommissionPayee,
    Installment,
    InstallmentStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    Policy,
    PolicyStatus,
)
from policies.status import transition

CENT = Decimal("0.01")
OPEN = (InstallmentStatus.DUE, InstallmentStatus.PARTIALLY_PAID)
#: a policy in one of these statuses has ended and takes no more premium
NO_PAYMENT_STATUSES = frozenset({PolicyStatus.CANCELLED, PolicyStatus.EXPIRED, PolicyStatus.MATURED,
                                 PolicyStatus.RENEWED, PolicyStatus.TERMINATED_BY_CLAIM})
FIRST_YEAR_BUSINESS = frozenset({BusinessType.NEW, BusinessType.TRANSFER_IN})


def to_money(value) -> Decimal:
    """``value`` as a Decimal rounded to the cent, half up."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def apply_payment(policy: Policy, amount, paid_on: date, method: PaymentMethod = PaymentMethod.BANK_TRANSFER,
                  reference: str | None = None, *, installments: list[Installment] | None = None,
                  flush: bool = True) -> Payment:
    """Record a payment for ``policy``, allocate it to the oldest open installments and earn commissions.

    Refuses (422) a policy that has ended (cancelled, expired, matured, renewed, terminated by claim),
    an amount of zero or less, a payment date in the future, and an amount larger than all open
    installments together (on ``amount``). A refused payment writes nothing.

    For a caller recording many (an import, in batches): ``installments`` are all of the policy's installments,
    read and locked by the caller (:func:`open_installments` for one policy), of which the payment takes the open
    ones as this session holds them — the payments of one batch see each other's allocations before any is
    written; ``flush=False`` leaves the rows to the caller's flush (under ``no_autoflush``), except for a policy in
    grace, whose way out is read from the installments as written.
    """
    amount = to_money(amount)
    _check_payment(policy, amount, paid_on)
    installments = open_installments(policy) if installments is None else open_of(installments)
    outstanding = sum((i.amount - i.paid_amount for i in installments), Decimal("0"))
    if amount > outstanding:
        raise ValidationError({"amount": [gettext("Exceeds the %(outstanding)s still open on policy %(number)s.",
                                                   outstanding=outstanding, number=policy.number)]})
    payment = Payment(policy_id=policy.id, paid_on=paid_on, amount=amount, method=method, reference=reference)
    db.session.add(payment)
    allocated = _allocate(payment, installments)
    if flush or policy.status == PolicyStatus.GRACE:
        db.session.flush()
    _earn_commissions(policy, payment, allocated)
    _leave_grace_if_cleared(policy, paid_on)
    if flush:
        db.session.flush()
    return payment


def open_installments(policy: Policy) -> list[Installment]:
    """The policy's installments not yet fully paid, oldest first (locked until the transaction ends)."""
    return list(db.session.scalars(
        select(Installment).where(Installment.policy_id == policy.id, Installment.status.in_(OPEN))
        .order_by(Installment.due_date, Installment.sequence).with_for_update()
    ))


def open_of(installments: list[Installment]) -> list[Installment]:
    """Of a policy's ``installments``, those not yet fully paid, oldest first (as :func:`open_installments`)."""
    return sorted((installment for installment in installments if installment.status in OPEN),
                  key=lambda installment: (installment.due_date, installment.sequence))


def commission_kind(policy: Policy, due_date: date) -> CommissionKind:
    """First-year for installments due in the first 12 months of new or transfer-in business, else renewal."""
    first_year_end = policy.effective_date + relativedelta(months=12)
    if policy.business_type in FIRST_YEAR_BUSINESS and due_date < first_year_end:
        return CommissionKind.FIRST_YEAR
    return CommissionKind.RENEWAL


def _check_payment(policy: Policy, amount: Decimal, paid_on: date) -> None:
    if policy.status in NO_PAYMENT_STATUSES:
        raise ValidationError({"_schema": [gettext("Policy %(number)s is %(status)s; it takes no payments.",
                                                    number=policy.number,
                                                    status=in_refusal(policy.status, "policy_status"))]})
    errors: dict[str, list[str]] = {}
    if amount <= 0:
        errors["amount"] = [gettext("Must be greater than zero.")]
    if paid_on > clock.today():
        errors["paid_on"] = [gettext("Must not be in the future.")]
    if errors:
        raise ValidationError(errors)


def _allocate(payment: Payment, installments: list[Installment]) -> list[tuple[Installment, Decimal]]:
    remaining = payment.amount
    allocated = []
    for installment in installments:
        if remaining <= 0:
            break
        share = min(remaining, installment.amount - installment.paid_amount)
        installment.paid_amount += share
        if installment.paid_amount >= installment.amount:
            installment.status, installment.paid_date = InstallmentStatus.PAID, payment.paid_on
        else:
            installment.status = InstallmentStatus.PARTIALLY_PAID
        payment.allocations.append(PaymentAllocation(installment_id=installment.id, amount=share))
        allocated.append((installment, share))
        remaining -= share
    return allocated


def split_commission(premium: Decimal, product_rate: Decimal, partner_rate: Decimal | None) -> tuple[Decimal, Decimal]:
    """The (agent's, partner's) parts of the commission on ``premium``: the product's commission
    (``premium × product_rate``, to the cent half up) less the partner's part (``premium × partner_rate``, to the
    cent half up) to the agent, never below zero; ``partner_rate`` ``None`` (no bank partner): all to the agent.
    Refuses nothing; rates are fractions (0.0350)."""
    commission = to_money(premium * product_rate)
    if partner_rate is None:
        return commission, Decimal("0.00")
    partner_part = to_money(premium * partner_rate)
    return max(commission - partner_part, Decimal("0.00")), partner_part


def _earn_commissions(policy: Policy, payment: Payment, allocated: list[tuple[Installment, Decimal]]) -> None:
    premium_by_kind: dict[CommissionKind, Decimal] = defaultdict(Decimal)
    for installment, share in allocated:
        premium_by_kind[commission_kind(policy, installment.due_date)] += share
    product = policy.product
    partner_rate = None
    if policy.bank_partner_id is not None:
        partner_rate = db.session.scalar(select(BankPartner.commission_rate)
                                         .where(BankPartner.id == policy.bank_partner_id))
    for kind, premium in premium_by_kind.items():
        rate = product.first_year_commission_rate if kind is CommissionKind.FIRST_YEAR \
            else product.renewal_commission_rate
        agent_part, partner_part = split_commission(premium, rate, partner_rate)
        if policy.servicing_agent_id is not None:
            net_rate = rate if partner_rate is None else max(rate - partner_rate, Decimal("0"))
            _add_commission(policy, payment, kind, premium, net_rate, agent_part, agent_id=policy.servicing_agent_id)
        if partner_part > 0:
            _add_commission(policy, payment, kind, premium, partner_rate, partner_part,
                            bank_partner_id=policy.bank_partner_id)


def _add_commission(policy: Policy, payment: Payment, kind: CommissionKind, premium: Decimal, rate: Decimal,
                    amount: Decimal, *, agent_id: int | None = None, bank_partner_id: int | None = None) -> None:
    db.session.add(Commission(
        policy_id=policy.id, payment_id=payment.id, payment=payment, kind=kind, rate=rate, base_amount=premium,
        amount=amount, earned_on=payment.paid_on, agent_id=agent_id, bank_partner_id=bank_partner_id,
        payee=CommissionPayee.AGENT if agent_id is not None else CommissionPayee.BANK_PARTNER,
    ))


def _leave_grace_if_cleared(policy: Policy, paid_on: date) -> None:
    # "overdue" is judged as of today: a back-dated payment that leaves a later installment overdue
    # must not take the policy out of grace only for the grace job to put it back tomorrow
    if policy.status != PolicyStatus.GRACE or grace_ended_before(policy, paid_on):
        return
    still_overdue = db.session.scalar(select(exists().where(
        Installment.policy_id == policy.id, Installment.status.in_(OPEN), Installment.due_date < clock.today()
    )))
    if not still_overdue:
        transition(policy, PolicyStatus.IN_FORCE, effective_date=max(paid_on, policy.status_date),
                   reason=f"Overdue premium paid on {paid_on.isoformat()}.")


def grace_ended_before(policy: Policy, day: date) -> bool:
    """True when the policy, in grace, had to lapse on a day before ``day``: the daily job
    (``policies.tasks.grace_and_lapse``) lapses a policy on the first day after it entered grace on which an
    installment has been unpaid (not fully paid on that day) for more than the product's grace period."""
    grace = timedelta(days=policy.product.grace_period_days)
    installments = db.session.scalars(select(Installment).where(
        Installment.policy_id == policy.id, Installment.due_date < day, Installment.status != InstallmentStatus.WAIVED))
    for installment in installments:
        lapse_day = max(policy.status_date + timedelta(days=1), installment.due_date + grace + timedelta(days=1))
        paid_later = installment.paid_date is not None and installment.paid_date > lapse_day
        unpaid_then = installment.status in OPEN or paid_later
        if lapse_day < day and unpaid_then:
            return True
    return False
