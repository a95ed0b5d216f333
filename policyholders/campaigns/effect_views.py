"""Pages of campaign effectiveness: every campaign the user may see (``/campaigns/effect``) and one campaign's
(``/campaigns/<id>/effect``: its figures, funnel, runs, the uplift over its control group read out in words, and
charts), each downloadable as CSV (a table), XLSX and PDF, written by :mod:`reports.exports` as every report is.
The figures are :func:`policyholders.campaigns.effect.effect_of`'s; a campaign out of the user's scope is a 404.
"""

from __future__ import annotations

import io

from babel.numbers import format_percent
from flask import Blueprint, Response, abort, g, render_template, request, send_file, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

import policyholders.permissions  # noqa: F401 - registers the campaign scope rule
from insurecrm import clock
from insurecrm.models import Role
from insurecrm.pii import must_pseudonymise
from insurecrm.scope import get_visible_or_404
from insurecrm.web import page_roles
from policyholders.campaigns.effect import CampaignEffect, effect_of
from policyholders.campaigns.effect_report import campaign_report, campaigns_report
from policyholders.campaigns.models import Campaign
from policyholders.campaigns.uplift import Uplift
from reports.charts import chart_data, plotly_json
from reports.exports import Heading, csv_chunks, pdf_bytes, write_xlsx
from reports.tables import ReportResult, cell

bp = Blueprint("campaign_effect_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
#: who sees campaigns (policyholders.permissions.campaign_rule): admins and actuaries all, managers their branch
EFFECT_ROLES = (Role.ADMIN, Role.ACTUARY, Role.BRANCH_MANAGER)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/campaigns/effect")
@page_roles(*EFFECT_ROLES)
def index():
    """Every campaign the user may see, one row each: three queries whatever the size of the campaigns."""
    result = _all()
    return render_template("campaigns/effect_list.html", **_drawn(result))


@bp.get("/campaigns/<int:campaign_id>/effect")
@page_roles(*EFFECT_ROLES)
def show(campaign_id: int):
    """One campaign's effectiveness, with its uplift over the control group in words."""
    found = _one(campaign_id)
    return render_template("campaigns/effect.html", campaign=found.campaign, reading=reading(found.effect.uplift),
                           uplift=found.effect.uplift, **_drawn(campaign_report(found)))


@bp.get("/campaigns/effect.csv")
@page_roles(*EFFECT_ROLES)
def index_csv():
    return _csv(_all(), "campaign-effect")


@bp.get("/campaigns/effect.xlsx")
@page_roles(*EFFECT_ROLES)
def index_xlsx():
    return _xlsx(_all(), _("Campaign effectiveness"), "campaign-effect")


@bp.get("/campaigns/effect.pdf")
@page_roles(*EFFECT_ROLES)
def index_pdf():
    return _pdf(_all(), _("Campaign effectiveness"), "campaign-effect")


@bp.get("/campaigns/<int:campaign_id>/effect.csv")
@page_roles(*EFFECT_ROLES)
def show_csv(campaign_id: int):
    """One table of the campaign's (``table``: campaign, funnel, runs; default the runs) as CSV."""
    return _csv(campaign_report(_one(campaign_id)), f"campaign-{campaign_id}-effect", default="runs")


@bp.get("/campaigns/<int:campaign_id>/effect.xlsx")
@page_roles(*EFFECT_ROLES)
def show_xlsx(campaign_id: int):
    found = _one(campaign_id)
    return _xlsx(campaign_report(found), _title(found), f"campaign-{campaign_id}-effect")


@bp.get("/campaigns/<int:campaign_id>/effect.pdf")
@page_roles(*EFFECT_ROLES)
def show_pdf(campaign_id: int):
    found = _one(campaign_id)
    return _pdf(campaign_report(found), _title(found), f"campaign-{campaign_id}-effect",
                notes=[reading(found.effect.uplift)])


def reading(found: Uplift | None) -> str:
    """The uplift in plain words, in the reader's language: what the campaign did against doing nothing."""
    if found is None:
        return _("No control group yet: give the campaign a control share to see what it adds over doing nothing.")
    words = {"treated": _percent(found.treated_rate), "control": _percent(found.control_rate),
             "uplift": _percent(abs(found.difference)), "low": _percent(found.low), "high": _percent(found.high)}
    measured = _("%(treated)s of the members converted, against %(control)s of the control group.", **words)
    if found.low > 0:
        verdict = _("The campaign added %(uplift)s (95%% confidence: between %(low)s and %(high)s): more than "
                    "doing nothing.", **words)
    elif found.high < 0:
        verdict = _("The members converted %(uplift)s less than the control group (95%% confidence: between "
                    "%(low)s and %(high)s): the campaign did worse than doing nothing.", **words)
    else:
        verdict = _("The difference (95%% confidence: between %(low)s and %(high)s) may be chance: the campaign "
                    "has not shown it does better than doing nothing.", **words)
    return f"{measured} {verdict}"


def _percent(value: float) -> str:
    return format_percent(value, "#,##0.0%", locale=get_locale())


def _all() -> ReportResult:
    return campaigns_report(effect_of(g.user),
                            link=lambda campaign_id: url_for("campaign_effect_web.show", campaign_id=campaign_id))


def _one(campaign_id: int) -> CampaignEffect:
    """The campaign's effect: 404 when the user may not see the campaign."""
    get_visible_or_404(Campaign, campaign_id)
    found = effect_of(g.user, campaign_id)
    if not found:
        abort(404)
    return found[0]


def _title(found: CampaignEffect) -> str:
    return _("Effectiveness of %(name)s", name=found.campaign.name)


def _drawn(result: ReportResult) -> dict:
    """The page's tables (every row: a few) and charts."""
    hidden = must_pseudonymise()
    tables = [{"table": table, "rows": table.page(1, 1000)[0]} for table in result.tables]
    rows = {item["table"].key: item["rows"] for item in tables}
    charts = [{"chart": chart, "json": plotly_json(chart_data(chart, result.table(chart.table), rows[chart.table],
                                                              pseudonymise=hidden))} for chart in result.charts]
    return {"result": result, "tables": tables, "charts": charts, "cell": cell, "hidden": hidden}


def _heading(title: str) -> Heading:
    user = g.user
    managed = user.role == Role.BRANCH_MANAGER and user.org_unit is not None
    scope = user.org_unit.name if managed else _("Whole company")
    return Heading(title=title, filters=[], made_on=clock.today(), scope=scope)


def _csv(result: ReportResult, name: str, *, default: str | None = None) -> Response:
    key = request.args.get("table") or default or result.tables[0].key
    table = next((table for table in result.tables if table.key == key), None)
    if table is None:
        abort(404)
    chunks = csv_chunks(table, pseudonymise=must_pseudonymise())
    return Response(stream_with_context(chunks), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}-{key}-{clock.today()}.csv"'})


def _xlsx(result: ReportResult, title: str, name: str) -> Response:
    # a few rows: in memory (no temporary file for the response to close)
    workbook = io.BytesIO()
    write_xlsx(result, _heading(title), workbook, pseudonymise=must_pseudonymise())
    workbook.seek(0)
    return send_file(workbook, as_attachment=True, download_name=f"{name}-{clock.today()}.xlsx", mimetype=XLSX)


def _pdf(result: ReportResult, title: str, name: str, *, notes: list | None = None) -> Response:
    result.notes = [*(notes or []), *result.notes]
    document = pdf_bytes(result, _heading(title), pseudonymise=must_pseudonymise())
    return Response(document, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}-{clock.today()}.pdf"'})
