"""The Reports section: the index of the reports a role may run, each report's page (filters, charts, tables paged,
a bar's click opening the list behind it) and its downloads (CSV per table, XLSX, PDF).

Every page reads the catalogue (:mod:`reports.catalogue`): a report registered once is listed, drawn, exported and
refused to the roles it is not for (403) in the same way. The figures are the report's SQL, run in the user's scope;
for the actuary every person is a pseudonym (:func:`reports.tables.cell`).
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from babel.numbers import format_decimal, format_percent
from flask import Blueprint, Response, abort, g, render_template, request, send_file, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from agents.models import OrgUnit
from insurecrm import clock
from insurecrm.db import db
from insurecrm.i18n import day, money, number
from insurecrm.labels import label
from insurecrm.models import Role
from insurecrm.pii import must_pseudonymise
from insurecrm.scope import org_subtree_condition, visible
from insurecrm.web import INTERNAL, Page, page_roles
from policies.models import Product, SalesChannel
from reports import modules  # noqa: F401 - registers the reports
from reports.catalogue import REPORTS, Report, for_role
from reports.charts import chart_data, plotly_json
from reports.exports import Heading, csv_chunks, pdf_bytes, xlsx_file
from reports.filters import COMMON_FILTERS, Filters
from reports.tables import ReportResult, cell

bp = Blueprint("reports_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
PER_PAGE = 25


@bp.get("/reports")
@page_roles(*INTERNAL)
def index():
    """The reports this user's role may run."""
    reports = for_role(g.user.role)
    if not reports:
        abort(403)
    return render_template("reports/index.html", reports=reports)


@bp.get("/reports/<name>")
@page_roles(*INTERNAL)
def show(name: str):
    """One report: its filters, charts and tables (each paged by ``page_<table>``), with its downloads."""
    report = _report_or_404(name)
    try:
        args = _args(report)
    except ma.ValidationError as exc:
        return render_template("reports/report.html", report=report, errors=exc.normalized_messages(),
                               form=_form(report, {}), result=None, **_choices()), 422
    result = report.build(g.user, args, clock.today())
    hidden = must_pseudonymise()
    tables = []
    for table in result.tables:
        page = _table_page(table.key)
        rows, total = table.page(page, PER_PAGE)
        tables.append({"table": table, "page": Page(rows, total, page, PER_PAGE), "hidden": hidden})
    charts = []
    for chart in result.charts:
        table = result.table(chart.table)
        rows = next(t["page"].items for t in tables if t["table"].key == table.key) if _first_page(table.key) \
            else table.page(1, PER_PAGE)[0]
        charts.append({"chart": chart, "json": plotly_json(chart_data(chart, table, rows, pseudonymise=hidden))})
    return render_template("reports/report.html", report=report, errors=None, form=_form(report, args),
                           result=result, tables=tables, charts=charts, filters=_filter_text(report, args),
                           cell=cell, **_choices())


@bp.get("/reports/<name>.csv")
@page_roles(*INTERNAL)
def export_csv(name: str):
    """One table of the report (``table``, default the first) as CSV, streamed."""
    report = _report_or_404(name)
    result = report.build(g.user, _args(report), clock.today())
    key = request.args.get("table") or result.tables[0].key
    table = next((t for t in result.tables if t.key == key), None)
    if table is None:
        abort(404)
    chunks = csv_chunks(table, pseudonymise=must_pseudonymise())
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(report, key)}.csv"'})


@bp.get("/reports/<name>.xlsx")
@page_roles(*INTERNAL)
def export_xlsx(name: str):
    """The report as a workbook: a sheet with its heading, then a sheet per table."""
    report = _report_or_404(name)
    args = _args(report)
    result = report.build(g.user, args, clock.today())
    workbook = xlsx_file(result, heading(report, args), pseudonymise=must_pseudonymise())
    return send_file(workbook, as_attachment=True, download_name=f"{_filename(report)}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/reports/<name>.pdf")
@page_roles(*INTERNAL)
def export_pdf(name: str):
    """The report laid out for print, with its charts."""
    report = _report_or_404(name)
    args = _args(report)
    result: ReportResult = report.build(g.user, args, clock.today())
    document = pdf_bytes(result, heading(report, args), pseudonymise=must_pseudonymise())
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(report)}.pdf"'})


# -- helpers ------------------------------------------------------------------------------------------------

def _report_or_404(name: str) -> Report:
    """The report ``name``: 404 when there is none, 403 when the user's role may not run it."""
    report = REPORTS.get(name)
    if report is None:
        abort(404)
    if g.user.role not in report.roles:
        abort(403)
    return report


def _args(report: Report) -> dict:
    """The report's filters from the query string (an empty input is no filter); ``ValidationError`` if bad."""
    given = {key: value.strip() for key, value in request.args.items()
             if value.strip() and key in report.args._declared_fields}
    return report.args().load(given)


def _table_page(key: str) -> int:
    text = request.args.get(f"page_{key}", "").strip()
    if not text.isdigit():
        return 1
    return max(1, min(int(text), 1_000_000))


def _first_page(key: str) -> bool:
    return _table_page(key) == 1


def heading(report: Report, args: dict, *, user=None, today: date | None = None) -> Heading:
    """The heading of a file: title, filters in words, date and whose scope."""
    user, today = user or g.user, today or clock.today()
    return Heading(title=str(report.title), filters=_filter_text(report, args, today=today), made_on=today,
                   scope=_scope_text(user))


#: roles whose reports cover their own book (and, for a specialist, their bank partners'), not a unit's
OWN_BOOK = (Role.AGENT, Role.BANCASSURANCE_SPECIALIST)


def _scope_text(user) -> str:
    if user.role == Role.AGENT:
        return _("Your own book")
    if user.role == Role.BANCASSURANCE_SPECIALIST:
        return _("Your own book and your bank partners'")
    if user.role == Role.BRANCH_MANAGER and user.org_unit is not None:
        return user.org_unit.name
    return _("Whole company")


def _filter_text(report: Report, args: dict, *, today: date | None = None) -> list[tuple[str, str]]:
    """The filters as (label, value) in the reader's language: the period as resolved, then each filter given."""
    filters = Filters.from_args(args, today or clock.today())
    text = [(_("Period"), f"{filters.start.isoformat()} – {filters.end.isoformat()}")] if report.period else []
    fields = report.args._declared_fields
    for key, value in args.items():
        if key in ("start", "end", "page", "per_page", "table") or value in (None, False):
            continue
        field = fields[key]
        name = str(field.metadata.get("label", key))
        if key == "org_unit_id":
            shown = db.session.scalar(select(OrgUnit.name).where(OrgUnit.id == value)) or str(value)
        elif key == "product_id":
            shown = db.session.scalar(select(Product.name).where(Product.id == value)) or str(value)
        elif key == "channel":
            shown = label(value, "sales_channel")
        elif "choices" in field.metadata:
            shown = str(field.metadata["choices"].get(value, value))
        elif value is True:
            shown = _("Yes")
        else:
            shown = str(value)
        text.append((name, shown))
    return text


def _form(report: Report, args: dict) -> list[dict]:
    """The report's own filters (beyond the common ones) as form fields: a select for a choice, a checkbox for a
    flag, a number or a date input otherwise."""
    fields = []
    for key, field in report.args._declared_fields.items():
        if key in COMMON_FILTERS or key in ("page", "per_page"):
            continue
        if "choices" in field.metadata:
            kind = "select"
        elif isinstance(field, ma.fields.Boolean):
            kind = "checkbox"
        elif isinstance(field, ma.fields.Date):
            kind = "date"
        else:
            kind = "number"
        value = args.get(key, field.load_default if field.load_default is not ma.missing else None)
        fields.append({"key": key, "label": field.metadata.get("label", key), "kind": kind, "value": value,
                       "choices": field.metadata.get("choices", {})})
    return fields


def _choices() -> dict:
    """The branches, channels and products a user may filter by."""
    units_in_reach = (org_subtree_condition(OrgUnit.id, g.user) if g.user.role == Role.BRANCH_MANAGER
                      else visible(OrgUnit, g.user))
    units = [] if g.user.role in OWN_BOOK else db.session.execute(
        select(OrgUnit.id, OrgUnit.name).where(units_in_reach).order_by(OrgUnit.path)).all()
    products = db.session.execute(select(Product.id, Product.name).order_by(Product.name)).all()
    channels = [(c.value, label(c.value, "sales_channel")) for c in SalesChannel]
    return {"unit_choices": units, "product_choices": products, "channel_choices": channels}


def _filename(report: Report, table: str | None = None) -> str:
    return "-".join(part for part in (report.name, table if table else None, clock.today().isoformat()) if part)


@bp.app_template_filter()
def report_value(value, column) -> str:
    """A report's value as a page or the PDF prints it: money in the currency, a rate as a percentage, numbers
    grouped in the reader's locale, "—" for no figure."""
    if value is None:
        return "—"
    if column.kind == "money":
        return money(value)
    if column.kind == "rate":
        return format_percent(value, "#,##0.00%", locale=get_locale())
    if column.kind == "decimal":
        return format_decimal(value, "#,##0.0000", locale=get_locale())
    if column.kind == "int":
        return number(value)
    if column.kind == "date":
        return day(value)
    return str(value)


@bp.app_template_global()
def report_url(endpoint: str, name: str, **extra) -> str:
    """The URL of a report's page or download, keeping the filters of the current query string."""
    params = {key: value for key, value in request.args.items() if not key.startswith("page")}
    params.update(extra)
    return url_for(endpoint, name=name, **params)
