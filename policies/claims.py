"""Claims: reported against a policy, reviewed, approved or rejected, and paid."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import ValidationError

from insurecrm import clock
from insurecrm.db import db
from insurecrm.services import apply_changes
from policies.models import Claim, ClaimStatus, Policy
from policies.numbers import allocate_claim_number


def create_claim(policy: Policy, data: dict) -> Claim:
    """Report a claim on ``policy``; its number is allocated (``CL<year><serial><check digit>``).

    Refuses (422) a loss date outside the policy's cover period (effective to expiry date, both
    included), a report date before the loss date or in the future, and a negative incurred amount.
    """
    data = dict(data)
    data.setdefault("report_date", clock.today())
    errors: dict[str, list[str]] = {}
    if not policy.effective_date <= data["loss_date"] <= policy.expiry_date:
        errors["loss_date"] = [f"Must lie within the cover period, {policy.effective_date.isoformat()} to "
                               f"{policy.expiry_date.isoformat()}."]
    elif data["report_date"] < data["loss_date"]:
        errors["report_date"] = ["Must not be before the loss date."]
    if data["report_date"] > clock.today():
        errors["report_date"] = ["Must not be in the future."]
    errors.update(_amount_errors(data.get("incurred_amount", Decimal("0")), Decimal("0")))
    if errors:
        raise ValidationError(errors)
    claim = Claim(policy_id=policy.id, number=allocate_claim_number(data["report_date"].year), **data)
    db.session.add(claim)
    db.session.flush()
    return claim


def update_claim(claim: Claim, data: dict) -> Claim:
    """Change a claim's status, amounts, rejection reason or description.

    Refuses (422) a paid amount above the incurred amount (on ``paid_amount``), a negative amount, and
    a rejection without a reason (on ``rejection_reason``). The checks apply to the claim as it will
    be after the change, so raising the incurred amount and the paid amount together is accepted.
    """
    incurred = data.get("incurred_amount", claim.incurred_amount)
    paid = data.get("paid_amount", claim.paid_amount)
    status = data.get("status", claim.status)
    errors = _amount_errors(incurred, paid)
    if status == ClaimStatus.REJECTED and not (data.get("rejection_reason", claim.rejection_reason) or "").strip():
        errors["rejection_reason"] = ["A rejected claim needs its reason."]
    if errors:
        raise ValidationError(errors)
    apply_changes(claim, data)
    db.session.flush()
    return claim


def _amount_errors(incurred: Decimal, paid: Decimal) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if incurred < 0:
        errors["incurred_amount"] = ["Must not be negative."]
    if paid < 0:
        errors["paid_amount"] = ["Must not be negative."]
    elif incurred >= 0 and paid > incurred:
        errors["paid_amount"] = [f"Must not exceed the incurred amount ({incurred})."]
    return errors
