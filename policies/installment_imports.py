"""The import of premium installments (``insurecrm import installments FILE``): a policy's schedule as the core
insurance system keeps it, one row per installment, found again by its policy number and sequence number (the
natural key).

A policy's schedule is built from the policy when it is written (:mod:`policies.schedule`: the modal premium every
period of the frequency); a core system may keep another (a first installment of another amount, a due date moved,
a waived premium). Each row is loaded by :class:`~policies.schemas.InstallmentChangeSchema` and written by
:func:`~policies.schedule.schedule_installment`: an installment already as the row says is left alone; another is
changed, audited on its policy; a missing one is added after the last. Refused: a due date outside the policy's term
or out of order, a change to an installment that money was paid to or of a policy that has ended, and a policy the
user may not see (the same error as an unknown number).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from insurecrm.imports.kinds import Column, Context, ImportKind, RowError, register
from insurecrm.imports.values import Choices, parse_code, parse_date, parse_decimal
from policies.payment_imports import NO_POLICY, parse_sequence, visible_policy
from policies.schedule import schedule_installment
from policies.schemas import InstallmentChangeSchema

#: the service's whole-row refusals (a policy that has ended) are the policy number's
FILE_FIELDS = {"_schema": "policy_number"}
#: what a row may make of an installment (a paid one is paid by payments)
STATUSES = {"due": _l("Due"), "waived": _l("Waived")}
STATUS_ALIASES = {"待缴": "due", "应缴": "due", "豁免": "waived", "免缴": "waived"}


class InstallmentsImport(ImportKind):
    name = "installments"
    label = _l("Installments")
    key_fields = ("policy_number", "sequence")
    tables = ("installments", "audit_log")

    def build_columns(self) -> tuple[Column, ...]:
        return (
            Column("policy_number", _l("Policy number"), parse_code, required=True, example="HE2026000012347",
                   aliases=("保单号码",)),
            Column("sequence", _l("Installment number"), parse_sequence, required=True, example="1",
                   aliases=("期次", "缴费期次", "期数")),
            Column("due_date", _l("Due date"), parse_date, required=True, example="2026-01-01",
                   aliases=("应缴日", "应缴日期", "缴费日期")),
            Column("amount", _l("Amount"), parse_decimal, required=True, example="1200.00",
                   aliases=("应缴金额", "应缴保费", "期缴保费")),
            Column("status", _l("Status"), Choices(STATUSES, aliases=STATUS_ALIASES),
                   note=_l("Due or waived; left as it is when empty."), aliases=("状态",)),
        )

    def apply(self, row: int, values: dict[str, Any], ctx: Context) -> str:
        policy = visible_policy(values["policy_number"], ctx)
        if policy is None:
            raise RowError({"policy_number": [str(NO_POLICY)]})
        payload = {key: values[key] for key in ("due_date", "amount", "status") if key in values}
        try:
            return schedule_installment(policy, values["sequence"], InstallmentChangeSchema().load(payload))
        except ValidationError as error:
            raise RowError.from_validation(error, FILE_FIELDS) from None


register(InstallmentsImport())
