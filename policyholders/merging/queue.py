"""The duplicates queue: pairs of policyholders of the user's scope that may be one person.

Pairs are found in SQL by blocking keys, each an indexed self-join of ``policyholders``: the same ID number (of any
ID type), the same phone (either phone against either phone), the same date of birth and name key (the name's
pinyin words, sorted: policyholders.name_keys). Both records must be in the user's scope, and pairs someone
dismissed as two people are left out. A page costs three queries whatever the size of the book (the count, the
page of pairs, their records); the pairs of the page are then scored in Python (policyholders.duplicates.compare).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, case, exists, func, literal, select, union_all
from sqlalchemy.orm import aliased

from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible_ids
from insurecrm.web import Page, page_number
from policyholders.duplicates import compare
from policyholders.merging.models import DuplicateDismissal
from policyholders.models import Policyholder

PER_PAGE = 25
#: the order of the queue: the strongest evidence first (an ID number outweighs a phone, a phone a name)
WEIGHTS = {"id_number": 4, "phone": 2, "name_and_birth_date": 1}
#: the phone columns paired, either against either
PHONES = (("phone", "phone"), ("phone", "phone_alt"), ("phone_alt", "phone"), ("phone_alt", "phone_alt"))


@dataclass
class Pair:
    """Two policyholders that may be one person: ``first`` has the lower id."""

    first: Policyholder
    second: Policyholder
    score: int
    reasons: list[str]
    matched: dict[str, str]


def _blocking_pairs() -> Select:
    """(first, second, reason) of every pair sharing a blocking key, the lower id first; a pair may come once
    per key it shares."""
    a, b = aliased(Policyholder, name="a"), aliased(Policyholder, name="b")

    def pairs(reason: str, condition) -> Select:
        return (select(a.id.label("first"), b.id.label("second"), literal(reason).label("reason"))
                .join(b, and_(condition, a.id < b.id)))

    by_phone = [pairs("phone", and_(getattr(a, left).is_not(None), getattr(a, left) == getattr(b, right)))
                for left, right in PHONES]
    return union_all(
        pairs("id_number", and_(a.id_number.is_not(None), a.id_number == b.id_number)),
        *by_phone,
        pairs("name_and_birth_date", and_(a.date_of_birth.is_not(None), a.name_key != "",
                                          a.date_of_birth == b.date_of_birth, a.name_key == b.name_key)),
    )


def pairs_select(user: User) -> Select:
    """(first, second, weight) of the pairs of ``user``'s scope not dismissed, strongest first."""
    found = _blocking_pairs().subquery("found")
    weight = func.max(case(*((found.c.reason == reason, value) for reason, value in WEIGHTS.items()), else_=0))
    evidence = func.sum(case(*((found.c.reason == reason, value) for reason, value in WEIGHTS.items()), else_=0))
    in_scope = visible_ids(Policyholder, user)
    dismissed = exists().where(DuplicateDismissal.policyholder_id == found.c.first,
                               DuplicateDismissal.other_policyholder_id == found.c.second)
    return (select(found.c.first, found.c.second, weight.label("weight"), evidence.label("evidence"))
            .where(found.c.first.in_(in_scope), found.c.second.in_(in_scope), ~dismissed)
            .group_by(found.c.first, found.c.second)
            .order_by(weight.desc(), evidence.desc(), found.c.first, found.c.second))


def queue_page(user: User, per_page: int = PER_PAGE) -> Page:
    """One page of the queue (``page`` query argument), as :class:`Pair` items: three queries."""
    page = page_number()
    stmt = pairs_select(user)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    ids = {row.first for row in rows} | {row.second for row in rows}
    holders = {h.id: h for h in db.session.scalars(select(Policyholder).where(Policyholder.id.in_(ids)))} if ids else {}
    return Page([_pair(holders[row.first], holders[row.second]) for row in rows], total, page, per_page)


def _pair(first: Policyholder, second: Policyholder) -> Pair:
    data = {"name": first.name, "date_of_birth": first.date_of_birth, "id_number": first.id_number,
            "phone": first.phone, "phone_alt": first.phone_alt}
    score, reasons, matched = compare(data, second)
    return Pair(first, second, score, reasons, matched)

