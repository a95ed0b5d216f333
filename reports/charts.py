"""A report's charts, drawn from the rows of its tables: by plotly in the browser (interactive, a bar's click opens
the list behind it) and by matplotlib as SVG in the PDF (vector graphics, drawn on the server without any network).

Both drawings read the same :class:`ChartData`, so the page and the PDF show the same bars with the same labels.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import plotly.graph_objects as go
from markupsafe import Markup

from reports.tables import Chart, Table, cell

#: the most bars a chart shows (the table below it has every row)
MOST_BARS = 30


@dataclass
class ChartData:
    title: str
    kind: str
    categories: list[str]
    #: (label, values, on the second axis, is a rate)
    series: list[tuple[str, list[float | None], bool, bool]]
    links: list[str | None]


def chart_data(chart: Chart, table: Table, rows: list[Mapping], *, pseudonymise: bool,
               with_links: bool = True) -> ChartData:
    """The categories and series of ``chart`` from the first :data:`MOST_BARS` of ``rows`` (rows of ``table``), with
    the link of each point to the list behind it (for a page: ``with_links`` needs a request to build URLs)."""
    rows = rows[:MOST_BARS]
    columns = {column.key: column for column in table.columns}
    x_column = columns[chart.x]
    categories = [_text(cell(x_column, row, pseudonymise=pseudonymise)) for row in rows]
    series = []
    for key in chart.series:
        column = columns[key]
        values = [_number(cell(column, row, pseudonymise=pseudonymise)) for row in rows]
        series.append((str(column.label), values, key in chart.secondary, column.kind == "rate"))
    links = [table.link(row) if table.link and with_links else None for row in rows]
    return ChartData(str(chart.title), chart.kind, categories, series, links)


def _text(value) -> str:
    return "—" if value is None else str(value)


def _number(value) -> float | None:
    # plotly and matplotlib draw floats; the figures themselves stay Decimal in the tables and exports
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | int | float) else None


# -- the page: plotly --------------------------------------------------------------------------------------

def plotly_json(data: ChartData) -> Markup:
    """The plotly figure as JSON for ``<script type="application/json" data-chart>`` (drawn by static/js/app.js);
    each point carries the URL of the list behind it as ``customdata``."""
    traces = []
    for label, values, secondary, _is_rate in data.series:
        common = {"x": data.categories, "y": values, "name": label, "customdata": data.links,
                  "yaxis": "y2" if secondary else "y"}
        if data.kind == "line" or secondary:
            traces.append(go.Scatter(mode="lines+markers", **common))
        else:
            traces.append(go.Bar(**common))
    figure = go.Figure(traces)
    rate_axes = {("y2" if secondary else "y") for _, _, secondary, is_rate in data.series if is_rate}
    layout = {"yaxis": {"rangemode": "tozero", "automargin": True}, "xaxis": {"automargin": True, "type": "category"}}
    if any(secondary for _, _, secondary, _ in data.series):
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "rangemode": "tozero"}
    for axis in rate_axes:
        layout["yaxis" if axis == "y" else "yaxis2"]["tickformat"] = ".0%"
    figure.update_layout(template="none", margin={"l": 60, "r": 60, "t": 30, "b": 60},
                         legend={"orientation": "h", "y": -0.25}, **layout)
    text = figure.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for a JSON script element


# -- the PDF: matplotlib SVG -------------------------------------------------------------------------------

def svg(data: ChartData) -> Markup:
    """The chart as an SVG document whose texts stay text (searchable and copyable in the PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import PercentFormatter

    with matplotlib.rc_context({"svg.fonttype": "none", "font.family": ["DejaVu Sans", "Noto Sans CJK SC"],
                                "font.size": 8, "svg.hashsalt": "insurecrm"}):
        figure, axis = pyplot.subplots(figsize=(7.2, 3.2))
        try:
            _draw(axis, data, PercentFormatter)
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        finally:
            pyplot.close(figure)
    text = buffer.getvalue()
    return Markup(text[text.index("<svg"):])  # noqa: S704 - matplotlib's own SVG, texts escaped by it


def _draw(axis, data: ChartData, percent_formatter) -> None:
    positions = list(range(len(data.categories)))
    primary = [s for s in data.series if not s[2]]
    secondary = [s for s in data.series if s[2]]
    width = 0.8 / max(1, len(primary))
    for index, (label, values, _, _) in enumerate(primary):
        heights = [0 if v is None else v for v in values]
        if data.kind == "line":
            axis.plot(positions, heights, marker="o", label=label)
        else:
            axis.bar([p + (index - (len(primary) - 1) / 2) * width for p in positions], heights, width, label=label)
    if any(is_rate for _, _, on_second, is_rate in data.series if not on_second):
        axis.yaxis.set_major_formatter(percent_formatter(1.0))
    handles, labels = axis.get_legend_handles_labels()
    if secondary:
        other = axis.twinx()
        for label, values, _, _ in secondary:
            other.plot(positions, [float("nan") if v is None else v for v in values], marker="o", color="C3",
                       label=label)
        if any(is_rate for _, _, _, is_rate in secondary):
            other.yaxis.set_major_formatter(percent_formatter(1.0))
        more_handles, more_labels = other.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    # labels that would run into each other are slanted
    crowded = len(positions) > 6 or sum(len(label) for label in data.categories) > 48
    axis.set_xticks(positions, data.categories, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    axis.set_title(data.title)
    axis.spines[["top", "right"]].set_visible(False)
    if handles:
        # below the axis labels (further below slanted ones)
        axis.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.45 if crowded else -0.15), ncols=3,
                    frameon=False)
