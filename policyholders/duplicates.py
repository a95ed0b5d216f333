"""Likely duplicates of a policyholder: the same person already on file.

Creating a second record for the same person is the harm (two owners call them, their policies and
history split in two), so the pages warn before creating, the API reports what it found, and the duplicates queue
(policyholders/merging) offers the pairs of the book for merging. Candidates are narrowed in SQL on indexed columns,
in one query: the same ID number (of any ID type), the same phone (E.164, against both phones on file), or the same
date of birth. The few rows found are then scored in Python (:func:`compare`): a name counts when it is similar to
the name given, read as pinyin (policyholders.name_keys: 张伟, "Zhang Wei", "wei zhang" are one name; a typo
still scores high), with the same date of birth. Different people who share only a name are never candidates.

Each candidate carries a score (0 to 100) and its reasons, with what matched on the record. Candidates outside the
user's scope are reported without anything about them: the user learns only that a record exists that a manager
can see.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import ColumnElement, case, or_, select, tuple_

from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible
from policyholders.identity import normalise_id_number, normalise_phone
from policyholders.models import IdType, Policyholder
from policyholders.name_keys import name_similarity

#: the most candidates reported: enough to decide, and a bound on the work of one check
LIMIT = 10
#: the most rows the one query hands to the scoring (the same date of birth may be shared by many of a large book)
SCANNED = 200
#: how alike two names must be (policyholders.name_keys.name_similarity) to count as the same name
SIMILAR_NAME = 80
#: how much each reason weighs, 0 to 1, combined as independent evidence (1 - the product of what each leaves)
WEIGHTS = {"id_number": 0.95, "phone": 0.6, "name_and_birth_date": 0.85}
#: a similar name beside another reason (a phone, an ID number) adds this much, scaled by the similarity
NAME_ALONE = 0.4


@dataclass(frozen=True)
class Rule:
    """A reason two records may be the same person: ``condition`` of the data given, or ``None`` when
    the data says nothing for this rule (no phone given, say)."""

    reason: str
    condition: Callable[[dict[str, Any]], ColumnElement[bool] | None]


@dataclass
class Candidate:
    """A policyholder on file that may be the person given, and why. ``policyholder`` is ``None`` when the
    user may not see the record: they are told that it exists and how likely, nothing else. ``matched``: for a
    visible record, what matched on it, by reason (the phone, the name and date of birth, the ID type)."""

    id: int
    reasons: list[str] = field(default_factory=list)
    policyholder: Policyholder | None = None
    score: int = 0
    matched: dict[str, str] = field(default_factory=dict)

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


def _phones(data: dict[str, Any]) -> set[str]:
    phones = set()
    for key in ("phone", "phone_alt"):
        if data.get(key):
            with suppress(ValidationError):  # not a phone number: the create refuses it on its own field
                phones.add(normalise_phone(data[key], field=key))
    return phones


def _same_phone(data: dict[str, Any]) -> ColumnElement[bool] | None:
    phones = _phones(data)
    if not phones:
        return None
    return or_(Policyholder.phone.in_(sorted(phones)), Policyholder.phone_alt.in_(sorted(phones)))


def _same_birth_date(data: dict[str, Any]) -> ColumnElement[bool] | None:
    # the name is compared in Python (compare), on the rows of this date only
    if not (data.get("name") or "").strip() or data.get("date_of_birth") is None:
        return None
    return Policyholder.date_of_birth == data["date_of_birth"]


#: the rules narrowing the candidates in SQL, in the order their reasons are shown
RULES = (
    Rule("id_number", _same_id_number),
    Rule("phone", _same_phone),
    Rule("name_and_birth_date", _same_birth_date),
)


def compare(data: dict[str, Any], holder: Policyholder) -> tuple[int, list[str], dict[str, str]]:
    """How likely ``holder`` is the person described by ``data`` (the fields of a policyholder: name,
    date_of_birth, id_number, phone, phone_alt): the score (0 to 100), the reasons in the order of
    :data:`RULES`, and what matched on ``holder`` by reason. No reason: a score of 0."""
    matched: dict[str, str] = {}
    number = data.get("id_number")
    if number and holder.id_number and normalise_id_number(number) == holder.id_number:
        matched["id_number"] = holder.id_type.value if holder.id_type else ""
    phones = _phones(data) & {holder.phone, holder.phone_alt}
    if phones:
        matched["phone"] = ", ".join(sorted(phones))
    similarity = name_similarity(data.get("name"), holder.name)
    born = data.get("date_of_birth")
    if similarity >= SIMILAR_NAME and born is not None and born == holder.date_of_birth:
        matched["name_and_birth_date"] = f"{holder.name}, {_iso(born)} ({similarity}%)"
    return _score(matched, similarity), list(matched), matched


def _iso(day: date) -> str:
    return day.isoformat()


def _score(matched: dict[str, str], similarity: int) -> int:
    if not matched:
        return 0
    left = 1.0
    for reason in matched:
        weight = WEIGHTS[reason] * (similarity / 100 if reason == "name_and_birth_date" else 1)
        left *= 1 - weight
    if "name_and_birth_date" not in matched and similarity >= SIMILAR_NAME:
        left *= 1 - NAME_ALONE * similarity / 100
    return min(100, round(100 * (1 - left)))


def likely_duplicates(data: dict[str, Any], *, user: User, exclude_id: int | None = None) -> list[Candidate]:
    """The policyholders on file that may be the person described by ``data`` (the fields of a new
    policyholder, as the API's schema loads them), highest score first, at most :data:`LIMIT`.

    One query, whatever the size of the book (at most :data:`SCANNED` rows scored); the whole book is searched,
    not only the user's scope, but a record the user may not see comes back without its data (``policyholder``
    is ``None``, ``matched`` empty).
    """
    conditions = {rule.reason: condition for rule in RULES if (condition := rule.condition(data)) is not None}
    if not conditions:
        return []
    # the rows matched by an ID number or a phone first: a date of birth shared by many must not crowd them out
    strong = [case((conditions[reason], 0), else_=1) for reason in ("id_number", "phone") if reason in conditions]
    stmt = (select(Policyholder, visible(Policyholder, user).label("visible"))
            .where(or_(*conditions.values()))
            .order_by(*strong, Policyholder.id).limit(SCANNED))
    if exclude_id is not None:
        stmt = stmt.where(Policyholder.id != exclude_id)
    candidates = []
    for row in db.session.execute(stmt):
        score, reasons, matched = compare(data, row.Policyholder)
        if not reasons:
            continue
        if row.visible:
            candidates.append(Candidate(row.Policyholder.id, reasons, row.Policyholder, score, matched))
        else:
            candidates.append(Candidate(row.Policyholder.id, reasons, None, score))
    candidates.sort(key=lambda candidate: (-candidate.score, -len(candidate.reasons), candidate.id))
    return candidates[:LIMIT]
