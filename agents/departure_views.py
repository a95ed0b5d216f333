"""The departure page (admins): what an agent holds, the rule, a confirm step, and what moved.

``/admin/agents/<id>/departure`` shows the counts of :func:`agents.departure.holdings` and the rule form (the
unit's pool, or a named active agent of the same company — the API's rules); *Review* checks the choice and asks
for confirmation, naming what will move where; *Confirm* calls :func:`agents.departure.deactivate_agent` (the
same service as ``POST /api/v1/agents/<id>/departure``) and shows what moved.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template, request
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from agents import departure
from agents.models import Agent, AgentStatus, OrgUnit
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import load_form, page_roles

bp = Blueprint("departure_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)

HELD_LABELS = {
    "renewal_cases": _l("Open renewal cases"), "policyholders": _l("Policyholders"), "tasks": _l("Open tasks"),
    "activities": _l("Planned activities"), "opportunities": _l("Open opportunities"),
    "team_memberships": _l("Places on the teams of open opportunities"), "referrals": _l("Open referrals"),
    "service_requests": _l("Open service requests"), "logins": _l("Logins deactivated"),
}
RULE_LABELS = {departure.DepartureRule.POOL: _l("To the unit's pool (the branch manager hands it out)"),
               departure.DepartureRule.AGENT: _l("To another agent of the same company")}


@bp.route("/admin/agents/<int:record_id>/departure", methods=["GET", "POST"])
@page_roles(Role.ADMIN)
def departure_page(record_id: int):
    """GET: what the agent holds and the rule form; POST ``review``: the confirm step; POST ``confirm``: done."""
    from agents.routes import DepartureSchema

    agent = get_visible_or_404(Agent, record_id)
    if request.method == "GET":
        return _show(agent)
    try:
        data = load_form(DepartureSchema())
        target = _target(data.get("target_agent_id"))
        rule = departure.check_departure(agent, data["rule"], target)
    except ValidationError as exc:
        db.session.rollback()
        return _show(agent, errors=flatten_messages(exc.normalized_messages()), status=422)
    if request.form.get("action") != "confirm":
        return _show(agent, step="review", rule=rule, target=target)
    moved = departure.deactivate_agent(agent, rule=rule, target_agent=target, actor=g.user)
    db.session.commit()
    return _show(agent, step="done", rule=rule, target=target, moved=moved)


def _target(target_id: int | None) -> Agent | None:
    if target_id is None:
        return None
    target = db.session.scalar(scoped_select(Agent).where(Agent.id == target_id))
    if target is None:
        raise ValidationError({"target_agent_id": ["No such agent."]})
    return target


def _successors(agent: Agent) -> list[Agent]:
    """The active agents of the agent's company who could take over, by unit and name."""
    company = agent.org_unit.path.strip("/").split("/")[0]
    return list(db.session.scalars(
        select(Agent).join(OrgUnit, OrgUnit.id == Agent.org_unit_id).options(joinedload(Agent.org_unit))
        .where(Agent.status == AgentStatus.ACTIVE, Agent.id != agent.id,
               OrgUnit.path.startswith(f"/{company}/", autoescape=True))
        .order_by(OrgUnit.path, Agent.name, Agent.id)))


def _show(agent: Agent, *, step: str = "choose", errors: dict | None = None, status: int = 200, **result):
    return render_template(
        "agents/departure.html", agent=agent, step=step, errors=errors or {}, held=departure.holdings(agent),
        successors=_successors(agent) if step == "choose" else [], values=request.form, labels=HELD_LABELS,
        rule_labels=RULE_LABELS, **result,
    ), status
