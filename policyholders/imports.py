"""The import of policyholders (``insurecrm import policyholders FILE``, the imports page, ``POST /api/v1/imports``).

One row per policyholder, found by its natural key, the ID (type and number): a row whose ID is on file updates
that record with the values the file gives (an empty cell leaves the stored value as it is), a row whose values
are already on file changes nothing, any other row creates a policyholder. Every row is loaded by the API's
:class:`~policyholders.schemas.PolicyholderSchema` and written by :func:`~policyholders.services.create_policy\
holder` or :func:`~policyholders.services.update_policyholder`, so the rules are the API's: the ID's check digit and
its birth date, the phone, the owner and unit in the user's organisation. Agents, units, bank partners and
referrers are named by their codes.

A row may also relate the policyholder to another (``related_id_number`` and ``relationship``: "spouse", "child
of", ...), on file or anywhere in the same file; the relationships are recorded once every row is in, with their
inverse, as on the household page. In a dry run, a new policyholder who looks like one on file (the same phone, or
the same name and birth date: :mod:`policyholders.duplicates`) is reported as a warning.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from agents.models import Agent, BankPartner, OrgUnit, Referrer
from insurecrm.db import db
from insurecrm.imports.kinds import Column, Context, ImportKind, RowError, choices, register
from insurecrm.imports.values import parse_boolean, parse_code, parse_date, parse_list
from insurecrm.scope import visible
from policyholders.duplicates import likely_duplicates_of_each
from policyholders.household import create_relationship
from policyholders.identity import normalise_id_number, normalise_phone
from policyholders.models import IdType, Policyholder, PolicyholderRelationship, RelationshipKind
from policyholders.schemas import PolicyholderSchema
from policyholders.services import create_policyholder, update_policyholder

#: the file's columns naming a record by its code, and the API's field each becomes
CODES = {"owner_agent_code": ("owner_agent_id", Agent), "org_unit_code": ("org_unit_id", OrgUnit),
         "bank_partner_code": ("bank_partner_id", BankPartner), "referrer_code": ("referrer_id", Referrer)}
#: the API's field names as the file names them, for the report
FILE_FIELDS = {api: code for code, (api, _model) in CODES.items()}
RELATION_ALIASES = {"配偶": "spouse", "子女": "child", "父母": "parent", "兄弟姐妹": "sibling"}


@cache
def _schema() -> PolicyholderSchema:
    """The API's schema, made once: loading keeps no state in it (making one per row cost a millisecond)."""
    return PolicyholderSchema()



class PolicyholdersImport(ImportKind):
    name = "policyholders"
    label = _l("Policyholders")
    key_fields = ("id_type", "id_number")
    tables = ("policyholders", "policyholder_tags", "policyholder_relationships", "audit_log")

    def build_columns(self) -> tuple[Column, ...]:
        return (
            Column("id_type", _l("ID type"), choices("id_type", **{"身份证": "prc_resident"}),
                   example="prc_resident", note=_l("Resident ID when left empty.")),
            Column("id_number", _l("ID number"), parse_code, required=True, example="110105199003071239",
                   aliases=("身份证号", "身份证号码", "证件号")),
            Column("name", _l("Name"), required=True, example="张伟", aliases=("姓名", "客户姓名", "保户姓名")),
            Column("kind", _l("Party"), choices("party_kind", **{"个人": "person", "机构": "organisation",
                                                                  "公司": "organisation"})),
            Column("gender", _l("Gender"), choices("gender", 男="male", 女="female", m="male", f="female")),
            Column("date_of_birth", _l("Date of birth"), parse_date, example="1990-03-07", aliases=("生日",)),
            Column("phone", _l("Phone"), parse_code, example="13800138000",
                   aliases=("手机", "手机号", "手机号码", "联系电话")),
            Column("phone_alt", _l("Other phone"), parse_code),
            Column("email", _l("Email"), aliases=("邮箱", "电子邮箱")),
            Column("address", _l("Address")),
            Column("region", _l("Region")),
            Column("occupation", _l("Occupation")),
            Column("industry", _l("Industry")),
            Column("income_band", _l("Income band"), choices("income_band")),
            Column("marital_status", _l("Marital status"), choices("marital_status")),
            Column("preferred_channel", _l("Preferred channel"), choices("contact_channel")),
            Column("preferred_language", _l("Language")),
            Column("consent_marketing", _l("Consents to marketing"), parse_boolean),
            Column("consent_sms", _l("Consents to SMS"), parse_boolean),
            Column("consent_email", _l("Consents to email"), parse_boolean),
            Column("owner_agent_code", _l("Owner agent code"), example="A0001"),
            Column("org_unit_code", _l("Organisation unit code"),
                   note=_l("The owner's unit when left empty.")),
            Column("acquisition_channel", _l("Acquisition channel"), choices("acquisition_channel")),
            Column("acquisition_source", _l("Acquisition source")),
            Column("bank_partner_code", _l("Bank partner code")),
            Column("referrer_code", _l("Referrer code")),
            Column("status", _l("Status"), choices("holder_status")),
            Column("tags", _l("Tags"), parse_list, note=_l("Separated by ; or ,")),
            Column("related_id_number", _l("Related person's ID number"), parse_code,
                   note=_l("Someone on file or in this file.")),
            Column("relationship", _l("Relationship"), choices("relationship_kind", **RELATION_ALIASES),
                   aliases=("关系",),
                   note=_l("What this policyholder is of the related person: spouse, child, parent...")),
        )

    def key(self, values: dict[str, Any]) -> tuple | None:
        if not values.get("id_number"):
            return None
        return values.get("id_type", IdType.PRC_RESIDENT.value), normalise_id_number(values["id_number"])

    def prepare(self, ctx: Context) -> None:
        ctx.state["codes"] = {
            column: {code.upper(): record_id for record_id, code in db.session.execute(select(model.id, model.code))}
            for column, (_api, model) in CODES.items()}
        ctx.state["links"] = []

    def prefetch(self, batch: list[dict[str, Any]], ctx: Context) -> None:
        """The batch's policyholders on file, by ID, with their tags and whether the user may see them: one query."""
        keys = {self.key(values) for values in batch} - {None}
        on_file: dict[tuple, tuple[Policyholder, bool]] = {}
        if keys:
            # by the number alone, on its own index (PostgreSQL scans for a list of (type, number) pairs)
            stmt = (select(Policyholder, visible(Policyholder, ctx.user).label("visible"))
                    .where(Policyholder.id_number.in_(sorted({number for _type, number in keys})))
                    .options(selectinload(Policyholder.tags)))
            for holder, may_see in db.session.execute(stmt):
                if (key := (str(holder.id_type), holder.id_number)) in keys:
                    on_file[key] = (holder, bool(may_see))
        ctx.state["on_file"] = on_file
        if ctx.checking:  # the new rows' likely duplicates on file, warned in a dry run: one query for the batch
            new = [values for values in batch if self.key(values) not in on_file]
            people = [{**values, "date_of_birth": date.fromisoformat(values["date_of_birth"])}
                      if values.get("date_of_birth") else values for values in new]  # (cells read as ISO dates)
            ctx.state["duplicates"] = {self.key(values): found for values, found in zip(
                new, likely_duplicates_of_each(people, user=ctx.user), strict=True)}
        # the owners of the batch's rows and their units, held so that the service's look-ups by id find them in
        # the session (its identity map keeps only what is referenced)
        codes = ctx.state["codes"]
        owners = {codes["owner_agent_code"].get(values["owner_agent_code"].upper())
                  for values in batch if values.get("owner_agent_code")} - {None}
        units = {codes["org_unit_code"].get(values["org_unit_code"].upper())
                 for values in batch if values.get("org_unit_code")} - {None}
        held = db.session.scalars(select(Agent).where(Agent.id.in_(owners))).all() if owners else []
        units |= {agent.org_unit_id for agent in held}
        ctx.state["held"] = [*held, *db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(units)))]

    def apply(self, row: int, values: dict[str, Any], ctx: Context) -> str:
        payload = dict(values)
        link = payload.pop("related_id_number", None), payload.pop("relationship", None)
        if (link[0] is None) != (link[1] is None):
            missing = "relationship" if link[1] is None else "related_id_number"
            raise RowError({missing: [str(_l("Give both the related person's ID number and the relationship."))]})
        payload["id_type"] = payload.get("id_type", IdType.PRC_RESIDENT.value)
        errors: dict[str | None, list[str]] = {}
        for column, (api, _model) in CODES.items():
            if column in payload:
                code = payload.pop(column)
                payload[api] = ctx.state["codes"][column].get(code.upper())
                if payload[api] is None:
                    errors[column] = [str(_l("No record with the code %(code)s.", code=code))]
        if errors:
            raise RowError(errors)
        try:
            data = _schema().load(payload)
        except ValidationError as error:
            raise RowError.from_validation(error, FILE_FIELDS) from None
        holder, may_see = ctx.state["on_file"].get(self.key(values), (None, False))
        try:
            if holder is None:
                # written with the batch, 500 at a time: the new rows of the file wait in the session (no query
                # of this row's checks writes them first); the ID was looked up with the batch (prefetch)
                with db.session.no_autoflush:
                    holder = create_policyholder(data, actor=ctx.user, id_known_new=True, flush=False)
                for candidate in ctx.state.get("duplicates", {}).get(self.key(values), ()):
                    ctx.warn(row, None, str(_l("Looks like policyholder %(id)s already on file (%(reasons)s): "
                                               "check before importing.", id=candidate.id,
                                               reasons=", ".join(candidate.reasons))))
                outcome = "created"
            else:
                outcome = self._update(holder, may_see, data, set(payload), ctx)
        except ValidationError as error:
            raise RowError.from_validation(error, FILE_FIELDS) from None
        if link[0] is not None:  # the record itself: its id comes with the batch's flush
            ctx.state["links"].append((row, holder, normalise_id_number(link[0]), RelationshipKind(link[1])))
        return outcome

    @staticmethod
    def _update(holder: Policyholder, may_see: bool, data: dict[str, Any], given: set[str], ctx: Context) -> str:
        if not may_see:
            raise RowError({"id_number": [str(_l("A policyholder with this ID number is on file outside your "
                                                 "organisation: ask a manager who can see it."))]})
        wanted = {key: value for key, value in data.items() if key in given}
        for key in ("phone", "phone_alt"):
            if wanted.get(key):
                wanted[key] = normalise_phone(wanted[key], field=key)
        wanted.pop("id_type", None)
        wanted.pop("id_number", None)
        changes = {key: value for key, value in wanted.items()
                   if (sorted(tag.tag for tag in holder.tags) != sorted(set(value)) if key == "tags"
                       else getattr(holder, key) != value)}
        if not changes:
            return "unchanged"
        update_policyholder(holder, {**changes, "version": holder.version}, actor=ctx.user)
        return "updated"

    def finish(self, ctx: Context) -> list[tuple[int, RowError]]:
        refused = []
        db.session.flush()
        for row, holder, number, kind in ctx.state["links"]:
            holder_id = holder.id
            other_id = db.session.scalar(select(Policyholder.id).where(
                Policyholder.id_number == number, visible(Policyholder, ctx.user)).order_by(Policyholder.id).limit(1))
            if other_id is None:
                refused.append((row, RowError({"related_id_number": [str(_l(
                    "No policyholder with this ID number on file or in the file."))]})))
                continue
            if db.session.scalar(select(PolicyholderRelationship.id).where(
                    PolicyholderRelationship.from_policyholder_id == holder_id,
                    PolicyholderRelationship.to_policyholder_id == other_id,
                    PolicyholderRelationship.kind == kind)) is not None:
                continue  # already recorded: importing the file again changes nothing
            holder = db.session.get(Policyholder, holder_id)
            try:
                create_relationship(holder, {"to_policyholder_id": other_id, "kind": kind}, actor=ctx.user)
            except ValidationError as error:
                refused.append((row, RowError.from_validation(error, {"to_policyholder_id": "related_id_number",
                                                                      "kind": "relationship"})))
        return refused


register(PolicyholdersImport())
