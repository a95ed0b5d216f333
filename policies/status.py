"""The policy status machine: which status may follow which, and the history of every change.

A policy's ``status`` changes only through :func:`transition`, which checks the move against the
table below, records a :class:`~policies.models.PolicyStatusChange` (from, to, effective date, reason,
who) and sets ``status`` and ``status_date``.

| from | may move to |
| --- | --- |
| quoted | in_force, cancelled |
| in_force | grace, cancelled, expired, renewed, matured, terminated_by_claim |
| grace | in_force, lapsed, cancelled, terminated_by_claim |
| lapsed | reinstated, expired |
| reinstated | grace, cancelled, expired, renewed, matured, terminated_by_claim |
| expired | renewed (a late renewal) |
| cancelled, renewed, matured, terminated_by_claim | nothing: these are final |

A reason is required when moving to cancelled, lapsed, terminated_by_claim or reinstated. A change
may not take effect before the previous one. A cancellation taking effect within the product's
cooling-off days (犹豫期) of the issue date is flagged ``cooling_off_cancellation``, so it can be
counted apart from other cancellations.

**What a person may ask for, and what only the system does.** The table above is every move the book
may see. Most of them are facts the system establishes, not decisions: a policy enters grace and lapses
because premium went unpaid, expires or matures because its term ended, is renewed because its renewal
was written, and is terminated by a claim because the claim was settled. Those moves are made by the
daily job (``policies.tasks.grace_and_lapse``, in bulk), by a payment clearing the arrears
(:mod:`policies.payments`), by writing a renewal (:func:`policies.services.create_policy`) and by settling a
claim (:mod:`policies.claims`), each through :func:`transition`. A person (the API's
``POST /policies/<id>/transitions`` and the policy page) asks through :func:`request_transition`, which
allows only :data:`REQUESTABLE_TRANSITIONS`:

| from | a person may ask for |
| --- | --- |
| quoted | in_force (put the quote in force), cancelled (the quote is declined) |
| in_force, grace, reinstated | cancelled (with a reason) |
| lapsed | reinstated (with a reason), on the conditions below |

A reinstatement (复效) is refused when the policy's term has ended (its expiry date is on or before the
reinstatement date: an expired policy is renewed, never reinstated), when the policy lapsed more than
:data:`REINSTATEMENT_PERIOD` before (the two years of the PRC Insurance Law, art. 37), and while
arrears are unpaid: every installment due before the reinstatement date must be paid in full, either
beforehand or by a payment recorded with the reinstatement itself (``arrears_payment``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from marshmallow import ValidationError
from sqlalchemy import func, select

from insurecrm.actor import actor_label, current_actor
from insurecrm.db import db
from policies.models import Installment, InstallmentStatus, Policy, PolicyStatus, PolicyStatusChange

S = PolicyStatus
ALLOWED_TRANSITIONS: dict[PolicyStatus, frozenset[PolicyStatus]] = {
    S.QUOTED: frozenset({S.IN_FORCE, S.CANCELLED}),
    S.IN_FORCE: frozenset({S.GRACE, S.CANCELLED, S.EXPIRED, S.RENEWED, S.MATURED, S.TERMINATED_BY_CLAIM}),
    S.GRACE: frozenset({S.IN_FORCE, S.LAPSED, S.CANCELLED, S.TERMINATED_BY_CLAIM}),
    S.LAPSED: frozenset({S.REINSTATED, S.EXPIRED}),
    S.REINSTATED: frozenset({S.GRACE, S.CANCELLED, S.EXPIRED, S.RENEWED, S.MATURED, S.TERMINATED_BY_CLAIM}),
    S.EXPIRED: frozenset({S.RENEWED}),
    S.CANCELLED: frozenset(),
    S.RENEWED: frozenset(),
    S.MATURED: frozenset(),
    S.TERMINATED_BY_CLAIM: frozenset(),
}
FINAL_STATUSES = frozenset(status for status, targets in ALLOWED_TRANSITIONS.items() if not targets)
REASON_REQUIRED = frozenset({S.CANCELLED, S.LAPSED, S.TERMINATED_BY_CLAIM, S.REINSTATED})
#: statuses a new policy may start in
INITIAL_STATUSES = frozenset({S.QUOTED, S.IN_FORCE})
#: the moves a person may ask for; every other move of :data:`ALLOWED_TRANSITIONS` is the system's
REQUESTABLE_TRANSITIONS: dict[PolicyStatus, frozenset[PolicyStatus]] = {
    status: frozenset() for status in PolicyStatus
} | {
    S.QUOTED: frozenset({S.IN_FORCE, S.CANCELLED}),
    S.IN_FORCE: frozenset({S.CANCELLED}),
    S.GRACE: frozenset({S.CANCELLED}),
    S.LAPSED: frozenset({S.REINSTATED}),
    S.REINSTATED: frozenset({S.CANCELLED}),
}
#: what establishes each move only the system makes, for the message refusing it to a person
SYSTEM_MOVES = {
    S.GRACE: "the daily job, when an installment goes unpaid after its due date",
    S.LAPSED: "the daily job, when premium stays unpaid beyond the grace period",
    S.IN_FORCE: "recording the payment of the overdue premium",
    S.EXPIRED: "the daily job, when the term of a renewable policy ends without renewal",
    S.MATURED: "the daily job, when the term of a non-renewable policy ends",
    S.RENEWED: "writing its renewal policy",
    S.TERMINATED_BY_CLAIM: "settling a claim that ends the cover (death, total disability, total loss)",
}
#: how long after the lapse a policy may be reinstated (PRC Insurance Law, art. 37: two years)
REINSTATEMENT_PERIOD = relativedelta(years=2)
UNPAID = (InstallmentStatus.DUE, InstallmentStatus.PARTIALLY_PAID)


def allowed_targets(status: PolicyStatus) -> list[PolicyStatus]:
    """The statuses a policy in ``status`` may move to, in declaration order."""
    return [s for s in PolicyStatus if s in ALLOWED_TRANSITIONS[PolicyStatus(status)]]


def requestable_targets(status: PolicyStatus) -> list[PolicyStatus]:
    """The statuses a person may ask to move a policy in ``status`` to, in declaration order."""
    return [s for s in PolicyStatus if s in REQUESTABLE_TRANSITIONS[PolicyStatus(status)]]


def arrears(policy: Policy, before: date) -> Decimal:
    """What is still owed on the installments of ``policy`` due before ``before``."""
    owed = db.session.scalar(select(func.sum(Installment.amount - Installment.paid_amount)).where(
        Installment.policy_id == policy.id, Installment.status.in_(UNPAID), Installment.due_date < before))
    return Decimal(owed or 0).quantize(Decimal("0.01"))


def request_transition(policy: Policy, to_status: PolicyStatus, *, effective_date: date, reason: str | None = None,
                       actor=None, arrears_payment: dict | None = None) -> PolicyStatusChange:
    """A person's request to move ``policy`` to ``to_status``: the moves of :data:`REQUESTABLE_TRANSITIONS` only.

    Refuses (422) what only the system does (on ``to_status``, saying what makes that move) and whatever
    :func:`transition` refuses. A reinstatement is also refused once the term has ended or the lapse is older
    than :data:`REINSTATEMENT_PERIOD` (on ``effective_date``), and while installments due before the
    reinstatement date stay unpaid (on ``arrears_payment``, with the amount owed). ``arrears_payment``
    (``amount``, ``paid_on``, ``method``, ``reference``) is recorded first, in the same transaction, so the
    arrears may be paid with the reinstatement itself; a refused request writes nothing.
    """
    to_status = PolicyStatus(to_status)
    if to_status not in requestable_targets(policy.status):
        raise ValidationError({"to_status": [_refusal(policy.status, to_status)]})
    if arrears_payment and to_status is not S.REINSTATED:
        raise ValidationError({"arrears_payment": ["Only a reinstatement takes a payment of arrears."]})
    if to_status is S.REINSTATED:
        _check_transition(policy, to_status, effective_date, reason)
        _check_reinstatement(policy, effective_date, arrears_payment)
    return transition(policy, to_status, effective_date=effective_date, reason=reason, actor=actor)


def transition(policy: Policy, to_status: PolicyStatus, *, effective_date: date, reason: str | None = None,
               actor=None) -> PolicyStatusChange:
    """Move ``policy`` to ``to_status`` as of ``effective_date`` and record the change: the system's path
    (jobs, payments, renewals, claims), which may make every move of :data:`ALLOWED_TRANSITIONS`. What a
    person asks for goes through :func:`request_transition`.

    Refuses (422) a move the table does not allow (on ``to_status``, naming the allowed ones), a
    missing reason where one is required (on ``reason``) and an effective date before the policy's
    last status change (on ``effective_date``). ``actor`` defaults to the current user or system actor.
    """
    to_status = PolicyStatus(to_status)
    _check_transition(policy, to_status, effective_date, reason)
    # everything that may load from the database comes before the first change, so that the
    # policy is written (and audited) in one UPDATE rather than flushed half-changed by a lazy load
    cooling_off = to_status is S.CANCELLED and within_cooling_off(policy, effective_date)
    change = _record(policy, policy.status, to_status, effective_date, reason, actor)
    if to_status is S.CANCELLED:
        policy.cancellation_reason = reason.strip()[:255]
        policy.cooling_off_cancellation = cooling_off
    policy.status = to_status
    policy.status_date = effective_date
    db.session.flush()
    return change


def record_initial_status(policy: Policy, actor=None, *, flush: bool = True) -> PolicyStatusChange:
    """Write the first history row of a new policy: ``None`` → its initial status, as of its status date
    (``flush=False``: left in the session, for the caller's flush)."""
    change = _record(policy, None, policy.status, policy.status_date, None, actor)
    if flush:
        db.session.flush()
    return change


def within_cooling_off(policy: Policy, on: date) -> bool:
    """True when ``on`` lies within the product's cooling-off days of the policy's issue date."""
    return (on - policy.issue_date).days <= policy.product.cooling_off_days


def _refusal(from_status: PolicyStatus, to_status: PolicyStatus) -> str:
    targets = requestable_targets(from_status)
    allowed = ", ".join(targets) if targets else "none"
    if to_status in ALLOWED_TRANSITIONS[from_status] and to_status in SYSTEM_MOVES:
        return (f"A {from_status} policy becomes {to_status} only through {SYSTEM_MOVES[to_status]}, not by hand. "
                f"You may ask for: {allowed}.")
    if from_status is S.EXPIRED and to_status is S.REINSTATED:
        return ("An expired policy cannot be reinstated: its term has ended; write a renewal instead. "
                f"You may ask for: {allowed}.")
    final = f" ({from_status} is final)" if from_status in FINAL_STATUSES else ""
    return f"A {from_status} policy cannot become {to_status}{final}. You may ask for: {allowed}."


def _check_reinstatement(policy: Policy, effective_date: date, payment: dict | None) -> None:
    if policy.expiry_date <= effective_date:
        raise ValidationError({"effective_date": [
            f"The policy's term ended on {policy.expiry_date.isoformat()}: it cannot be reinstated, only renewed."]})
    if effective_date > policy.status_date + REINSTATEMENT_PERIOD:
        raise ValidationError({"effective_date": [
            f"The policy lapsed on {policy.status_date.isoformat()}: it may be reinstated within two years, "
            f"until {(policy.status_date + REINSTATEMENT_PERIOD).isoformat()}."]})
    if payment:
        from policies.payments import apply_payment  # payments moves statuses through this module

        try:
            apply_payment(policy, payment["amount"], payment["paid_on"], payment["method"], payment.get("reference"))
        except ValidationError as exc:
            messages = [m for field in exc.normalized_messages().values() for m in field]
            raise ValidationError({"arrears_payment": messages}) from exc
    owed = arrears(policy, effective_date)
    if owed > 0:
        raise ValidationError({"arrears_payment": [
            f"Arrears of {owed} are unpaid (installments due before {effective_date.isoformat()}): pay them "
            f"before or with the reinstatement."]})


def _check_transition(policy: Policy, to_status: PolicyStatus, effective_date: date, reason: str | None) -> None:
    targets = allowed_targets(policy.status)
    if to_status not in targets:
        allowed = ", ".join(targets) if targets else f"none ({policy.status} is final)"
        message = f"A {policy.status} policy cannot become {to_status}. Allowed: {allowed}."
        raise ValidationError({"to_status": [message]})
    if to_status in REASON_REQUIRED and not (reason or "").strip():
        raise ValidationError({"reason": [f"A reason is required to make a policy {to_status}."]})
    if effective_date < policy.status_date:
        raise ValidationError({"effective_date": [
            f"Must not be before the last status change ({policy.status_date.isoformat()})."
        ]})


def _record(policy: Policy, from_status: PolicyStatus | None, to_status: PolicyStatus, effective_date: date,
            reason: str | None, actor) -> PolicyStatusChange:
    actor = actor if actor is not None else current_actor()
    change = PolicyStatusChange(
        from_status=from_status, to_status=to_status, effective_date=effective_date,
        reason=(reason or "").strip() or None, actor_user_id=getattr(actor, "id", None), actor_label=actor_label(actor),
    )
    policy.status_history.append(change)
    return change
