"""A report written out: CSV (one table), XLSX (a sheet per table, typed cells) and PDF (laid out for print, with
the charts as vector graphics). The page, the CLI and anything else that writes a report call these, so the files
are the same wherever they come from.

Large tables stream: CSV is yielded in chunks as the rows arrive from the database, XLSX is written by openpyxl's
write-only workbook (rows go to a temporary file, not to memory), and every row comes from
:meth:`reports.tables.Table.rows` in batches. A PDF is for reading: each table prints its first
:data:`PDF_ROWS` rows and says how many there are (the CSV and XLSX have them all).
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, Any

from flask import render_template
from flask_babel import gettext as _

from reports.charts import chart_data, svg
from reports.csv_copy import copy_lines
from reports.tables import Column, ReportResult, Table, cell

PDF_ROWS = 200
# WeasyPrint logs a warning for every CSS declaration it ignores (the screen-only styles the print templates share)
# in every PDF: a daily job writing a PDF per manager would fill its log, or block on a full pipe, with them
logging.getLogger("weasyprint").setLevel(logging.ERROR)
#: a text cell a spreadsheet would run as a formula is written with a leading quote, so it shows as text
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_FORMATS = {"money": "#,##0.00", "decimal": "0.0000", "rate": "0.00%", "int": "0", "date": "yyyy-mm-dd"}
#: called after the rows written with their number, for a progress bar (the CLI)
Progress = Callable[[int], None]


@dataclass
class Heading:
    """What a file says about itself: the report's title, its filters in words, when and for whom it was made."""

    title: str
    filters: list[tuple[str, str]]
    made_on: date
    scope: str


def csv_chunks(table: Table, *, pseudonymise: bool, progress: Progress | None = None) -> Iterator[bytes]:
    """``table`` as CSV in UTF-8 bytes (with a BOM, so that Excel reads Chinese text), each line ending in LF: a
    header of column labels, then every row; numbers plain (a rate as its fraction, 0.923400), dates ISO, coded values
    by their labels. Bytes and LF because that is what ``COPY`` sends: the rows it writes pass through untouched."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    buffer.write("\ufeff")
    writer.writerow([str(column.label) for column in table.columns])
    lines = copy_lines(table, pseudonymise=pseudonymise)
    if lines is not None:  # PostgreSQL writes the same rows itself, several times faster (reports.csv_copy)
        yield buffer.getvalue().encode()
        for chunk, count in lines:
            yield chunk
            if progress:
                progress(count)
        return
    for n, row in enumerate(table.rows(), 1):
        values = [_csv_value(cell(column, row, pseudonymise=pseudonymise)) for column in table.columns]
        if any(isinstance(value, str) and "\r" in value for value in values):
            buffer.write(_carriage_return_row(values))
        else:
            writer.writerow(values)
        if progress:
            progress(1)
        if n % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _carriage_return_row(values: list) -> str:
    """A row with a carriage return inside a field, that field quoted as ``COPY`` quotes it (the ``csv`` module
    quotes only the characters of its line ending, here LF): written with a CRLF writer, its ending made LF."""
    line = io.StringIO()
    csv.writer(line, lineterminator="\r\n").writerow(values)
    return line.getvalue()[:-2] + "\n"


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return f"'{value}"
    return value


def write_xlsx(result: ReportResult, heading: Heading, target: IO[bytes], *, pseudonymise: bool,
               progress: Progress | None = None) -> None:
    """``result`` as an XLSX workbook into ``target``: a first sheet with the heading and filters, then a sheet per
    table with a bold header row and typed cells (numbers, money with two decimals, rates as percentages, dates)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    about = workbook.create_sheet(_sheet_title(_("Report")))
    bold = Font(bold=True)
    title = WriteOnlyCell(about, heading.title)
    title.font = Font(bold=True, size=14)
    about.append([title])
    for label, value in [(_("Made on"), heading.made_on.isoformat()), (_("Scope"), heading.scope),
                         *heading.filters]:
        about.append([label, value])
    for table in result.tables:
        sheet = workbook.create_sheet(_sheet_title(str(table.title)))
        header = []
        for column in table.columns:
            head = WriteOnlyCell(sheet, str(column.label))
            head.font = bold
            header.append(head)
        sheet.append(header)
        for row in table.rows():
            sheet.append([_xlsx_cell(sheet, column, cell(column, row, pseudonymise=pseudonymise), WriteOnlyCell)
                          for column in table.columns])
            if progress:
                progress(1)
    workbook.save(target)


def _xlsx_cell(sheet, column: Column, value: Any, cell_class) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        value = float(value) if column.kind != "money" else value
    if isinstance(value, str) and value.startswith(FORMULA_START):
        value = f"'{value}"
    number_format = XLSX_FORMATS.get(column.kind)
    if number_format is None:
        return value
    typed = cell_class(sheet, value)
    typed.number_format = number_format
    return typed


def _sheet_title(text: str) -> str:
    # Excel refuses these characters and titles over 31 characters
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in text)
    return cleaned[:31] or "Sheet"


def xlsx_file(result: ReportResult, heading: Heading, *, pseudonymise: bool) -> IO[bytes]:
    """The workbook in a temporary file (kept in memory up to a few megabytes, on disk beyond), rewound."""
    target = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - handed to the response
    write_xlsx(result, heading, target, pseudonymise=pseudonymise)
    target.seek(0)
    return target


def pdf_bytes(result: ReportResult, heading: Heading, *, pseudonymise: bool) -> bytes:
    """The report laid out for print (A4 landscape): title, filters, date, the charts as SVG and each table's first
    :data:`PDF_ROWS` rows. Rendered by WeasyPrint with a URL fetcher that fetches nothing: no network, ever."""
    from weasyprint import HTML

    tables = []
    for table in result.tables:
        rows, total = table.page(1, PDF_ROWS)
        cells = [[cell(column, row, pseudonymise=pseudonymise) for column in table.columns] for row in rows]
        tables.append({"table": table, "rows": cells, "total": total})
    charts = []
    for chart in result.charts:
        table = result.table(chart.table)
        rows, _total = table.page(1, PDF_ROWS)
        charts.append(svg(chart_data(chart, table, rows, pseudonymise=pseudonymise, with_links=False)))
    html = render_template("reports/report_pdf.html", heading=heading, tables=tables, charts=charts,
                           notes=result.notes, shown=PDF_ROWS)
    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()


def _no_fetching(url: str, *args, **kwargs):
    raise ValueError(f"a report's PDF loads nothing from outside: {url}")
