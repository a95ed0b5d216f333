"""The manager dashboard: the book of a branch (or of the whole company) at a glance, and each agent's book.

Branch managers see their subtree, admins and actuaries the whole company (the actuary pseudonymised).
Every figure is aggregated in SQL within the user's scope (``reports.services``); charts are built here
with plotly and drawn in the browser by the vendored plotly.js — the tables carry the same numbers for
anyone without JavaScript.
"""

from __future__ import annotations

import plotly.graph_objects as go
from babel.dates import format_skeleton
from flask import Blueprint, g, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from agents.models import Agent
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select, visible
from insurecrm.web import name_of, page_roles, paginate_page
from policies.models import Policy, PolicyStatusChange
from policyholders.models import Policyholder, ServiceRequest
from reports import services
from reports.catalogue import ANALYSTS, for_role

bp = Blueprint("dashboard", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
#: who opens the dashboard and its agents' pages: the analysts (reports.drill links agents' rows there for them)
DASHBOARD_ROLES = tuple(ANALYSTS)
#: how many lapses and open service requests the agent page lists (the counts above them are complete)
LISTED = 20


@bp.get("/dashboard")
@page_roles(*DASHBOARD_ROLES)
def index():
    """In force, new business and lapses this month, service levels, a 12-month trend and the agents."""
    user, today, now = g.user, clock.today(), clock.now()
    trend = services.monthly_trend(user, today)
    top = services.premium_by_agent(user, today)
    agents = paginate_page(services.agents_by_premium(user, today).options(joinedload(Agent.org_unit)))
    return render_template(
        "reports/dashboard.html", headline=services.dashboard_headline(user, today, now), this_month=trend[-1],
        trend=trend, agents=agents, figures=services.agent_figures(user, [a.id for a in agents.items], today, now),
        scope=_scope_label(user), trend_chart=trend_chart(trend), agents_chart=agents_chart(top), today=today,
        overdue=services.overdue_tasks(user, today), reports=for_role(user.role),
    )


@bp.get("/dashboard/agents/<int:agent_id>")
@page_roles(*DASHBOARD_ROLES)
def agent(agent_id: int):
    """One agent's book: policyholders, in-force policies (paged), premium, lapses, open service requests."""
    user, today, now = g.user, clock.today(), clock.now()
    record = get_visible_or_404(Agent, agent_id)
    policies = paginate_page(
        scoped_select(Policy).where(Policy.servicing_agent_id == record.id, services.in_force_on(today))
        .options(joinedload(Policy.policyholder), joinedload(Policy.product))
        .order_by(Policy.expiry_date, Policy.id)
    )
    return render_template(
        "reports/agent.html", agent=record, today=today, now=now, policies=policies,
        figures=services.agent_figures(user, [record.id], today, now)[record.id],
        policyholders=services.policyholder_count(user, record.id),
        lapses=_recent_lapses(user, record, today), requests=_open_requests(user, record),
    )


def _recent_lapses(user, record: Agent, today) -> list:
    """The agent's latest lapses over the trend's 12 months: (policy, effective date, reason)."""
    first, after = services.month_start(today, services.TREND_MONTHS - 1), services.month_start(today, -1)
    stmt = (
        services.lapses_between(user, first, after, Policy, PolicyStatusChange.effective_date,
                                PolicyStatusChange.reason)
        .where(Policy.servicing_agent_id == record.id).options(joinedload(Policy.policyholder))
        .order_by(PolicyStatusChange.effective_date.desc(), PolicyStatusChange.id.desc()).limit(LISTED)
    )
    return db.session.execute(stmt).all()


def _open_requests(user, record: Agent) -> list:
    """The open service requests assigned to the agent, the most urgent due first: (request, policyholder)."""
    stmt = (
        select(ServiceRequest, Policyholder).join(Policyholder, Policyholder.id == ServiceRequest.policyholder_id)
        .where(visible(ServiceRequest, user), ServiceRequest.assigned_agent_id == record.id,
               ServiceRequest.status.in_(services.OPEN_SERVICE_STATUSES))
        .order_by(ServiceRequest.due_at, ServiceRequest.id).limit(LISTED)
    )
    return db.session.execute(stmt).all()


@bp.context_processor
def _helpers() -> dict:
    return {"month_label": month_label}


def _scope_label(user) -> str:
    if user.role == Role.BRANCH_MANAGER:
        unit = user.org_unit
        return unit.name if unit is not None else _("No unit assigned")
    return _("Whole company")


# -- charts ------------------------------------------------------------------------------------------------

def month_label(month) -> str:
    """A month as the locale writes it: "Mar 2026", "2026年3月"."""
    return format_skeleton("yMMM", month, locale=str(get_locale()))


def trend_chart(trend: list[dict]) -> Markup:
    """New business premium (bars) and lapses (line, right axis) per month."""
    months = [month_label(row["month"]) for row in trend]
    figure = go.Figure([
        go.Bar(x=months, y=[float(row["new_premium"]) for row in trend], name=_("New business premium")),
        go.Scatter(x=months, y=[row["lapses"] for row in trend], name=_("Lapses"), yaxis="y2",
                   mode="lines+markers"),
    ])
    figure.update_layout(
        yaxis={"title": {"text": _("Annualised premium")}, "rangemode": "tozero"},
        yaxis2={"title": {"text": _("Lapses")}, "overlaying": "y", "side": "right",
                **count_axis(row["lapses"] for row in trend)},
    )
    return embed(figure)


def count_axis(values, most_ticks: int = 6) -> dict:
    """An axis of counts: whole numbers only, each once (0, 1, 2 — never 0, 1, 1, 2 from ticks at 0.5 rounded),
    from zero, with at most ``most_ticks`` steps of 1, 2 or 5 × 10ⁿ."""
    top = max([0, *values])
    steps = (base * 10**power for power in range(20) for base in (1, 2, 5))
    step = next(step for step in steps if top <= most_ticks * step)
    return {"tickmode": "linear", "tick0": 0, "dtick": step, "tickformat": ",d",
            "range": [0, max(top, 1) * 1.05], "rangemode": "tozero"}


def agents_chart(top: list[dict]) -> Markup:
    """In-force annualised premium of the top agents, largest on top."""
    labels = [f"{name_of(row['agent'], 'agent')} ({row['agent'].code})" for row in top]
    figure = go.Figure([go.Bar(x=[float(row["premium"]) for row in top], y=labels, orientation="h",
                               name=_("In-force annualised premium"))])
    figure.update_layout(yaxis={"autorange": "reversed", "automargin": True},
                         height=max(300, 28 * len(top) + 120))
    return embed(figure)


def embed(figure: go.Figure) -> Markup:
    """The figure's JSON, safe inside a <script type="application/json"> element (no "<", ">" or "&" left to
    end the element early, whatever a name contains)."""
    figure.update_layout(template="none", margin={"l": 60, "r": 60, "t": 30, "b": 60},
                         legend={"orientation": "h", "y": -0.2})
    text = figure.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for a JSON script element
