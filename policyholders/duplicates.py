"""Likely duplicates of a policyholder about to be created: the same person already on file.

Creating a second record for the same person is the harm (two owners call them, their policies and
history split in two), so the pages warn before creating and the API reports what it found. The matching
here is exact and runs in SQL on indexed columns: the same ID number (of any ID type), the same phone
(E.164, against both phones on file), or the same name and date of birth. Each rule is one
:class:`Rule` in :data:`RULES`; fuzzier rules (pinyin, transposed digits) are added there as rules of
their own, without changing the callers.

Candidates outside the user's scope are reported without anything about them: the user learns only that
a record exists that a manager can see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import ColumnElement, or_, select, tuple_

from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible
from policyholders.identity import normalise_id_number, normalise_phone
from policyholders.models import IdType, Policyholder

#: the most candidates reported: enough to decide, and a bound on the work of one check
LIMIT = 10


@dataclass(frozen=True)
class Rule:
    """A reason two records may be the same person: ``condition`` of the data given, or ``None`` when
    the data says nothing for this rule (no phone given, say)."""

    reason: str
    condition: Callable[[dict[str, Any]], ColumnElement[bool] | None]


@dataclass
class Candidate:
    """A policyholder on file that may be the person given, and why. ``policyholder`` is ``None`` when the
    user may not see the record: they are told that it exists, nothing else."""

    id: int
    reasons: list[str] = field(default_factory=list)
    policyholder: Policyholder | None = None

    @property
    def visible(self) -> bool:
        return self.policyholder is not None


def _same_id_number(data: dict[str, Any]) -> ColumnElement[bool] | None:
    number = data.get("id_number")
    if not number:
        return None
    # the (id_type, id_number) unique index answers one probe per type; the same number under another type
    # is still the same document typed under the wrong heading more often than another person's
    compact = normalise_id_number(number)
    return tuple_(Policyholder.id_type, Policyholder.id_number).in_([(kind, compact) for kind in IdType])


def _same_phone(data: dict[str, Any]) -> ColumnElement[bool] | None:
    phones = set()
    for key in ("phone", "phone_alt"):
        if data.get(key):
            with suppress(ValidationError):  # not a phone number: the create refuses it on its own field
                phones.add(normalise_phone(data[key], field=key))
    if not phones:
        return None
    return or_(Policyholder.phone.in_(sorted(phones)), Policyholder.phone_alt.in_(sorted(phones)))


def _same_name_and_birth_date(data: dict[str, Any]) -> ColumnElement[bool] | None:
    name, born = _clean_name(data.get("name")), data.get("date_of_birth")
    if not name or born is None:
        return None
    return (Policyholder.name == name) & (Policyholder.date_of_birth == born)


def _clean_name(name: str | None) -> str:
    return re.sub(r"\s+", " ", name or "").strip()


#: the rules, in the order their reasons are shown
RULES = (
    Rule("id_number", _same_id_number),
    Rule("phone", _same_phone),
    Rule("name_and_birth_date", _same_name_and_birth_date),
)


def likely_duplicates(data: dict[str, Any], *, user: User, exclude_id: int | None = None) -> list[Candidate]:
    """The policyholders on file that may be the person described by ``data`` (the fields of a new
    policyholder, as the API's schema loads them), most reasons first, at most :data:`LIMIT`.

    One query, whatever the size of the book; the whole book is searched, not only the user's scope, but a
    record the user may not see comes back without its data (``policyholder`` is ``None``).
    """
    conditions = {rule.reason: condition for rule in RULES if (condition := rule.condition(data)) is not None}
    if not conditions:
        return []
    matched = [condition.label(reason) for reason, condition in conditions.items()]
    stmt = (select(Policyholder, visible(Policyholder, user).label("visible"), *matched)
            .where(or_(*conditions.values()))
            .order_by(Policyholder.id).limit(LIMIT))
    if exclude_id is not None:
        stmt = stmt.where(Policyholder.id != exclude_id)
    candidates = []
    for row in db.session.execute(stmt):
        reasons = [reason for reason in conditions if getattr(row, reason)]
        candidates.append(Candidate(row.Policyholder.id, reasons, row.Policyholder if row.visible else None))
    candidates.sort(key=lambda candidate: (-len(candidate.reasons), candidate.id))
    return candidates

