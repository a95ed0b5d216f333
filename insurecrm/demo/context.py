"""The state shared while a demo book is generated: the seeded randomness, ids, counters and rows.

Generation is deterministic: one :class:`random.Random` and two Faker instances, all seeded from the
seed, consumed in a fixed order; ids are allocated here, not by the database, so that children can
be written in the same bulk insert as their parents.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from faker import Faker

T = TypeVar("T")
#: office hours in China (UTC+8) are 01:00–10:00 UTC
_OFFICE_START_UTC = time(1, 0)


@dataclass(frozen=True)
class StageRef:
    """A pipeline stage as the generator needs it."""

    id: int
    code: str
    position: int
    probability: Decimal
    max_days: int | None
    is_won: bool
    is_lost: bool


@dataclass
class BookPlan:
    """What to generate: size, seed, the day the book is built "as of", and what the database holds."""

    policyholders: int
    seed: int
    today: date
    password_hash: str
    stages: list[StageRef]
    #: table name → first free id
    first_ids: dict[str, int] = field(default_factory=dict)
    #: number sequence name (``policy:2024``) → last serial already used
    serials: dict[str, int] = field(default_factory=dict)
    #: policyholders per written chunk (households are never split)
    chunk_size: int = 500


class Rows:
    """Rows to insert, per table, in the order they were generated."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        self.tables[table].append(row)
        return row

    def count(self, table: str) -> int:
        return len(self.tables.get(table, ()))


class Ids:
    """Allocates ids per table, starting after what the database already holds."""

    def __init__(self, first_ids: dict[str, int]) -> None:
        self._next = dict(first_ids)

    def next(self, table: str) -> int:
        value = self._next.get(table, 1)
        self._next[table] = value + 1
        return value


class BookContext:
    """Randomness, ids, counters and the current rows buffer of one generation run."""

    def __init__(self, plan: BookPlan) -> None:
        self.plan = plan
        self.today = plan.today
        self.rng = random.Random(plan.seed)
        self.fake_zh = Faker("zh_CN")
        self.fake_zh.seed_instance(plan.seed)
        self.fake_en = Faker("en_US")
        self.fake_en.seed_instance(plan.seed + 1)
        self.ids = Ids(plan.first_ids)
        self.serials = dict(plan.serials)
        self.rows = Rows()
        self.used_resident_ids: set[str] = set()
        self.counters: dict[str, int] = {}
        self._shown: set[str] = set()
        self._phone_serial = 0
        self._passport_serial = 0

    # -- randomness helpers ------------------------------------------------------------------------
    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def pick(self, options: Sequence[T], weights: Sequence[float] | None = None) -> T:
        if weights is None:
            return options[self.rng.randrange(len(options))]
        return self.rng.choices(options, weights=weights)[0]

    def days(self, low: int, high: int) -> timedelta:
        """A random whole number of days in [low, high]."""
        return timedelta(days=self.rng.randint(low, high))

    def money(self, value: float) -> Decimal:
        return Decimal(f"{value:.2f}")

    def instant(self, day: date) -> datetime:
        """A moment during office hours (China time) of ``day``, in UTC; the start of today for today or
        later, so that nothing that has happened carries a time still to come."""
        if day >= self.today:
            return datetime.combine(self.today, time(0), UTC)
        return datetime.combine(day, _OFFICE_START_UTC, UTC) + timedelta(minutes=self.rng.randrange(540))

    def planned_instant(self, day: date) -> datetime:
        """A moment during office hours of ``day``, which may lie in the future."""
        return datetime.combine(day, _OFFICE_START_UTC, UTC) + timedelta(minutes=self.rng.randrange(540))

    def past_day(self, earliest: date) -> date:
        """A day from ``earliest`` to yesterday (``earliest`` itself when that is not in the past)."""
        span = (self.today - earliest).days - 1
        return earliest + timedelta(days=self.rng.randint(0, span)) if span > 0 else earliest

    def once(self, case: str) -> bool:
        """True the first time ``case`` is asked for: makes even a small book show each case at least once."""
        if case in self._shown:
            return False
        self._shown.add(case)
        return True

    # -- unique serials ----------------------------------------------------------------------------
    def next_phone_serial(self) -> int:
        self._phone_serial += 1
        return self._phone_serial

    def next_passport_serial(self) -> int:
        self._passport_serial += 1
        return self._passport_serial

    def next_serial(self, name: str) -> int:
        """The next business-number serial of counter ``name`` (as ``policies.numbers.next_serial``)."""
        value = self.serials.get(name, 0) + 1
        self.serials[name] = value
        return value

    def take_rows(self) -> Rows:
        """Hand over the rows generated so far and start a new buffer."""
        rows, self.rows = self.rows, Rows()
        return rows
