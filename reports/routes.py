"""Reports API: the book summary, and every report of the catalogue as ``GET /api/v1/reports/<name>``.

Each report is its own operation in the OpenAPI description, with its own filters; the answer is one table of
the report (``table``, default the first), one page of its rows, with the columns' keys, labels and kinds. Values
are written as the report's outputs write them: money, rates and decimals as strings (``"1234.50"``, a rate as its
fraction ``"0.923400"``), counts as integers, dates as ISO dates, persons by name or, for the actuary, by
pseudonym.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import marshmallow as ma
from marshmallow import fields

from insurecrm import clock
from insurecrm.api import Schema, api_blueprint, current_user
from insurecrm.auth import INTERNAL_ROLES, require_roles
from insurecrm.pii import must_pseudonymise
from reports import modules, services  # noqa: F401 - modules registers the reports
from reports.catalogue import REPORTS, Report
from reports.schemas import BookSummary, SummaryArgs
from reports.tables import cell

reports_blp = api_blueprint("reports_api", __name__, description="Reports, aggregated in SQL within your scope.")
API_BLUEPRINTS = (reports_blp,)


@reports_blp.route("/reports/book-summary")
@require_roles(*INTERNAL_ROLES)
@reports_blp.arguments(SummaryArgs, location="query")
@reports_blp.response(200, BookSummary)
def book_summary(args):
    """Policyholders by status; in-force policies and annualised premium by channel."""
    return services.book_summary(current_user(), args.get("as_of") or clock.today())


class ColumnOut(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "text, int, money, decimal, rate, date, label:…, "
                                                                 "policyholder, agent or referrer"})


class FilterOut(Schema):
    label = fields.String(required=True)
    value = fields.String(required=True)


class PageOut(ma.Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class ReportPage(Schema):
    report = fields.String(required=True)
    title = fields.String(required=True)
    filters = fields.List(fields.Nested(FilterOut), required=True)
    tables = fields.List(fields.String(), required=True, metadata={"description": "The keys of the report's tables."})
    table = fields.String(required=True, metadata={"description": "The key of the table these rows are of."})
    columns = fields.List(fields.Nested(ColumnOut), required=True)
    rows = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)), required=True,
                       metadata={"description": "One object per row, keyed by the columns' keys."})
    meta = fields.Nested(PageOut, required=True)


def _api_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _operation(report: Report):
    """The view of ``GET /reports/<report.name>``, with the report's own filters and ``table``."""
    args_schema = type(f"{report.args.__name__}Api", (report.args,), {
        "table": fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
            "description": "Which of the report's tables (its key); the first when not given."}),
    })

    @require_roles(*report.roles)
    def view(args):
        from reports.report_views import heading

        result = report.build(current_user(), args, clock.today())
        table = next((t for t in result.tables if t.key == (args.get("table") or result.tables[0].key)), None)
        if table is None:
            keys = ", ".join(t.key for t in result.tables)
            raise ma.ValidationError({"table": [f"Not a table of this report: {keys}."]})
        rows, total = table.page(args["page"], args["per_page"])
        hidden = must_pseudonymise()
        return {
            "report": report.name, "title": str(report.title), "tables": [t.key for t in result.tables],
            "filters": [{"label": label, "value": value} for label, value in heading(report, args).filters],
            "table": table.key,
            "columns": [{"key": c.key, "label": str(c.label), "kind": c.kind} for c in table.columns],
            "rows": [{c.key: _api_value(cell(c, row, pseudonymise=hidden)) for c in table.columns} for row in rows],
            "meta": {"total": total, "page": args["page"], "per_page": args["per_page"],
                     "pages": -(-total // args["per_page"]) if total else 0},
        }

    view.__name__ = f"report_{report.name.replace('-', '_')}"
    view.__doc__ = f"{report.title}: {report.description}"
    view = reports_blp.response(200, ReportPage)(view)
    view = reports_blp.arguments(args_schema, location="query")(view)
    reports_blp.route(f"/reports/{report.name}", endpoint=view.__name__)(view)


for _report in sorted(REPORTS.values(), key=lambda r: r.name):
    _operation(_report)
