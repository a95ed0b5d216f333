"""Claims: reported against a policy, reviewed, approved or rejected, and paid.

**Kinds of claim by product line.** A claim says what was lost (:class:`~policies.models.ClaimKind`), and a
product line covers only some losses (:data:`KINDS_BY_LINE`): a death claim on a motor policy or a damage
claim on a life policy is refused.

**A claim's status moves forward** (:data:`CLAIM_TRANSITIONS`): reported, then under review, approved or
rejected, then paid (a small claim may be paid at once) and closed; a rejected claim may be reviewed again on
appeal, or closed. A paid claim only closes, and a closed claim is final: its settlement may already have ended
the policy, and nothing may undo that quietly.

**Settlement ends the cover when nothing is left to insure.** A claim of a kind in :data:`TERMINATING_KINDS`
(the insured's death or total and permanent disability, the total loss of the insured property or
vehicle) that is *settled in full* — status ``paid`` with the paid amount equal to the incurred amount,
above zero — moves its policy to ``terminated_by_claim`` through the system path
(:func:`policies.status.transition`, effective on the day of settlement, never before the policy's last
status change), when the policy is running (in force, grace, reinstated). A partial payment, another kind
of claim (medical, damage) or a policy already ended (lapsed, expired, cancelled...) leaves the status as
it is. Nobody moves a policy to ``terminated_by_claim`` by hand.
"""

from __future__ import annotations

import re
from decimal import Decimal

from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import inspect, select

from insurecrm import clock
from insurecrm.db import db
from insurecrm.services import apply_changes
from insurecrm.validation_messages import in_refusal
from policies.models import Claim, ClaimKind, ClaimStatus, Policy, PolicyStatus, ProductLine
from policies.numbers import CLAIM_CODE, NUMBER_RE, allocate_claim_number, is_valid_number, reserve_claim_number
from policies.status import ALLOWED_TRANSITIONS, transition

K = ClaimKind
#: the kinds of loss each product line covers
KINDS_BY_LINE: dict[ProductLine, tuple[ClaimKind, ...]] = {
    ProductLine.LIFE: (K.DEATH, K.TOTAL_DISABILITY, K.OTHER),
    ProductLine.ANNUITY: (K.DEATH, K.OTHER),
    ProductLine.HEALTH: (K.MEDICAL, K.DEATH, K.OTHER),
    ProductLine.ACCIDENT: (K.MEDICAL, K.TOTAL_DISABILITY, K.DEATH, K.OTHER),
    ProductLine.PROPERTY: (K.DAMAGE, K.TOTAL_LOSS, K.OTHER),
    ProductLine.MOTOR: (K.DAMAGE, K.TOTAL_LOSS, K.OTHER),
}
#: a claim of one of these kinds, settled in full, leaves nothing to insure: the policy ends
TERMINATING_KINDS = frozenset({K.DEATH, K.TOTAL_DISABILITY, K.TOTAL_LOSS})
C = ClaimStatus
#: the statuses a claim may move to from each status (staying where it is is always allowed)
CLAIM_TRANSITIONS: dict[ClaimStatus, tuple[ClaimStatus, ...]] = {
    C.REPORTED: (C.UNDER_REVIEW, C.APPROVED, C.REJECTED, C.PAID),
    C.UNDER_REVIEW: (C.APPROVED, C.REJECTED, C.PAID),
    C.APPROVED: (C.PAID, C.REJECTED),
    C.REJECTED: (C.UNDER_REVIEW, C.CLOSED),
    C.PAID: (C.CLOSED,),
    C.CLOSED: (),
}
#: a claim number given by another system (the insurer's core system's, or one of ours)
GIVEN_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9\-/_.]{0,31}")
#: a policy in one of these statuses gives no cover to claim on
NO_COVER_STATUSES = frozenset({PolicyStatus.QUOTED})


def create_claim(policy: Policy, data: dict, *, number: str | None = None, flush: bool = True,
                 number_known_new: bool = False) -> Claim:
    """Report a claim on ``policy``; its number is allocated (``CL<year><serial><check digit>``), or is ``number``
    when given (a claim brought in from the insurer's core system, with the number it has there).

    Refuses (422) a claim on a quoted policy (no cover yet), a kind of loss the product's line does not
    cover (on ``kind``), a loss date outside the policy's cover period (effective to expiry date, both
    included), a report date before the loss date or in the future, and a negative incurred amount; a given
    ``number`` already taken, not of 1 to 32 letters, digits, ``-``, ``/``, ``_`` or ``.``, or of our own format
    with a wrong check digit (on ``number``).

    For a caller reporting many (an import, in batches): ``flush=False`` leaves the claim to the caller's flush (run
    under ``no_autoflush``); ``number_known_new``: the caller has looked the given number up on file itself (its
    format is still checked, and the database's unique index still refuses a number taken meanwhile).
    """
    data = dict(data)
    data.setdefault("report_date", clock.today())
    data.setdefault("kind", ClaimKind.OTHER)
    if policy.status in NO_COVER_STATUSES:
        raise ValidationError({"_schema": [gettext("Policy %(number)s is %(status)s: it gives no cover yet.",
                                                    number=policy.number,
                                                    status=in_refusal(policy.status, "policy_status"))]})
    errors: dict[str, list[str]] = {}
    if number is not None:
        number = number.strip().upper()
        errors.update(_given_number_errors(number, known_new=number_known_new))
    covered = KINDS_BY_LINE[policy.product.line]
    if data["kind"] not in covered:
        errors["kind"] = [gettext("A %(line)s policy covers: %(kinds)s.",
                                   line=in_refusal(policy.product.line, "product_line"),
                                   kinds=", ".join(in_refusal(kind, "claim_kind") for kind in covered))]
    if not policy.effective_date <= data["loss_date"] <= policy.expiry_date:
        errors["loss_date"] = [gettext("Must lie within the cover period, %(effective)s to %(expiry)s.",
                                       effective=policy.effective_date.isoformat(),
                                       expiry=policy.expiry_date.isoformat())]
    elif data["report_date"] < data["loss_date"]:
        errors["report_date"] = [gettext("Must not be before the loss date.")]
    if data["report_date"] > clock.today():
        errors["report_date"] = [gettext("Must not be in the future.")]
    errors.update(_amount_errors(data.get("incurred_amount", Decimal("0")), Decimal("0")))
    if errors:
        raise ValidationError(errors)
    if number is not None:
        reserve_claim_number(number)
    # its first values given here, not by the insert: a claim left to the caller's flush is read as it will be
    starting = {"status": ClaimStatus.REPORTED, "incurred_amount": Decimal("0"), "paid_amount": Decimal("0")}
    claim = Claim(policy_id=policy.id, number=number or allocate_claim_number(data["report_date"].year),
                  **{**starting, **data})
    db.session.add(claim)
    if flush:
        db.session.flush()
    return claim


def _given_number_errors(number: str, *, known_new: bool = False) -> dict[str, list[str]]:
    """What is wrong with a claim number given by another system (upper case): malformed, or taken."""
    if not GIVEN_NUMBER.fullmatch(number) or (number.startswith(CLAIM_CODE) and NUMBER_RE.fullmatch(number)
                                              and not is_valid_number(number)):
        return {"number": [gettext("%(number)s is not a claim number: 1 to 32 letters, digits, -, /, _ or ., and a "
                                   "number of ours (CL...) with its check digit.", number=number)]}
    if not known_new and db.session.scalar(select(Claim.id).where(Claim.number == number)) is not None:
        return {"number": [gettext("Claim number %(number)s is already taken.", number=number)]}
    return {}


def update_claim(claim: Claim, data: dict, *, flush: bool = True) -> Claim:
    """Change a claim's status, amounts, rejection reason or description; a settlement may end the policy.

    Refuses (422) any change to a closed claim and a status the claim's status may not move to (on ``status``,
    see :data:`CLAIM_TRANSITIONS`), a paid amount above the incurred amount (on ``paid_amount``), a negative
    amount, a claim marked paid with nothing paid (on ``paid_amount``) and a rejection without a reason (on
    ``rejection_reason``). The checks apply to the claim as it will be after the change, so raising the
    incurred amount and the paid amount together is accepted. A claim of a terminating kind settled in
    full moves its policy to ``terminated_by_claim`` (see the module's rule).

    ``flush=False`` (an import, in batches) leaves the change to the caller's flush (run under ``no_autoflush``),
    except for a settlement that ends the policy, written at once with the policy's change. Each change of a claim
    stays its own entry of the audit log: what an earlier call left unwritten (the claim's creation with
    ``create_claim(flush=False)``, a step before this one) is written before this change is made.
    """
    incurred = data.get("incurred_amount", claim.incurred_amount)
    paid = data.get("paid_amount", claim.paid_amount)
    status = data.get("status", claim.status)
    _check_status(claim, ClaimStatus(status), data)
    errors = _amount_errors(incurred, paid)
    if status == ClaimStatus.REJECTED and not (data.get("rejection_reason", claim.rejection_reason) or "").strip():
        errors["rejection_reason"] = [gettext("A rejected claim needs its reason.")]
    if status == ClaimStatus.PAID and paid <= 0 and "paid_amount" not in errors:
        errors["paid_amount"] = [gettext("A paid claim needs the amount paid.")]
    if errors:
        raise ValidationError(errors)
    # load the policy before the change: a lazy load afterwards would flush the claim half-changed
    policy = db.session.get(Policy, claim.policy_id)
    state = inspect(claim)
    if state.pending or state.modified:  # a change left to a caller's flush is logged apart from this one
        db.session.flush()
    apply_changes(claim, data)
    if flush:
        db.session.flush()
    if settles_the_cover(claim):
        _terminate(policy, claim)
    return claim


def next_statuses(claim: Claim) -> list[ClaimStatus]:
    """The claim's status and those it may move to, in declaration order (what the claim page offers)."""
    allowed = {claim.status, *CLAIM_TRANSITIONS[ClaimStatus(claim.status)]}
    return [status for status in ClaimStatus if status in allowed]


def _check_status(claim: Claim, status: ClaimStatus, data: dict) -> None:
    current = ClaimStatus(claim.status)
    if current is C.CLOSED and any(getattr(claim, key) != value for key, value in data.items()):
        raise ValidationError({"status": [gettext("The claim is closed: it can no longer change.")]})
    if status is not current and status not in CLAIM_TRANSITIONS[current]:
        allowed = ", ".join(in_refusal(next_status, "claim_status") for next_status in CLAIM_TRANSITIONS[current])
        raise ValidationError({"status": [gettext("A %(current)s claim cannot become %(status)s. Allowed: %(allowed)s.",
                                                  current=in_refusal(current, "claim_status"),
                                                  status=in_refusal(status, "claim_status"),
                                                  allowed=allowed or gettext("none"))]})


def settles_the_cover(claim: Claim) -> bool:
    """True when ``claim`` is of a terminating kind and paid in full (see the module's rule)."""
    return (claim.kind in TERMINATING_KINDS and claim.status == ClaimStatus.PAID
            and claim.incurred_amount > 0 and claim.paid_amount >= claim.incurred_amount)


def _terminate(policy: Policy, claim: Claim) -> None:
    if PolicyStatus.TERMINATED_BY_CLAIM not in ALLOWED_TRANSITIONS[policy.status]:
        return  # already ended (lapsed, expired, cancelled, terminated by another claim...): nothing to end
    transition(policy, PolicyStatus.TERMINATED_BY_CLAIM, effective_date=max(clock.today(), policy.status_date),
               reason=f"Claim {claim.number} ({claim.kind}) settled in full.")


def _amount_errors(incurred: Decimal, paid: Decimal) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if incurred < 0:
        errors["incurred_amount"] = [gettext("Must not be negative.")]
    if paid < 0:
        errors["paid_amount"] = [gettext("Must not be negative.")]
    elif incurred >= 0 and paid > incurred:
        errors["paid_amount"] = [gettext("Must not exceed the incurred amount (%(incurred)s).", incurred=incurred)]
    return errors
