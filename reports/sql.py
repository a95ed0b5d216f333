"""SQL building blocks of the reports: date arithmetic and scalar functions that give the same answer on SQLite
and PostgreSQL, so that a figure is computed in the database, once, whatever the backend.

Dates are whole days. Adding months clamps to the end of the month, as actuaries' tools do (``2024-01-31`` plus
one month is ``2024-02-29``; a policy issued on ``2024-02-29`` has its first anniversary on ``2025-02-28``):
PostgreSQL's ``date + interval`` already does so, SQLite's ``date(x, '+N months')`` would overflow into the next
month, so on SQLite the clamp is written out.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, Integer, Numeric, cast, func, literal, literal_column, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from insurecrm.db import db


def _is_postgresql() -> bool:
    return db.dialect == "postgresql"


def as_date(value) -> ColumnElement:
    """A Python ``date`` (or a column) as a SQL date expression usable in arithmetic on both backends."""
    if isinstance(value, date):
        return cast(literal(value.isoformat()), Date) if _is_postgresql() else literal(value.isoformat())
    return value


def days_between(start, end) -> ColumnElement:
    """Whole days from ``start`` to ``end`` (``end - start``; negative when ``end`` comes first)."""
    start, end = as_date(start), as_date(end)
    if _is_postgresql():
        return type_coerce(end - start, Integer)
    return cast(func.julianday(end) - func.julianday(start), Integer)


def add_days(day, days) -> ColumnElement:
    """``day`` plus ``days`` (an integer or an integer expression) days, as a date."""
    day = as_date(day)
    if _is_postgresql():
        return type_coerce(day + days, Date)
    return func.date(day, func.printf("%+d days", days))


def add_months(day, months) -> ColumnElement:
    """``day`` plus ``months`` calendar months (an integer or an integer expression), clamped to the last day of
    the month reached: the policy anniversary rule."""
    day = as_date(day)
    if _is_postgresql():
        return cast(day + func.make_interval(0, months), Date)
    naive = func.date(day, "start of month", func.printf("%+d months", months),
                      func.printf("+%d days", cast(func.strftime("%d", day), Integer) - 1))
    end_of_month = func.date(day, "start of month", func.printf("%+d months", months + 1), "-1 day")
    return func.min(naive, end_of_month)


def least(*values) -> ColumnElement:
    """The smallest of two or more ``values`` (none of them NULL)."""
    return func.least(*values) if _is_postgresql() else func.min(*values)


def greatest(*values) -> ColumnElement:
    """The largest of two or more ``values`` (none of them NULL)."""
    return func.greatest(*values) if _is_postgresql() else func.max(*values)


def year_of(day) -> ColumnElement:
    """The calendar year of a date, as an integer."""
    day = as_date(day)
    if _is_postgresql():
        return cast(func.extract("year", day), Integer)
    return cast(func.strftime("%Y", day), Integer)


def month_of(day) -> ColumnElement:
    """The calendar month of a date as ``'YYYY-MM'`` (the same text on both backends)."""
    day = as_date(day)
    if _is_postgresql():
        return func.to_char(day, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), day)


def ratio(numerator, denominator, places: int = 6) -> ColumnElement:
    """``numerator / denominator`` as a decimal, NULL when the denominator is zero (no figure, rather than a
    division error or a misleading 0)."""
    if _is_postgresql():
        return cast(numerator, Numeric(28, places)) / func.nullif(cast(denominator, Numeric(28, places)), 0)
    # SQLite divides integers as integers: make the numerator real
    return cast(numerator, Float) / func.nullif(denominator, 0)


def age_on(birth_date, day) -> ColumnElement:
    """Age in whole years on ``day`` of someone born on ``birth_date`` (a birthday on 29 February is reached on
    1 March in a common year, as the civil rule goes)."""
    birth_date, day = as_date(birth_date), as_date(day)
    if _is_postgresql():
        return cast(func.extract("year", func.age(day, birth_date)), Integer)
    before_birthday = func.strftime("%m-%d", day) < func.strftime("%m-%d", birth_date)
    return year_of(day) - year_of(birth_date) - cast(before_birthday, Integer)
