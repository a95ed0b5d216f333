"""Campaign effectiveness as a report (:class:`reports.tables.ReportResult`): the tables and charts the pages draw
and :mod:`reports.exports` writes as CSV, XLSX and PDF, so that every output shows the figures of
:func:`policyholders.campaigns.effect.effect_of` and nothing else.

The figures are a few rows (a campaign, its runs), computed in two queries; each table's ``SELECT`` hands those
rows back as typed literals (a ``UNION ALL`` of one-row selects, in order), which is what a report table is made of.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Float, Integer, Numeric, String, cast, false, literal, null, select, type_coerce, union_all

from insurecrm.db import db
from policyholders.campaigns.effect import CampaignEffect, Effect
from reports.tables import Chart, Column, ReportResult, Table

FIGURES = [
    Column("members", _l("Members"), "int"),
    Column("control", _l("Control group"), "int"),
    Column("reached", _l("Reached"), "int"),
    Column("delivered", _l("Delivered"), "int"),
    Column("responded", _l("Responded"), "int"),
    Column("converted", _l("Converted"), "int"),
    Column("treated_rate", _l("Conversion rate"), "rate"),
    Column("control_converted", _l("Control converted"), "int"),
    Column("control_rate", _l("Control conversion rate"), "rate"),
    Column("uplift", _l("Uplift"), "rate"),
    Column("uplift_low", _l("Uplift, lower bound (95 percent confidence)"), "rate"),
    Column("uplift_high", _l("Uplift, upper bound (95 percent confidence)"), "rate"),
    Column("premium_won", _l("Premium won"), "money"),
    Column("cost", _l("Cost"), "money"),
    Column("cost_per_conversion", _l("Cost per conversion"), "money"),
]
CAMPAIGN_COLUMNS = [Column("campaign", _l("Campaign")), Column("status", _l("Status"), "label:campaign_status"),
                    Column("runs", _l("Runs"), "int"), *FIGURES]
RUN_COLUMNS = [Column("run_date", _l("Run date"), "date"), *FIGURES]
FUNNEL_COLUMNS = [Column("stage", _l("Stage")), Column("members", _l("Members"), "int")]
SQL_TYPES = {"int": Integer, "money": Numeric(14, 2), "rate": Float, "date": Date}


def figures(effect: Effect) -> dict[str, Any]:
    """The row of an :class:`Effect`: its counts, rates, uplift and interval (``None`` without a control group),
    money."""
    found = effect.uplift
    treated_rate = effect.converted / effect.treated if effect.treated else None
    control_rate = effect.control_converted / effect.control if effect.control else None
    return {"members": effect.members, "control": effect.control, "reached": effect.reached,
            "delivered": effect.delivered, "responded": effect.responded, "converted": effect.converted,
            "treated_rate": treated_rate, "control_converted": effect.control_converted, "control_rate": control_rate,
            "uplift": found.difference if found else None, "uplift_low": found.low if found else None,
            "uplift_high": found.high if found else None, "premium_won": effect.premium_won, "cost": effect.cost,
            "cost_per_conversion": effect.cost_per_conversion}


def campaign_report(found: CampaignEffect) -> ReportResult:
    """One campaign's effectiveness: the campaign in a row, its funnel, its runs by date; the funnel's chart and
    the runs' conversions and rates."""
    campaign = found.campaign
    summary = rows_table("campaign", _l("Campaign"), CAMPAIGN_COLUMNS, [_campaign_row(found)])
    effect = found.effect
    stages = [(_l("Members"), effect.members), (_l("Control group"), effect.control),
              (_l("Reached"), effect.reached), (_l("Delivered"), effect.delivered),
              (_l("Responded"), effect.responded), (_l("Converted"), effect.converted)]
    funnel = rows_table("funnel", _l("Funnel"), FUNNEL_COLUMNS,
                        [{"stage": str(stage), "members": count} for stage, count in stages])
    runs = rows_table("runs", _l("Runs"), RUN_COLUMNS,
                      [{"run_date": run.run_date, **figures(run.effect)} for run in found.runs])
    charts = [Chart("funnel", _l("From members to conversions"), "funnel", "stage", ["members"]),
              Chart("runs", _l("Conversions by run"), "runs", "run_date", ["converted", "control_converted"]),
              Chart("rates", _l("Conversion rate, treated and control"), "runs", "run_date",
                    ["treated_rate", "control_rate"], kind="line")]
    notes = [_l("Counts are member rows: a policyholder in two runs counts in each. A conversion is an opportunity "
                "or a new-business policy within %(days)s days of the message, credited to the last campaign "
                "touch before it.", days=campaign.conversion_window_days)]
    return ReportResult([summary, funnel, runs], charts, notes)


def campaigns_report(effects: list[CampaignEffect], link: Callable[[int], str] | None = None) -> ReportResult:
    """Every campaign a user may see, one row each, by name; a chart of the treated and control conversion rates."""
    rows = [_campaign_row(found) for found in effects]
    table = rows_table("campaigns", _l("Campaigns"), CAMPAIGN_COLUMNS, rows,
                       link=(lambda row: link(row["campaign_id"])) if link else None)
    chart = Chart("rates", _l("Conversion rate, treated and control"), "campaigns", "campaign",
                  ["treated_rate", "control_rate"])
    return ReportResult([table], [chart])


def _campaign_row(found: CampaignEffect) -> dict[str, Any]:
    return {"campaign_id": found.campaign.id, "campaign": found.campaign.name,
            "status": found.campaign.status.value, "runs": len(found.runs), **figures(found.effect)}


def rows_table(key: str, title, columns: list[Column], rows: list[dict[str, Any]], *,
               link: Callable | None = None) -> Table:
    """A report table over ``rows`` already computed: its ``SELECT`` returns them, typed, in the order given."""
    keys = [column.key for column in columns]
    types = {column.key: _sql_type(column) for column in columns}
    extra = [key for key in (rows[0] if rows else {}) if key not in types]
    types |= {key: Integer for key in extra}

    def one(position: int, row: dict[str, Any]):
        values = [_typed(row.get(key), types[key]).label(key) for key in [*keys, *extra]]
        return select(literal(position, Integer).label("position"), *values)

    selects = [one(position, row) for position, row in enumerate(rows)]
    if not selects:
        selects = [one(0, {}).where(false())]
    rows_of = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery(key)
    statement = select(*(rows_of.c[key] for key in [*keys, *extra])).order_by(rows_of.c.position)
    return Table(key, title, columns, statement, link=link)


def _sql_type(column: Column):
    return SQL_TYPES.get(column.kind, String(255))


def _typed(value, sql_type):
    # PostgreSQL must know each column's type across the UNION, NULLs included; SQLite's CAST would make a date a
    # number, and its columns have no type to know
    typed = type_coerce(null(), sql_type) if value is None else literal(value, sql_type)
    return cast(typed, sql_type) if db.dialect == "postgresql" else typed
