"""The import of policies with their insured persons and beneficiaries (``insurecrm import policies FILE``).

One row per policy, found by its number (the natural key). A number not on file creates the policy through
:func:`~policies.services.create_policy` — the API's rules: an active product that offers the frequency, a
policyholder the user may see, the bank fields of a bancassurance policy, the shares of the beneficiaries adding up
to 100 per priority — with its premium schedule, as the API does. A policy on file is left as it is when the file
agrees with it; the file may change what the API lets a PATCH change (servicing agent, sum insured, the insured
persons and beneficiaries); a row that changes the terms (product, dates, premium, frequency) is refused: that is
an endorsement, not an import.

Records are named as people know them: the policyholder by ID number, the product, agents, bank partners, branches
and referrers by their codes, a renewed policy by its number. Insured persons and beneficiaries are lists in one
cell, separated by ``;``: an insured person is an ID number of a policyholder (on file or earlier in a file already
imported) or a name, optionally with the relation to the policyholder (``李娜:spouse``); a beneficiary is
``who:relation:share[:priority]`` (``110105199003071239:spouse:60; 李小明:child:40``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from agents.models import Agent, BankBranch, BankPartner, Referrer
from insurecrm.db import db
from insurecrm.imports.kinds import Column, Context, ImportKind, RowError, choices, register
from insurecrm.imports.values import parse_code, parse_date, parse_decimal, parse_list
from insurecrm.scope import CheckedRows, scoped_select, visible
from policies.models import Policy, Product
from policies.schemas import PolicyDetailSchema
from policies.services import create_policy, update_policy
from policyholders.identity import normalise_id_number
from policyholders.models import Policyholder

CODES = {"product_code": ("product_id", Product), "servicing_agent_code": ("servicing_agent_id", Agent),
         "bank_partner_code": ("bank_partner_id", BankPartner), "bank_branch_code": ("bank_branch_id", BankBranch),
         "referrer_code": ("referrer_id", Referrer)}
FILE_FIELDS = {api: code for code, (api, _model) in CODES.items()} | {
    "policyholder_id": "policyholder_id_number", "renews_policy_id": "renews_policy_number",
    "insured_persons": "insured", "beneficiaries": "beneficiaries"}
#: what a row may not change of a policy on file
TERMS = ("product_id", "policyholder_id", "effective_date", "expiry_date", "premium", "frequency", "channel")
PART = re.compile(r"\s*[:：]\s*")
#: an insured person or beneficiary written as an ID number (otherwise: a name)
_LOOKS_LIKE_ID = re.compile(r"[0-9A-Za-z\-]{6,32}")


@cache
def _schema() -> PolicyDetailSchema:
    """The API's schema, made once: loading keeps no state in it."""
    return PolicyDetailSchema()



def parse_people(value) -> list[list[str]]:
    """``"a:b; c"`` → ``[["a", "b"], ["c"]]``."""
    return [PART.split(item) for item in parse_list(value)]


class PoliciesImport(ImportKind):
    name = "policies"
    label = _l("Policies")
    key_fields = ("number",)
    tables = ("policies", "installments", "insured_persons", "beneficiaries", "policy_status_changes", "audit_log")

    def build_columns(self) -> tuple[Column, ...]:
        return (
            Column("number", _l("Policy number"), parse_code, required=True, example="HE2026000012347",
                   aliases=("保单号码",)),
            Column("policyholder_id_number", _l("Policyholder's ID number"), parse_code, required=True,
                   example="110105199003071239", aliases=("投保人身份证号", "投保人证件号")),
            Column("product_code", _l("Product code"), required=True, example="HE-01"),
            Column("effective_date", _l("Effective date"), parse_date, required=True, example="2026-01-01"),
            Column("expiry_date", _l("Expiry date"), parse_date, note=_l("The product's term when left empty.")),
            Column("issue_date", _l("Issue date"), parse_date),
            Column("sum_insured", _l("Sum insured"), parse_decimal, required=True, example="500000"),
            Column("premium", _l("Premium"), parse_decimal, required=True, example="1200.00",
                   note=_l("Per installment.")),
            Column("frequency", _l("Frequency"), choices("frequency", 年缴="annual", 月缴="monthly",
                                                          季缴="quarterly", 半年缴="semiannual", 趸缴="single"),
                   required=True, example="annual"),
            Column("channel", _l("Channel"), choices("sales_channel")),
            Column("servicing_agent_code", _l("Servicing agent code")),
            Column("bank_partner_code", _l("Bank partner code")),
            Column("bank_branch_code", _l("Bank branch code")),
            Column("referrer_code", _l("Referrer code")),
            Column("renews_policy_number", _l("Renews policy number")),
            Column("status", _l("Status"), choices("policy_status"),
                   note=_l("In force or quoted; the daily jobs move it on.")),
            Column("insured", _l("Insured persons"), parse_people,
                   note=_l("ID number or name, and the relation: 李娜:spouse; separated by ;")),
            Column("beneficiaries", _l("Beneficiaries"), parse_people,
                   note=_l("who:relation:share[:priority], separated by ;")),
        )

    def key(self, values: dict[str, Any]) -> tuple | None:
        return (values["number"].upper(),) if values.get("number") else None

    def prepare(self, ctx: Context) -> None:
        ctx.state["codes"] = {
            column: {code.upper(): record_id for record_id, code in db.session.execute(select(model.id, model.code))}
            for column, (_api, model) in CODES.items()}

    def prefetch(self, batch: list[dict[str, Any]], ctx: Context) -> None:
        """What the batch's rows look up, read at once: its policies on file (by number: the others are new), with
        their people and whether the user may see them; the policyholders its rows name by ID number and the agents
        the service checks, those the user may see."""
        numbers = {values["number"].upper() for values in batch if values.get("number")}
        on_file = db.session.execute(
            select(Policy, visible(Policy, ctx.user).label("visible")).where(Policy.number.in_(sorted(numbers)))
            .options(selectinload(Policy.insured_persons), selectinload(Policy.beneficiaries))) if numbers else ()
        ctx.state["on_file"] = {policy.number: (policy, bool(may_see)) for policy, may_see in on_file}
        people = [values["policyholder_id_number"] for values in batch if values.get("policyholder_id_number")]
        people += [parts[0] for values in batch for key in ("insured", "beneficiaries")
                   for parts in values.get(key) or () if parts and _LOOKS_LIKE_ID.fullmatch(parts[0])]
        wanted = {normalise_id_number(who) for who in people}
        holders: dict[str, Policyholder] = {}
        if wanted:
            for holder in db.session.scalars(scoped_select(Policyholder, ctx.user)
                                             .where(Policyholder.id_number.in_(sorted(wanted)))
                                             .order_by(Policyholder.id)):
                holders.setdefault(holder.id_number, holder)
        ctx.state["holders"] = {number: holder.id for number, holder in holders.items()}
        codes = ctx.state["codes"]["servicing_agent_code"]
        agents = {codes.get(values["servicing_agent_code"].upper()) for values in batch
                  if values.get("servicing_agent_code")} | {holder.owner_agent_id for holder in holders.values()}
        agents.add(ctx.user.agent_id)  # (an agent's policies are serviced by the agent)
        agents.discard(None)
        # the rows the service checks, read through the user's scope: it finds them without asking again, each row
        found = db.session.scalars(scoped_select(Agent, ctx.user).where(Agent.id.in_(agents))).all() if agents else []
        ctx.state["checked"] = CheckedRows(ctx.user, [*holders.values(), *found])

    def apply(self, row: int, values: dict[str, Any], ctx: Context) -> str:
        payload = dict(values)
        errors: dict[str | None, list[str]] = {}
        for column, (api, _model) in CODES.items():
            if column in payload:
                code = payload.pop(column)
                payload[api] = ctx.state["codes"][column].get(code.upper())
                if payload[api] is None:
                    errors[column] = [str(_l("No record with the code %(code)s.", code=code))]
        holder_id = self._holder_id(payload.pop("policyholder_id_number"), ctx)
        if holder_id is None:
            errors["policyholder_id_number"] = [str(_l("No policyholder with this ID number that you may see."))]
        payload["policyholder_id"] = holder_id
        if "renews_policy_number" in payload:
            number = payload.pop("renews_policy_number")
            # (the query writes first the batch's rows waiting in the session: a policy of a row above is found)
            payload["renews_policy_id"] = db.session.scalar(select(Policy.id).where(Policy.number == number.upper()))
            if payload["renews_policy_id"] is None:
                errors["renews_policy_number"] = [str(_l("No policy %(number)s on file.", number=number))]
        for key, build in (("insured", self._insured), ("beneficiaries", self._beneficiaries)):
            if key in payload:
                try:
                    payload["insured_persons" if key == "insured" else key] = build(payload.pop(key), ctx)
                except ValueError as error:
                    errors[key] = [str(error)]
        if errors:
            raise RowError(errors)
        payload["number"] = payload["number"].upper()
        try:
            data = _schema().load(payload)
            on_file, may_see = ctx.state["on_file"].get(data["number"], (None, False))
            if on_file is None:
                # written with the batch, 500 at a time: the rows' checks read the database, not the session
                with db.session.no_autoflush, ctx.state["checked"]:
                    create_policy(data, user=ctx.user, flush=False, number_known_new=True)
                return "created"
            return self._update(on_file, may_see, data, ctx)
        except ValidationError as error:
            raise RowError.from_validation(error, FILE_FIELDS) from None

    @staticmethod
    def _holder_id(number: str, ctx: Context) -> int | None:
        """The first policyholder the user may see with the ID ``number`` (read with the batch)."""
        return ctx.state["holders"].get(normalise_id_number(number))

    def _person(self, who: str, ctx: Context) -> dict[str, Any]:
        holder_id = self._holder_id(who, ctx) if _LOOKS_LIKE_ID.fullmatch(who) else None
        return {"policyholder_id": holder_id} if holder_id is not None else {"name": who}

    def _insured(self, items: list[list[str]], ctx: Context) -> list[dict[str, Any]]:
        people = []
        for parts in items:
            if len(parts) > 2:
                raise ValueError(str(_l("Write each insured person as who or who:relation.")))
            people.append({**self._person(parts[0], ctx), **({"relation_to_holder": parts[1]} if len(parts) > 1
                                                             else {})})
        return people

    def _beneficiaries(self, items: list[list[str]], ctx: Context) -> list[dict[str, Any]]:
        people = []
        for parts in items:
            if len(parts) not in (3, 4):
                raise ValueError(str(_l("Write each beneficiary as who:relation:share or who:relation:share:"
                                        "priority.")))
            try:
                share = Decimal(parts[2].rstrip("%％"))
                priority = int(parts[3]) if len(parts) == 4 else 1
            except (InvalidOperation, ValueError):
                raise ValueError(str(_l("A beneficiary's share and priority are numbers: 李小明:child:40:1."))) \
                    from None
            people.append({**self._person(parts[0], ctx), "relation_to_insured": parts[1],
                           "share_percent": str(share), "priority": priority})
        return people

    @staticmethod
    def _update(policy: Policy, may_see: bool, data: dict[str, Any], ctx: Context) -> str:
        if not may_see:
            raise RowError({"number": [str(_l("This policy number is on file outside your organisation."))]})
        changed_terms = [key for key in TERMS if key in data and data[key] is not None
                         and getattr(policy, key) != data[key]]
        if changed_terms:
            raise RowError({key: [str(_l("Policy %(number)s is on file with another value: a change of terms is an "
                                         "endorsement, not an import.", number=policy.number))]
                            for key in changed_terms})
        changes: dict[str, Any] = {}
        for key in ("servicing_agent_id", "sum_insured"):
            if data.get(key) is not None and getattr(policy, key) != data[key]:
                changes[key] = data[key]
        for key, fields in (("insured_persons", ("policyholder_id", "name", "relation_to_holder")),
                            ("beneficiaries", ("policyholder_id", "name", "relation_to_insured", "share_percent",
                                               "priority"))):
            if key in data and _people_differ(getattr(policy, key), data[key], fields):
                changes[key] = data[key]
        if not changes:
            return "unchanged"
        update_policy(policy, {**changes, "version": policy.version}, user=ctx.user)
        return "updated"


def _people_differ(stored: list, given: list[dict[str, Any]], fields: tuple[str, ...]) -> bool:
    def comparable(person: dict[str, Any]) -> tuple:
        if person.get("policyholder_id") is not None:  # the name is taken from the record
            person = {**person, "name": None}
        return tuple(_comparable(person.get(name)) for name in fields)

    stored_rows = sorted(comparable({name: getattr(person, name) for name in fields}) for person in stored)
    given_rows = sorted(comparable({**{"relation_to_holder": "self", "priority": 1}, **person}) for person in given)
    return stored_rows != given_rows


def _comparable(value) -> str:
    if value is None:
        return ""
    return str(value.normalize()) if isinstance(value, Decimal) else str(value)


register(PoliciesImport())
