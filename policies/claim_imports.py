"""The import of claims (``insurecrm import claims FILE``): one row per claim, found again by its claim number (the
natural key) — the number the insurer's core system gave it, or one of ours (``CL...``).

A claim not on file is loaded by the API's :class:`~policies.schemas.ClaimSchema` and reported by
:func:`~policies.claims.create_claim` with the file's number, under the API's rules (a policy giving cover, a kind
of loss its product line covers, a loss date within the cover period, a report date neither before the loss nor in
the future). A row may give the status the claim has reached: the claim is then brought there by
:func:`~policies.claims.update_claim`, one status after the other along
:data:`~policies.claims.CLAIM_TRANSITIONS` (a rejected claim needs its reason, a paid claim its paid amount; a
claim paid in full may end its policy, as in the API).

A claim on file is left alone when the file agrees with it; a row whose status lies further along advances it, and
one whose amounts, description or rejection reason differ changes them, as a PATCH of the API would; a row that
would move a claim back (an approved claim reported again), or change its policy, loss date, report date or kind,
is refused. The user sees only the policies in their scope: a policy number unknown or outside it is the same
error.

The engine hands the rows over 500 at a time (:meth:`ClaimsImport.prefetch`): the batch's claims on file (with
whether the user may see their policies) and its policies (with their products) are read at once, and the services
leave their rows for the batch's flush (``create_claim(..., flush=False, number_known_new=True)``,
``update_claim(..., flush=False)``). Their rules are unchanged, and so is the audit log: a claim that its row creates
and moves is written before each step, so that its creation and every step stay entries of their own. The rows of a
batch share its policies as the session holds them: a claim settled in full ends its policy for the rows below too.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from insurecrm.db import db
from insurecrm.imports.kinds import Column, Context, ImportKind, RowError, register
from insurecrm.imports.values import Choices, parse_code, parse_date, parse_decimal
from insurecrm.labels import LABELS
from insurecrm.scope import scoped_select, visible
from policies.claims import CLAIM_TRANSITIONS, create_claim, update_claim
from policies.models import Claim, ClaimStatus, Policy
from policies.payment_imports import NO_POLICY
from policies.schemas import ClaimSchema, ClaimUpdateSchema

C = ClaimStatus
#: how far along its way a claim is: a file may move a claim only to a status further along
PROGRESS = {C.REPORTED: 0, C.UNDER_REVIEW: 1, C.APPROVED: 2, C.REJECTED: 3, C.PAID: 3, C.CLOSED: 4}
#: what a claim on file keeps whatever a file says (the API cannot change it either)
FIXED = ("loss_date", "report_date", "kind")
#: what a row may change of a claim on file, as a PATCH may
CHANGEABLE = ("incurred_amount", "paid_amount", "rejection_reason", "description")
FILE_FIELDS = {"_schema": "policy_number"}
#: how core systems commonly write a claim's status
STATUS_ALIASES = {"审核": "under_review", "拒赔": "rejected", "已拒赔": "rejected", "已赔付": "paid", "赔付": "paid",
                  "结案": "closed", "已结案": "closed"}


@cache
def _schemas() -> tuple[ClaimSchema, ClaimUpdateSchema]:
    """The API's schemas, made once: loading keeps no state in them (and words a refusal as it is raised)."""
    return ClaimSchema(), ClaimUpdateSchema()


class ClaimsImport(ImportKind):
    name = "claims"
    label = _l("Claims")
    key_fields = ("number",)
    tables = ("claims", "policies", "policy_status_changes", "number_sequences", "audit_log")

    def build_columns(self) -> tuple[Column, ...]:
        return (
            Column("number", _l("Claim number"), parse_code, required=True, example="CL2026000000057",
                   note=_l("The core system's number, or one of ours."),
                   aliases=("理赔号", "理赔编号", "赔案号", "赔案编号", "报案号")),
            Column("policy_number", _l("Policy number"), parse_code, required=True, example="HE2026000012347",
                   aliases=("保单号码",)),
            Column("loss_date", _l("Loss date"), parse_date, required=True, example="2026-03-02",
                   aliases=("出险时间",)),
            Column("report_date", _l("Report date"), parse_date, note=_l("Today when left empty."),
                   aliases=("报案时间",)),
            Column("kind", _l("Kind of loss"), Choices(LABELS["claim_kind"], aliases={
                "医疗": "medical", "全残": "total_disability", "残疾": "total_disability"}),
                example="medical", aliases=("出险类型", "理赔类型")),
            Column("incurred_amount", _l("Incurred amount"), parse_decimal, example="3500.00",
                   aliases=("估损金额", "报案金额")),
            Column("description", _l("Description"), aliases=("出险经过", "事故经过")),
            Column("status", _l("Status"), Choices(LABELS["claim_status"], aliases=STATUS_ALIASES),
                   note=_l("Reported when left empty; a claim on file only moves forward."),
                   aliases=("理赔状态", "案件状态")),
            Column("rejection_reason", _l("Rejection reason"), note=_l("Of a rejected claim.")),
            Column("paid_amount", _l("Paid amount"), parse_decimal, note=_l("Of a paid claim."),
                   aliases=("赔付金额", "实赔金额")),
        )

    def key(self, values: dict[str, Any]) -> tuple | None:
        return (values["number"].strip().upper(),) if values.get("number") else None

    def prefetch(self, batch: list[dict[str, Any]], ctx: Context) -> None:
        """What the batch's rows look up, read at once: its claims on file (by number: the others are new), with
        whether the user may see their policies, and the policies its rows name that the user may see, with their
        products."""
        numbers = sorted({values["number"].strip().upper() for values in batch if values.get("number")})
        on_file = db.session.execute(
            select(Claim, visible(Policy, ctx.user).label("visible")).join(Policy, Policy.id == Claim.policy_id)
            .where(Claim.number.in_(numbers))) if numbers else ()
        ctx.state["on_file"] = {claim.number: (claim, bool(may_see)) for claim, may_see in on_file}
        policies = sorted({values["policy_number"].upper() for values in batch if values.get("policy_number")})
        ctx.state["policies"] = {policy.number: policy for policy in db.session.scalars(
            scoped_select(Policy, ctx.user).where(Policy.number.in_(policies))
            .options(joinedload(Policy.product)))} if policies else {}

    def apply(self, row: int, values: dict[str, Any], ctx: Context) -> str:
        number = values["number"].strip().upper()
        on_file, may_see = ctx.state["on_file"].get(number, (None, True))
        if not may_see:
            raise RowError({"number": [str(_l("This claim number is on file outside your organisation."))]})
        # the policy as this session holds it: a claim of a row above may have ended it
        policy = ctx.state["policies"].get(values["policy_number"].upper())
        if policy is None:
            raise RowError({"policy_number": [str(NO_POLICY)]})
        claim_schema, update_schema = _schemas()
        try:
            data = claim_schema.load({key: values[key] for key in (*FIXED, "incurred_amount", "description")
                                      if key in values})
            update = update_schema.load({key: values[key] for key in ("status", *CHANGEABLE) if key in values})
            # written with the batch, except what the audit log must see apart (a claim, then each of its steps)
            with db.session.no_autoflush:
                if on_file is None:
                    claim = create_claim(policy, data, number=number, flush=False, number_known_new=True)
                    self._advance(claim, update)
                    return "created"
                self._check_fixed(on_file, policy, data, values)
                return "updated" if self._advance(on_file, update) else "unchanged"
        except ValidationError as error:
            raise RowError.from_validation(error, FILE_FIELDS) from None

    def finish(self, ctx: Context) -> list[tuple[int, RowError]]:
        """The last batch written too: a dry run writes every row, as the import does."""
        db.session.flush()
        return []

    @staticmethod
    def _check_fixed(claim: Claim, policy: Policy, data: dict[str, Any], values: dict[str, Any]) -> None:
        """Refuse a row giving another policy, loss date, report date or kind than the claim on file has."""
        differing = [key for key in FIXED if key in values and getattr(claim, key) != data[key]]
        if claim.policy_id != policy.id:
            differing.append("policy_number")
        if differing:
            message = str(_l("Claim %(number)s is on file with another value: an import cannot change it.",
                             number=claim.number))
            raise RowError({key: [message] for key in differing})

    def _advance(self, claim: Claim, update: dict[str, Any]) -> bool:
        """Bring ``claim`` to the row's status, one allowed status after the other, changing with the first step
        what the row changes; ``False`` when the claim already reads as the row says."""
        changes = {key: value for key, value in update.items()
                   if key != "status" and getattr(claim, key) != value}
        target = ClaimStatus(update.get("status", claim.status))
        steps = self._path(claim, target, {**{key: getattr(claim, key) for key in CHANGEABLE}, **changes})
        if not steps and not changes:
            return False
        if not steps:
            update_claim(claim, changes, flush=False)
        for step in steps:
            update_claim(claim, {**changes, "status": step}, flush=False)
            changes = {}
        return True

    @staticmethod
    def _path(claim: Claim, target: ClaimStatus, after: dict[str, Any]) -> list[ClaimStatus]:
        """The statuses, each allowed after the one before, that take ``claim`` to ``target`` without going back;
        to closed through paid when the claim has a paid amount, else through rejected when it has a reason."""
        current = ClaimStatus(claim.status)
        if target is current:
            return []
        if PROGRESS[target] < PROGRESS[current]:
            raise RowError({"status": [str(_l(
                "Claim %(number)s is %(current)s on file: a file cannot move it back to %(status)s.",
                number=claim.number, current=LABELS["claim_status"][current],
                status=LABELS["claim_status"][target]))]})
        paths = [[current]]
        while paths and not any(path[-1] is target for path in paths):
            paths = [[*path, following] for path in paths for following in CLAIM_TRANSITIONS[path[-1]]
                     if PROGRESS[following] > PROGRESS[path[-1]]]
        reaching = [path[1:] for path in paths if path[-1] is target]
        if not reaching:
            raise RowError({"status": [str(_l("A %(current)s claim cannot become %(status)s.",
                                              current=LABELS["claim_status"][current],
                                              status=LABELS["claim_status"][target]))]})
        settled = (after.get("paid_amount") or Decimal("0")) > 0
        reason = bool((after.get("rejection_reason") or "").strip())
        for path in reaching:
            if (C.PAID not in path or settled) and (C.REJECTED not in path or reason):
                return path
        if target is C.CLOSED:
            raise RowError({"status": [str(_l("A claim is closed once paid or rejected: give its paid amount or "
                                              "its rejection reason."))]})
        return reaching[0]  # the service says what is missing


register(ClaimsImport())
