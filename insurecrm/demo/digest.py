"""A fingerprint of a book, to check that the same seed gives the same book (tests, benchmark).

It covers what a person would recognise: every policy's number, premium and status with its
policyholder's name. It does not depend on ids, so a book rebuilt elsewhere compares equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from insurecrm.demo.context import Rows
from policies.models import Policy
from policyholders.models import Policyholder


def _digest(lines: Iterable[tuple[str, Decimal, str, str]]) -> str:
    digest = hashlib.sha256()
    for number, premium, status, name in sorted(lines):
        digest.update(f"{number}|{premium:.2f}|{status}|{name}\n".encode())
    return digest.hexdigest()


def book_digest(session: Session) -> str:
    """The fingerprint of the book in the database."""
    rows = session.execute(select(Policy.number, Policy.premium, Policy.status, Policyholder.name)
                           .join(Policyholder, Policy.policyholder_id == Policyholder.id))
    return _digest((number, premium, str(status), name) for number, premium, status, name in rows)


def rows_digest(chunks: Iterable[Rows]) -> str:
    """The fingerprint of generated rows (without writing them)."""
    lines = []
    for rows in chunks:
        names = {row["id"]: row["name"] for row in rows.tables.get("policyholders", ())}
        lines.extend((p["number"], p["premium"], p["status"], names[p["policyholder_id"]])
                     for p in rows.tables.get("policies", ()))
    return _digest(lines)
