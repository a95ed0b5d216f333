"""What a report is made of, whatever it is shown as: tables of typed columns over SQL statements, and charts
drawn from those tables.

A report's service returns a :class:`ReportResult`. Each :class:`Table` holds a ``SELECT`` (never rows), whose
labelled columns are the table's :class:`Column` keys: the page pages through it, the API pages through it, the
CSV, XLSX and PDF stream it, so every output shows the same figure from the same SQL. A :class:`Column`'s
``kind`` says how a value is written (a number, money, a rate, a date, a coded value by its label, a person by
name or by pseudonym); :func:`cell` does it, in one place, for every output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, func, select

from insurecrm import labels
from insurecrm.db import db
from insurecrm.pii import pseudonym

#: how a column's values are written:
#: - ``text``: as is; ``int``: a whole number; ``money``: Decimal with 2 places; ``decimal``: Decimal with 4 places
#:   (exposure in years, a score); ``rate``: a fraction (0.9234) shown as a percentage (92.34%);
#: - ``date``: a date; ``label:<registry>``: a stored code shown by its label (``label:sales_channel``);
#: - ``policyholder`` / ``agent`` / ``referrer``: a record's id, shown by the name in the column ``name_key`` of the
#:   same row, or by its stable pseudonym for a role that may not see personal data (the actuary).
KINDS = {"text", "int", "money", "decimal", "rate", "date", "policyholder", "agent", "referrer"}
PERSON_KINDS = {"policyholder", "agent", "referrer"}
CENT, TEN_THOUSANDTH = Decimal("0.01"), Decimal("0.0001")


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy translated string
    kind: str = "text"
    #: for person kinds: the row's column holding the name (never shown to the actuary)
    name_key: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS and not self.kind.startswith("label:"):
            raise ValueError(f"unknown column kind {self.kind!r}")

    @property
    def is_number(self) -> bool:
        return self.kind in {"int", "money", "decimal", "rate"}


@dataclass
class Table:
    """One table of a report: ``statement`` selects the columns labelled with the ``columns``' keys (and the
    ``name_key`` columns of persons), already in the order the table is read in."""

    key: str
    title: Any
    columns: list[Column]
    statement: Select
    #: a row's link to the list or record behind it, for pages: ``row -> url`` (or None)
    link: Callable[[Mapping], str | None] | None = None
    #: columns a page shows as links rather than as their text: ``key -> (row -> [(text, url or None)])`` (the
    #: files and the API keep the column's text)
    cell_links: dict[str, Callable[[Mapping], list[tuple[str, str | None]]]] = field(default_factory=dict)

    def rows(self, *, batch: int = 2000) -> Iterator[Mapping]:
        """Every row, streamed from the database in batches (exports): never the whole table in memory."""
        result = db.session.execute(self.statement.execution_options(yield_per=batch))
        for row in result:
            yield row._mapping

    def page(self, page: int, per_page: int) -> tuple[list[Mapping], int]:
        """One page of rows and the total count: two queries whatever the size of the table."""
        total = db.session.scalar(select(func.count()).select_from(self.statement.order_by(None).subquery()))
        rows = db.session.execute(self.statement.limit(per_page).offset((page - 1) * per_page)).all()
        return [row._mapping for row in rows], total


@dataclass
class Chart:
    """A chart drawn from a table: ``x`` is a column key, each of ``series`` a numeric column key. ``kind`` is
    ``bar``, ``line`` or ``pareto`` (bars and their cumulative share on a second axis). The same chart is drawn by
    plotly on the page and as vector graphics in the PDF (:mod:`reports.charts`)."""

    key: str
    title: Any
    table: str
    x: str
    series: list[str]
    kind: str = "bar"
    #: series drawn on a second axis (rates beside counts)
    secondary: list[str] = field(default_factory=list)


@dataclass
class ReportResult:
    """A report for one user and one set of filters: its tables, its charts and notes on how to read them."""

    tables: list[Table]
    charts: list[Chart] = field(default_factory=list)
    notes: list[Any] = field(default_factory=list)

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)


def cell(column: Column, row: Mapping, *, pseudonymise: bool) -> Any:
    """The value of ``column`` in ``row`` as outputs write it: ``Decimal`` for money (2 places), decimals (4
    places) and rates (the fraction, 4 places of a percentage); ``int``; ``date``; a label's text; a person's name
    or pseudonym. ``None`` stays ``None`` (no figure, e.g. a rate over an empty base)."""
    value = row[column.key]
    if value is None:
        return None
    kind = column.kind
    if kind in PERSON_KINDS:
        if pseudonymise:
            return pseudonym(kind, value)
        return row[column.name_key] if column.name_key else value
    if kind == "money":
        return _decimal(value, CENT)
    if kind == "decimal":
        return _decimal(value, TEN_THOUSANDTH)
    if kind == "rate":
        return _decimal(value, Decimal("0.000001"))
    if kind == "int":
        return int(value)
    if kind == "date":
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if kind.startswith("label:"):
        return labels.label(value, kind.removeprefix("label:"))
    return value


def _decimal(value: Any, places: Decimal) -> Decimal:
    # SQLite sums and divides NUMERIC as floating point: through its shortest text, then rounded as money is
    return Decimal(str(value)).quantize(places, rounding=ROUND_HALF_UP)
