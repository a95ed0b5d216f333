"""The import of premium payments (``insurecrm import payments FILE``): one row per payment received for a policy
on file, found again by its policy number and payment reference (the natural key).

A payment not on file is loaded by the API's :class:`~policies.schemas.PaymentSchema` and recorded by
:func:`~policies.payments.apply_payment`, exactly as the API records one: it goes to the policy's oldest open
installments, earns commissions and may take the policy out of grace; a policy that has ended takes no payment, an
amount must be above zero and no more than what is still open, and a payment date may not lie in the future. A row
may name the installment it pays (its sequence number): since a payment goes to the oldest open installment first,
that installment must be the oldest open one, or the row is refused rather than booked elsewhere.

A payment on file is left alone when the file gives the same date and amount (and method, when the file gives it);
a row giving another is refused: a payment is corrected by a reversal, not by an import. The user sees only the
policies in their scope: a policy number unknown or outside it is the same error.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from insurecrm.db import db
from insurecrm.imports.kinds import Column, Context, ImportKind, RowError, register
from insurecrm.imports.values import Choices, parse_code, parse_date, parse_decimal
from insurecrm.labels import LABELS
from insurecrm.scope import scoped_select
from policies.models import Installment, Payment, PaymentAllocation, Policy
from policies.payments import apply_payment, open_of, to_money
from policies.schemas import PaymentSchema

#: the service's whole-row refusals (a policy that has ended) are the policy number's
FILE_FIELDS = {"_schema": "policy_number"}
#: how banks and core systems commonly write a payment's method
METHOD_ALIASES = {"代扣": "bank_debit", "转账": "bank_transfer", "刷卡": "card", "微信": "mobile", "支付宝": "mobile"}
NO_POLICY = _l("No policy with this number that you may see.")


@cache
def _schema() -> PaymentSchema:
    """The API's schema, made once: loading keeps no state in it (and words a refusal as it is raised)."""
    return PaymentSchema()


def parse_sequence(value) -> int:
    """An installment's sequence number: a whole number from 1 (``3``, ``3.0`` from a number cell, ``第3期``)."""
    text = parse_code(value).removeprefix("第").removesuffix("期")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(str(_l("Write the installment's number: 1 for the first.")))
    return int(text)


class PaymentsImport(ImportKind):
    name = "payments"
    label = _l("Payments")
    key_fields = ("policy_number", "reference")
    tables = ("payments", "payment_allocations", "installments", "commissions", "policies", "policy_status_changes",
              "audit_log")

    def build_columns(self) -> tuple[Column, ...]:
        return (
            Column("policy_number", _l("Policy number"), parse_code, required=True, example="HE2026000012347",
                   aliases=("保单号码",)),
            Column("reference", _l("Payment reference"), required=True, example="BT20260105001",
                   note=_l("Unique per policy: a payment is found again by it."),
                   aliases=("流水号", "交易流水号", "缴费流水号码")),
            Column("paid_on", _l("Paid on"), parse_date, required=True, example="2026-01-05",
                   aliases=("缴费日", "实收日期", "支付日期")),
            Column("amount", _l("Amount"), parse_decimal, required=True, example="1200.00",
                   aliases=("缴费金额", "实收金额")),
            Column("method", _l("Method"), Choices(LABELS["payment_method"], aliases=METHOD_ALIASES),
                note=_l("Bank transfer when left empty."), aliases=("缴费方式",)),
            Column("installment_sequence", _l("Installment number"), parse_sequence,
                   note=_l("Optional: the installment paid, which must be the oldest open one."),
                   aliases=("期次", "缴费期次", "期数")),
        )

    def prefetch(self, batch: list[dict[str, Any]], ctx: Context) -> None:
        """What the batch's rows look up, read at once: its policies the user may see (by number, with their
        products), all their installments (locked, as the service locks them), and their payments on file named by
        the batch's references."""
        numbers = sorted({values["policy_number"].upper() for values in batch if values.get("policy_number")})
        policies = {policy.number: policy for policy in db.session.scalars(
            scoped_select(Policy, ctx.user).where(Policy.number.in_(numbers)).options(joinedload(Policy.product)))}
        ids = [policy.id for policy in policies.values()]
        installments: dict[int, list[Installment]] = {policy_id: [] for policy_id in ids}
        references = sorted({values["reference"].upper() for values in batch if values.get("reference")})
        payments: dict[tuple[int, str], Payment] = {}
        if ids:
            for installment in db.session.scalars(select(Installment).where(Installment.policy_id.in_(ids))
                                                  .order_by(Installment.id).with_for_update()):
                installments[installment.policy_id].append(installment)
            if references:
                payments = {(payment.policy_id, payment.reference.upper()): payment
                            for payment in db.session.scalars(select(Payment).where(
                                Payment.policy_id.in_(ids), func.upper(Payment.reference).in_(references)))}
        ctx.state.update(policies=policies, installments=installments, payments=payments)

    def apply(self, row: int, values: dict[str, Any], ctx: Context) -> str:
        policy = ctx.state["policies"].get(values["policy_number"].upper())
        if policy is None:
            raise RowError({"policy_number": [str(NO_POLICY)]})
        payload = {key: values[key] for key in ("paid_on", "amount", "method", "reference") if key in values}
        installments = ctx.state["installments"][policy.id]
        try:
            data = _schema().load(payload)
            on_file = ctx.state["payments"].get((policy.id, data["reference"].upper()))
            if on_file is not None:
                return self._unchanged(on_file, data, values, policy)
            sequence = values.get("installment_sequence")
            if sequence is not None:
                self._check_oldest_open(policy, open_of(installments), sequence)
            # written with the batch: the next rows of this policy see this one's allocations in the session
            with db.session.no_autoflush:
                apply_payment(policy, data["amount"], data["paid_on"], data["method"], data["reference"],
                              installments=installments, flush=False)
        except ValidationError as error:
            raise RowError.from_validation(error, FILE_FIELDS) from None
        return "created"

    @staticmethod
    def _unchanged(payment: Payment, data: dict[str, Any], values: dict[str, Any], policy: Policy) -> str:
        """A payment on file agrees with its row, or the row is refused: it is never changed by an import."""
        given = {"paid_on": data["paid_on"], "amount": to_money(data["amount"])}
        if "method" in values:
            given["method"] = data["method"]
        differing = [key for key, value in given.items() if getattr(payment, key) != value]
        if differing:
            message = str(_l("Payment %(reference)s of policy %(number)s is on file with another value: a payment is "
                             "corrected by a reversal, not by an import.", reference=payment.reference,
                             number=policy.number))
            raise RowError({key: [message] for key in differing})
        sequence = values.get("installment_sequence")
        if sequence is not None and sequence not in db.session.scalars(
                select(Installment.sequence).join(PaymentAllocation, PaymentAllocation.installment_id == Installment.id)
                .where(PaymentAllocation.payment_id == payment.id)).all():
            raise RowError({"installment_sequence": [str(_l(
                "Payment %(reference)s of policy %(number)s is on file applied to other installments.",
                reference=payment.reference, number=policy.number))]})
        return "unchanged"

    @staticmethod
    def _check_oldest_open(policy: Policy, installments: list[Installment], sequence: int) -> None:
        """A payment goes to the oldest open installment first: the row's installment (of the policy's open
        ``installments``, oldest first) must be that one."""
        if not installments:
            raise RowError({"installment_sequence": [str(_l("Policy %(number)s has no installment left to pay.",
                                                            number=policy.number))]})
        if installments[0].sequence != sequence:
            raise RowError({"installment_sequence": [str(_l(
                "The oldest open installment of policy %(number)s is number %(oldest)s, not %(sequence)s: a payment "
                "goes to the oldest open installment first.", number=policy.number,
                oldest=installments[0].sequence, sequence=sequence))]})


register(PaymentsImport())
