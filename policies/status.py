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
"""

from __future__ import annotations

from datetime import date

from marshmallow import ValidationError

from insurecrm.actor import actor_label, current_actor
from insurecrm.db import db
from policies.models import Policy, PolicyStatus, PolicyStatusChange

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


def allowed_targets(status: PolicyStatus) -> list[PolicyStatus]:
    """The statuses a policy in ``status`` may move to, in declaration order."""
    return [s for s in PolicyStatus if s in ALLOWED_TRANSITIONS[PolicyStatus(status)]]


def transition(policy: Policy, to_status: PolicyStatus, *, effective_date: date, reason: str | None = None,
               actor=None) -> PolicyStatusChange:
    """Move ``policy`` to ``to_status`` as of ``effective_date`` and record the change.

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


def record_initial_status(policy: Policy, actor=None) -> PolicyStatusChange:
    """Write the first history row of a new policy: ``None`` → its initial status, as of its status date."""
    change = _record(policy, None, policy.status, policy.status_date, None, actor)
    db.session.flush()
    return change


def within_cooling_off(policy: Policy, on: date) -> bool:
    """True when ``on`` lies within the product's cooling-off days of the policy's issue date."""
    return (on - policy.issue_date).days <= policy.product.cooling_off_days


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
