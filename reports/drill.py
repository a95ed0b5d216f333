"""Where a bar or a row of a report grouped by a dimension leads: the same report narrowed to that group and broken
down one level finer (a branch into its agents, a channel or a product into ...), or an agent's own page on the
dashboard. The filters on the page stay as they are, so the figures behind a bar are those of the bar.

Rows carry the group's key as ``group_key`` (:func:`reports.persistency.group_columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import g, request, url_for

from reports.catalogue import ANALYSTS

#: a dimension → (the filter that narrows to one of its groups, the dimension to break that group down by)
FINER = {"branch": ("org_unit_id", "agent"), "channel": ("channel", "product"), "product": ("product_id", "agent")}

Link = Callable[[Mapping], str | None]


def group_link(report_name: str, group_by: str, *, finer: dict[str, tuple[str, str]] | None = None) -> Link | None:
    """The link of a row grouped by ``group_by`` in the report ``report_name`` (``None``: such groups lead nowhere
    finer, or an agent's page for a reader who may not open the dashboard). ``finer`` replaces :data:`FINER` for a
    report whose groupings differ."""
    if group_by == "agent":
        reader = g.get("user")
        if reader is None or reader.role not in ANALYSTS:  # agents' pages are on the dashboard, not for agents
            return None
        return lambda row: url_for("dashboard.agent", agent_id=row["group_key"]) if row["group_key"] else None
    step = (finer if finer is not None else FINER).get(group_by)
    if step is None:
        return None
    narrow_by, break_down_by = step

    def link(row: Mapping) -> str | None:
        if row["group_key"] is None:
            return None
        query = {key: value for key, value in request.args.items() if not key.startswith("page")}
        query.update({narrow_by: row["group_key"], "group_by": break_down_by})
        return url_for("reports_web.show", name=report_name, **query)

    return link
