"""The one policy number format, and claim numbers.

A policy number is ``<line code><issue year><8-digit serial><Luhn check digit>``, 15 characters,
e.g. ``HE2026000012347`` — readable over the phone, the line visible at a glance, and a typo caught
by the check digit (python-stdnum's Luhn). Claim numbers use the same shape with the code ``CL``.
"""

from __future__ import annotations

import re

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from stdnum import luhn

from insurecrm.db import db
from policies.models import ProductLine
from policies.models.numbering import NumberSequence

LINE_CODES = {
    ProductLine.LIFE: "LI",
    ProductLine.HEALTH: "HE",
    ProductLine.ACCIDENT: "AC",
    ProductLine.PROPERTY: "PR",
    ProductLine.MOTOR: "MO",
    ProductLine.ANNUITY: "AN",
}
CLAIM_CODE = "CL"
NUMBER_RE = re.compile(r"^(LI|HE|AC|PR|MO|AN|CL)(\d{4})(\d{8})(\d)$")


def format_number(code: str, year: int, serial: int) -> str:
    """``format_number("HE", 2026, 1234)`` → ``"HE2026000012347"`` (last digit: Luhn over the digits)."""
    digits = f"{year:04d}{serial:08d}"
    return f"{code}{digits}{luhn.calc_check_digit(digits)}"


def policy_number(line: ProductLine, year: int, serial: int) -> str:
    return format_number(LINE_CODES[ProductLine(line)], year, serial)


def is_valid_number(number: str) -> bool:
    """True for a well-formed policy or claim number with a correct check digit."""
    match = NUMBER_RE.match(number or "")
    return bool(match) and luhn.is_valid(match.group(2) + match.group(3) + match.group(4))


def next_serial(name: str) -> int:
    """Allocate the next serial of counter ``name`` (row-locked, so concurrent writers never share one)."""
    bumped = db.session.execute(
        update(NumberSequence).where(NumberSequence.name == name).values(value=NumberSequence.value + 1)
        .returning(NumberSequence.value)
    ).scalar()
    if bumped is not None:
        return bumped
    # first use of this counter: create it; a concurrent creator makes us retry the UPDATE above
    try:
        with db.session.begin_nested():
            db.session.add(NumberSequence(name=name, value=1))
        return 1
    except IntegrityError:  # lost the race to create the row: it exists now
        return next_serial(name)


def allocate_policy_number(line: ProductLine, year: int) -> str:
    return policy_number(line, year, next_serial(f"policy:{year}"))


def allocate_claim_number(year: int) -> str:
    return format_number(CLAIM_CODE, year, next_serial(f"claim:{year}"))


def reserve_claim_number(number: str) -> None:
    """A claim number of our format given by another system (an import): our counter of its year is moved past
    it, so that no claim reported later is allocated the same number. A number of another format reserves nothing."""
    match = NUMBER_RE.fullmatch(number or "")
    if not match or match.group(1) != CLAIM_CODE or not is_valid_number(number):
        return
    name, serial = f"claim:{match.group(2)}", int(match.group(3))
    db.session.execute(update(NumberSequence).where(NumberSequence.name == name, NumberSequence.value < serial)
                       .values(value=serial))
    if db.session.get(NumberSequence, name) is None:
        try:
            with db.session.begin_nested():
                db.session.add(NumberSequence(name=name, value=serial))
        except IntegrityError:  # created meanwhile by a concurrent writer: move it past the number
            reserve_claim_number(number)
