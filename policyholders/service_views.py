"""Web pages of service requests and complaints: the list with SLA state, assign, resolve."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

import agents.permissions  # noqa: F401 - registers the agent scope rule (assignable agents)
import policyholders.permissions  # noqa: F401 - registers the service request scope rule
from agents.models import Agent, AgentStatus
from insurecrm import clock
from insurecrm.db import db
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import WRITERS, database_id, load_form, page_roles, paginate_page
from policies.models import Policy
from policyholders import services
from policyholders.models import (
    Policyholder,
    ServiceCategory,
    ServiceKind,
    ServicePriority,
    ServiceRequest,
    ServiceStatus,
)
from policyholders.schemas import ServiceRequestUpdateSchema

bp = Blueprint("service_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)

KIND_LABELS = {ServiceKind.SERVICE: _l("Service request"), ServiceKind.COMPLAINT: _l("Complaint")}
STATUS_LABELS = {ServiceStatus.OPEN: _l("Open"), ServiceStatus.IN_PROGRESS: _l("In progress"),
                 ServiceStatus.RESOLVED: _l("Resolved"), ServiceStatus.CLOSED: _l("Closed")}
PRIORITY_LABELS = {ServicePriority.LOW: _l("Low"), ServicePriority.NORMAL: _l("Normal"),
                   ServicePriority.HIGH: _l("High"), ServicePriority.URGENT: _l("Urgent")}
CATEGORY_LABELS = {
    ServiceCategory.POLICY_CHANGE: _l("Policy change"), ServiceCategory.BENEFICIARY_CHANGE: _l("Beneficiary change"),
    ServiceCategory.CONTACT_UPDATE: _l("Contact update"), ServiceCategory.PAYMENT: _l("Payment"),
    ServiceCategory.CLAIM: _l("Claim"), ServiceCategory.CANCELLATION: _l("Cancellation"),
    ServiceCategory.ENQUIRY: _l("Enquiry"), ServiceCategory.SALES_PRACTICE: _l("Sales practice"),
    ServiceCategory.OTHER: _l("Other"),
}
SLA_LABELS = {services.SLA_BREACHED: _l("Breached"), services.SLA_DUE_SOON: _l("Due soon"),
              services.SLA_ON_TRACK: _l("On track"), services.SLA_FINISHED: _l("Done")}
SLA_BADGES = {services.SLA_BREACHED: "bad", services.SLA_DUE_SOON: "warn", services.SLA_ON_TRACK: "good",
              services.SLA_FINISHED: ""}
#: the status filter's default: the requests still to work on
UNFINISHED, ALL = "", "all"


@bp.context_processor
def _labels() -> dict:
    return {"kind_labels": KIND_LABELS, "status_labels": STATUS_LABELS, "priority_labels": PRIORITY_LABELS,
            "category_labels": CATEGORY_LABELS, "sla_labels": SLA_LABELS, "sla_badges": SLA_BADGES,
            "sla_state": services.sla_state}


@bp.get("/service-requests")
@page_roles(*WRITERS)
def index():
    """Service requests and complaints in the user's scope, by due date, with their SLA state."""
    now, filters = clock.now(), _filters()
    page = paginate_page(_filtered(scoped_select(ServiceRequest), filters, now)
                         .order_by(ServiceRequest.due_at, ServiceRequest.id))
    holders = _by_id(Policyholder, {item.policyholder_id for item in page.items})
    assignees = _by_id(Agent, {item.assigned_agent_id for item in page.items} - {None})
    return render_template("service/index.html", page=page, holders=holders, assignees=assignees,
                           agents=_assignable_agents(), filters=filters, now=now)


@bp.get("/service-requests/<int:request_id>")
@page_roles(*WRITERS)
def detail(request_id: int):
    """One request with its assign and resolve forms."""
    return _detail(get_visible_or_404(ServiceRequest, request_id))


@bp.post("/service-requests/<int:request_id>/assign")
@page_roles(*WRITERS)
def assign(request_id: int):
    """Hand the request to an agent the user may see."""
    service_request = get_visible_or_404(ServiceRequest, request_id)
    try:
        data = load_form(ServiceRequestUpdateSchema(only=("assigned_agent_id",)))
        if data.get("assigned_agent_id") is None:
            raise ValidationError({"assigned_agent_id": [_("Choose an agent.")]})
        services.update_service_request(service_request, data, actor=g.user)
    except ValidationError as exc:
        return _refused(service_request, "assign", exc)
    db.session.commit()
    flash(_("The request is assigned."), "success")
    return redirect(url_for(".detail", request_id=request_id))


@bp.post("/service-requests/<int:request_id>/resolve")
@page_roles(*WRITERS)
def resolve(request_id: int):
    """Resolve the request with a resolution and its cost (or move it on to another status)."""
    service_request = get_visible_or_404(ServiceRequest, request_id)
    try:
        data = load_form(ServiceRequestUpdateSchema(only=("status", "resolution", "cost")))
        services.update_service_request(service_request, data, actor=g.user)
    except ValidationError as exc:
        return _refused(service_request, "resolve", exc)
    db.session.commit()
    flash(_("The request is now %(status)s.", status=STATUS_LABELS[service_request.status]), "success")
    return redirect(url_for(".detail", request_id=request_id))


def _refused(service_request: ServiceRequest, form: str, exc: ValidationError):
    db.session.rollback()
    return _detail(service_request, errors={form: exc.normalized_messages()}, status=422)


def _detail(service_request: ServiceRequest, *, errors: dict | None = None, status: int = 200):
    holder, policy, assignee = db.session.execute(
        select(Policyholder, Policy, Agent).select_from(ServiceRequest)
        .join(Policyholder, Policyholder.id == ServiceRequest.policyholder_id)
        .outerjoin(Policy, Policy.id == ServiceRequest.policy_id)
        .outerjoin(Agent, Agent.id == ServiceRequest.assigned_agent_id)
        .where(ServiceRequest.id == service_request.id)).one()
    return render_template("service/detail.html", item=service_request, holder=holder, policy=policy,
                           assignee=assignee, agents=_assignable_agents(), errors=errors or {},
                           form=request.form if errors else {}, now=clock.now()), status


def _filters() -> dict:
    """The list's filters from the query string; values that are not valid choices are ignored."""
    args = request.args

    def choice(name: str, values) -> str | None:
        return args.get(name) if args.get(name) in {str(v) for v in values} else None

    return {
        "kind": choice("kind", ServiceKind), "priority": choice("priority", ServicePriority),
        "status": choice("status", [*ServiceStatus, ALL]) or UNFINISHED,
        "sla": choice("sla", services.SLA_STATES),
        "assigned_agent_id": args.get("assigned_agent_id", type=database_id),
    }


def _filtered(stmt, filters: dict, now):
    for key in ("kind", "priority", "assigned_agent_id"):
        if filters[key] is not None:
            stmt = stmt.where(getattr(ServiceRequest, key) == filters[key])
    if filters["status"] == UNFINISHED:
        stmt = stmt.where(ServiceRequest.status.not_in(services.FINISHED))
    elif filters["status"] != ALL:
        stmt = stmt.where(ServiceRequest.status == filters["status"])
    if filters["sla"]:
        stmt = stmt.where(services.sla_condition(filters["sla"], now))
    return stmt


def _by_id(model: type, ids: set[int]) -> dict:
    """The rows of ``model`` with these ids, in one query (run even for no ids: a page costs the same
    number of statements whatever it lists)."""
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


def _assignable_agents() -> list[Agent]:
    return list(db.session.scalars(scoped_select(Agent).where(Agent.status == AgentStatus.ACTIVE)
                                   .order_by(Agent.name_sort_key, Agent.id)))

