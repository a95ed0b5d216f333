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

from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import ColumnElement, case, or_, select

from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible
from policyholders.identity import normalise_id_number, normalise_phone
from policyholders.models import Policyholder
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
    """A reason two records may be the same person. ``keys`` are what the data given says for this rule (its ID
    number, its phones; none when the data says nothing), ``condition`` finds the records on file with any of a set
    of keys on indexed columns, and ``keys_of`` are a record's own keys, which pair it with the data."""

    reason: str
    keys: Callable[[dict[str, Any]], set]
    condition: Callable[[list], ColumnElement[bool]]
    keys_of: Callable[[Policyholder], set]


#: the columns of a record a candidate carries: what is compared, and what names it (id, name, kind, status)
SCORED = (Policyholder.id, Policyholder.name, Policyholder.kind, Policyholder.status, Policyholder.date_of_birth,
          Policyholder.id_type, Policyholder.id_number, Policyholder.phone, Policyholder.phone_alt)


@dataclass
class Candidate:
    """A policyholder on file that may be the person given, and why. ``policyholder`` is ``None`` when the
    user may not see the record: they are told that it exists and how likely, nothing else; otherwise the record's
    :data:`SCORED` columns (a row read like a policyholder). ``matched``: for a visible record, what matched on it,
    by reason (the phone, the name and date of birth, the ID type)."""

    id: int
    reasons: list[str] = field(default_factory=list)
    policyholder: Any | None = None
    score: int = 0
    matched: dict[str, str] = field(default_factory=dict)

    @property
    def visible(self) -> bool:
        return self.policyholder is not None


def _id_numbers(data: dict[str, Any]) -> set[str]:
    # any ID type: the same number under another type is still the same document typed under the wrong heading
    # more often than another person's
    number = data.get("id_number")
    return {normalise_id_number(number)} if number else set()


def _phones(data: dict[str, Any]) -> set[str]:
    phones = set()
    for key in ("phone", "phone_alt"):
        if data.get(key):
            with suppress(ValidationError):  # not a phone number: the create refuses it on its own field
                phones.add(normalise_phone(data[key], field=key))
    return phones


def _birth_dates(data: dict[str, Any]) -> set[date]:
    # the name is compared in Python (compare), on the rows of these dates only
    if not (data.get("name") or "").strip() or data.get("date_of_birth") is None:
        return set()
    return {data["date_of_birth"]}


#: the rules narrowing the candidates in SQL, in the order their reasons are shown
RULES = (
    Rule("id_number", _id_numbers, lambda keys: Policyholder.id_number.in_(keys),
         lambda holder: {holder.id_number}),
    Rule("phone", _phones, lambda keys: or_(Policyholder.phone.in_(keys), Policyholder.phone_alt.in_(keys)),
         lambda holder: {holder.phone, holder.phone_alt}),
    Rule("name_and_birth_date", _birth_dates, lambda keys: Policyholder.date_of_birth.in_(keys),
         lambda holder: {holder.date_of_birth}),
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
    return likely_duplicates_of_each([data], user=user, exclude_id=exclude_id)[0]


def likely_duplicates_of_each(people: list[dict[str, Any]], *, user: User,
                              exclude_id: int | None = None) -> list[list[Candidate]]:
    """:func:`likely_duplicates` of each of ``people`` (an import's batch of rows), in one query for them all: at
    most :data:`SCANNED` rows scored per person, the records matched by an ID number or a phone first."""
    keys = [{rule.reason: rule.keys(data) for rule in RULES} for data in people]
    wanted = {rule.reason: set().union(*(each[rule.reason] for each in keys)) for rule in RULES}
    conditions = {rule.reason: rule.condition(sorted(wanted[rule.reason])) for rule in RULES if wanted[rule.reason]}
    if not conditions:
        return [[] for _data in people]
    # the rows matched by an ID number or a phone first: a date of birth shared by many must not crowd them out
    strong = [case((conditions[reason], 0), else_=1) for reason in ("id_number", "phone") if reason in conditions]
    # the compared columns only, not whole records: an import's batch scores thousands of rows
    stmt = (select(*SCORED, visible(Policyholder, user).label("visible"))
            .where(or_(*conditions.values()))
            .order_by(*strong, Policyholder.id).limit(SCANNED * len(people)))
    if exclude_id is not None:
        stmt = stmt.where(Policyholder.id != exclude_id)
    found: dict[str, dict[Any, list]] = {rule.reason: defaultdict(list) for rule in RULES}
    for row in db.session.execute(stmt):
        for rule in RULES:
            for key in rule.keys_of(row) & wanted[rule.reason]:
                found[rule.reason][key].append(row)
    return [_candidates(data, each, found) for data, each in zip(people, keys, strict=True)]


def _candidates(data: dict[str, Any], keys: dict[str, set], found: dict[str, dict[Any, list]]) -> list[Candidate]:
    rows = {row.id: row for reason, values in keys.items() for key in values for row in found[reason].get(key, ())}
    candidates = []
    for row in rows.values():
        score, reasons, matched = compare(data, row)
        if not reasons:
            continue
        if row.visible:
            candidates.append(Candidate(row.id, reasons, row, score, matched))
        else:
            candidates.append(Candidate(row.id, reasons, None, score))
    candidates.sort(key=lambda candidate: (-candidate.score, -len(candidate.reasons), candidate.id))
    return candidates[:LIMIT]
