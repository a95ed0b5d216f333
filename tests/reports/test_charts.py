"""The charts' axes of counts read in whole numbers, each once: 0, 1, 2 — never 0, 1, 1, 2."""

from __future__ import annotations

import json
from datetime import date

import pytest

from reports.views import count_axis, trend_chart


def ticks(axis: dict) -> list[float]:
    """The tick values plotly draws on a linear axis from ``tick0`` by ``dtick`` across ``range``."""
    values, value = [], axis["tick0"]
    while value <= axis["range"][1]:
        values.append(value)
        value += axis["dtick"]
    return values


@pytest.mark.parametrize("most", [0, 1, 2, 3, 7, 13, 61, 100, 4999])
def test_whole_numbers_once_each_from_zero(most):
    axis = count_axis([0, most])
    shown = [f"{value:,.0f}" for value in ticks(axis)]
    assert all(float(value).is_integer() for value in ticks(axis))
    assert len(shown) == len(set(shown)) and shown[0] == "0"
    assert 2 <= len(shown) <= 7 and axis["range"][1] >= most
    assert axis["tickformat"] == ",d"


def test_the_lapse_axis_of_the_dashboard(app):
    trend = [{"month": date(2026, m, 1), "new_premium": 0, "lapses": lapses} for m, lapses in ((4, 0), (5, 2), (6, 1))]
    with app.test_request_context():
        layout = json.loads(str(trend_chart(trend)))["layout"]
    assert layout["yaxis2"]["dtick"] == 1 and layout["yaxis2"]["tick0"] == 0
    assert [f"{v:,.0f}" for v in ticks(layout["yaxis2"])] == ["0", "1", "2"]
