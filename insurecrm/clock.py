"""The application's clock: what "now" and "today" are, injectable for tests and simulations.

Instants are UTC. "Today" is the date in the insurer's time zone (``INSURECRM_TIMEZONE``), because an
agent's day, a due date and a birthday are local dates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from flask import current_app, has_app_context

_override: list[Callable[[], datetime]] = []


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return _override[-1]() if _override else datetime.now(UTC)


def zone() -> ZoneInfo:
    name = current_app.config.get("TIMEZONE", "Asia/Shanghai") if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def today() -> date:
    """Today's date in the insurer's time zone."""
    return now().astimezone(zone()).date()


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Inside the block, :func:`now` answers ``at`` (aware)."""
    if at.tzinfo is None:
        raise ValueError("give an aware datetime")
    _override.append(lambda: at)
    try:
        yield
    finally:
        _override.pop()


#: the months of each calendar period longer than a week
_PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def calendar_period(kind: str, day: date) -> tuple[date, date]:
    """The calendar ``day``, ISO ``week`` (Monday to Sunday), ``month``, ``quarter`` or ``year`` holding ``day``: its
    first and last dates (both included)."""
    if kind == "day":
        return day, day
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if kind not in _PERIOD_MONTHS:
        raise ValueError(f"unknown period {kind!r}")
    months = _PERIOD_MONTHS[kind]
    first = date(day.year, 1, 1) if kind == "year" else day.replace(day=1, month=(day.month - 1) // months * months + 1)
    return first, first + relativedelta(months=months) - timedelta(days=1)
