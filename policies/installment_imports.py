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

The engine hands the rows over 500 at a time (:meth:`InstallmentsImport.prefetch`): the batch's policies the user may
see and all their installments are read at once, and the service takes a policy's installments as the session holds
them and leaves its change for the batch's flush (``schedule_installment(..., installments=..., flush=False)``), so
that a row sees what the rows above did to the same policy — the installment one added is the last for the next, a
due date one moved bounds the next's. Each change's audit entry is written as the row is applied, as before.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

from insurecrm.db import db
from insurecrm.imports.kinds import Column, Context, ImportKind, RowError, register
from insurecrm.imports.values import Choices, parse_code, parse_date, parse_decimal
from insurecrm.scope import scoped_select
from policies.models import Installment, Policy
from policies.payment_imports import NO_POLICY, parse_sequence
from policies.schedule import schedule_installment
from policies.schemas import InstallmentChangeSchema

#: the service's whole-row refusals (a policy that has ended) are the policy number's
FILE_FIELDS = {"_schema": "policy_number"}
#: what a row may make of an installment (a paid one is paid by payments)
STATUSES = {"due": _l("Due"), "waived": _l("Waived")}
STATUS_ALIASES = {"待缴": "due", "应缴": "due", "豁免": "waived", "免缴": "waived"}


@cache
def _schema() -> InstallmentChangeSchema:
    """The API's schema, made once: loading keeps no state in it (and words a refusal as it is raised)."""
    return InstallmentChangeSchema()


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

    def prefetch(self, batch: list[dict[str, Any]], ctx: Context) -> None:
        """What the batch's rows look up, read at once: the policies its rows name that the user may see (by
        number), and all their installments."""
        numbers = sorted({values["policy_number"].upper() for values in batch if values.get("policy_number")})
        policies = {policy.number: policy for policy in db.session.scalars(
            scoped_select(Policy, ctx.user).where(Policy.number.in_(numbers)))} if numbers else {}
        installments: dict[int, list[Installment]] = {policy.id: [] for policy in policies.values()}
        if installments:
            for installment in db.session.scalars(select(Installment)
                                                  .where(Installment.policy_id.in_(sorted(installments)))):
                installments[installment.policy_id].append(installment)
        ctx.state.update(policies=policies, installments=installments)

    def apply(self, row: int, values: dict[str, Any], ctx: Context) -> str:
        policy = ctx.state["policies"].get(values["policy_number"].upper())
        if policy is None:
            raise RowError({"policy_number": [str(NO_POLICY)]})
        payload = {key: values[key] for key in ("due_date", "amount", "status") if key in values}
        try:
            data = _schema().load(payload)
            # written with the batch: the next rows of this policy see this one's installment in the session
            with db.session.no_autoflush:
                return schedule_installment(policy, values["sequence"], data,
                                            installments=ctx.state["installments"][policy.id], flush=False)
        except ValidationError as error:
            raise RowError.from_validation(error, FILE_FIELDS) from None

    def finish(self, ctx: Context) -> list[tuple[int, RowError]]:
        """The last batch written too: a dry run writes every row, as the import does."""
        db.session.flush()
        return []


register(InstallmentsImport())
