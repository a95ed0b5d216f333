"""The reports' date arithmetic gives the same answers on SQLite and PostgreSQL, at month ends and leap days."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from reports import sql

CASES = [
    # one month after 31 January is the end of February (a leap year's 29th)
    (lambda: sql.add_months(date(2024, 1, 31), 1), date(2024, 2, 29)),
    # the first anniversary of a policy issued on 29 February falls on 28 February
    (lambda: sql.add_months(date(2024, 2, 29), 12), date(2025, 2, 28)),
    (lambda: sql.add_months(date(2024, 2, 29), 48), date(2028, 2, 29)),
    (lambda: sql.add_months(date(2023, 3, 31), -1), date(2023, 2, 28)),
    (lambda: sql.add_months(date(2023, 5, 15), 13), date(2024, 6, 15)),
    (lambda: sql.add_days(date(2024, 2, 28), 2), date(2024, 3, 1)),
    (lambda: sql.days_between(date(2024, 1, 1), date(2025, 1, 1)), 366),
    (lambda: sql.days_between(date(2025, 1, 1), date(2024, 12, 31)), -1),
    # born on 29 February: 20 on 28 February 2021, 21 on 1 March
    (lambda: sql.age_on(date(2000, 2, 29), date(2021, 2, 28)), 20),
    (lambda: sql.age_on(date(2000, 2, 29), date(2021, 3, 1)), 21),
    (lambda: sql.age_on(date(1990, 6, 15), date(2026, 6, 14)), 35),
    (lambda: sql.age_on(date(1990, 6, 15), date(2026, 6, 15)), 36),
    (lambda: sql.year_of(date(2026, 6, 14)), 2026),
    (lambda: sql.month_of(date(2026, 6, 14)), "2026-06"),
    (lambda: sql.least(date(2026, 6, 14), date(2026, 1, 1)), date(2026, 1, 1)),
    (lambda: sql.greatest(3, 7, 5), 7),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_date_arithmetic(session, expression, expected):
    value = session.scalar(select(expression()))
    if isinstance(expected, date):
        value = value if isinstance(value, date) else date.fromisoformat(value)
    assert value == expected


def test_a_ratio_over_zero_is_no_figure(session):
    assert session.scalar(select(sql.ratio(1, 0))) is None
    assert float(session.scalar(select(sql.ratio(1, 4)))) == 0.25
