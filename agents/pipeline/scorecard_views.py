"""Agent scorecards (绩效考核), pages: the agent's own (``/scorecard``), the branch's table of agents with their ranks
(``/scorecards``, managers and admins) and one agent's card with the targets form (``/scorecards/<agent_id>``).

Figures, ranks and targets come from :mod:`agents.pipeline.scorecards`, a fixed number of queries per page whatever
the number of agents. Who sees which card: an agent or a specialist their own; a branch manager the agents of their
subtree (another's is a 404, as the agent scope rule says); an admin every agent; the actuary and bank referrers 403.
"""

from __future__ import annotations

import marshmallow as ma
from babel.numbers import format_percent
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from agents.models import Agent, AgentStatus
from agents.models.pipeline import ScorecardMetric
from agents.pipeline.scorecards import METRICS, PERIODS, ScorecardArgs, TargetsSchema, scorecards, set_targets
from insurecrm import clock
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.i18n import money, number
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, visible
from insurecrm.web import load_form, page_roles, paginate_page

bp = Blueprint("scorecards_web", __name__, template_folder="../templates")
WEB_BLUEPRINTS = (bp,)
SELLERS = (Role.AGENT, Role.BANCASSURANCE_SPECIALIST)
MANAGERS = (Role.BRANCH_MANAGER, Role.ADMIN)
#: agents per page of the branch's table (ranks still compare each agent with their whole team)
PER_PAGE = 50


def _period() -> tuple[dict | None, dict]:
    """The period asked for in the query string (``period``, ``on``), or the messages of a bad one."""
    given = {key: value.strip() for key, value in request.args.items() if key in ("period", "on") and value.strip()}
    try:
        args = ScorecardArgs().load(given)
    except ma.ValidationError as exc:
        return None, flatten_messages(exc.normalized_messages())
    args.setdefault("on", clock.today())
    return args, {}


@bp.app_template_filter("scorecard_value")
def scorecard_value(value, kind: str, *, target: bool = False) -> str:
    """A scorecard figure as shown: money in the currency, a rate as a percentage (a target's rate is already in per
    cent), a count grouped; "—" for none."""
    if value is None:
        return "—"
    if kind == "money":
        return money(value)
    if kind == "rate":
        return format_percent(value / 100 if target else value, "#,##0.0%", locale=get_locale())
    return number(value)


@bp.app_template_global()
def scorecard_help(metric: ScorecardMetric) -> str:
    """The anchor of a figure's entry on the help page: ``scorecard-renewal-rate`` for ``renewal_rate``."""
    return f"scorecard-{metric.value.replace('_', '-')}"


@bp.get("/scorecard")
@page_roles(*SELLERS, *MANAGERS)
def mine():
    """An agent's or specialist's own scorecard; a manager's or admin's is the table of their agents."""
    if g.user.role in MANAGERS:
        return branch()
    if g.user.agent_id is None:
        abort(403)
    return _card(db.session.get(Agent, g.user.agent_id), with_form=False)


@bp.get("/scorecards")
@page_roles(*MANAGERS)
def branch():
    """The active agents of the manager's branch (every agent for an admin), 50 to a page, with their figures and
    their ranks in their team."""
    args, errors = _period()
    if args is None:
        return render_template("pipeline/scorecards.html", cards=[], page=None, errors=errors, args={},
                               periods=PERIODS, metrics=METRICS), 422
    page = paginate_page(select(Agent).options(joinedload(Agent.org_unit))
                         .where(visible(Agent, g.user), Agent.status == AgentStatus.ACTIVE)
                         .order_by(Agent.org_unit_id, Agent.code, Agent.id), per_page=PER_PAGE)
    cards = scorecards(page.items, args["period"], args["on"], clock.today())
    return render_template("pipeline/scorecards.html", cards=cards, page=page, errors={}, args=args, periods=PERIODS,
                           metrics=METRICS)


@bp.route("/scorecards/<int:agent_id>", methods=["GET", "POST"])
@page_roles(*MANAGERS)
def agent(agent_id: int):
    """One agent's scorecard with the form of their targets; on POST the targets of the period, or the form again
    with its messages (422, nothing written)."""
    record = get_visible_or_404(Agent, agent_id)
    if request.method == "POST":
        try:
            data = load_form(TargetsSchema(), clearing=True)
            changed = set_targets(record, data, actor=g.user)
            db.session.commit()
        except ma.ValidationError as exc:
            db.session.rollback()
            return _card(record, with_form=True, errors=flatten_messages(exc.normalized_messages()),
                         values=dict(request.form)), 422
        flash(_("Targets saved.") if changed else _("No change: these are the targets already set."),
              "success" if changed else "info")
        return redirect(url_for(".agent", agent_id=record.id, period=data["period"], on=data["on"].isoformat()))
    return _card(record, with_form=True)


def _card(record: Agent, *, with_form: bool, errors: dict | None = None, values: dict | None = None):
    args, period_errors = _period()
    if args is None:
        return render_template("pipeline/scorecard.html", agent=record, card=None, errors=period_errors, values={},
                               args={}, periods=PERIODS, with_form=False), 422
    [card] = scorecards([record], args["period"], args["on"], clock.today())
    if values is None:
        values = {"period": args["period"], "on": args["on"].isoformat(),
                  **{metric.value: figure.target for metric, figure in card.figures.items()}}
    return render_template("pipeline/scorecard.html", agent=record, card=card, errors=errors or {}, values=values,
                           args=args, periods=PERIODS, with_form=with_form)
