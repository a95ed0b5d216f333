"""Renewal pages: the worklist (/renewals) where agents work their cases in place, with the approval queue of
branch managers, and the managers' renewal board (/renewals/board) with its CSV export.

Pages parse with the API's schemas (422 with field messages), load through the scope rules (404 outside
them), call :mod:`policies.renewals`, commit once and redirect. Figures come from
:mod:`policies.renewal_queries` (SQL, a fixed number of queries per page); docs/metrics.md defines them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import marshmallow as ma
import plotly.graph_objects as go
from flask import Blueprint, Response, flash, g, redirect, render_template, request, stream_with_context, url_for
from flask_babel import format_percent, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import Select, func, select
from sqlalchemy.orm.exc import StaleDataError

from agents.models import Agent, AgentStatus
from agents.views import CHANNEL_LABELS, RENEWAL_LABELS
from insurecrm import clock
from insurecrm.api import Date, Id
from insurecrm.db import db
from insurecrm.errors import VersionConflict
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import Page, load_form, name_of, page_number, page_roles
from policies import renewal_queries as queries
from policies import renewals
from policies.models import LostReason, RenewalCase, RenewalStatus
from policies.models.approvals import ApprovalStatus, RenewalDiscountApproval
from policies.renewal_routes import ContactSchema, DecisionSchema, LoseSchema, QuoteSchema, ReassignSchema, RenewSchema
from policies.renewal_routes import filtered as filtered_cases
from policies.views import FREQUENCY_LABELS
from reports.services import month_start
from reports.views import embed, month_label

bp = Blueprint("renewals_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
R = Role
WORKLIST_ROLES = (R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER, R.ADMIN)
BOARD_ROLES = (R.BRANCH_MANAGER, R.ADMIN)
PER_PAGE = 25
LOST_LABELS = {LostReason.PRICE: _l("Price"), LostReason.COMPETITOR: _l("Competitor"),
               LostReason.SERVICE: _l("Service"), LostReason.MOVED_AWAY: _l("Moved away"),
               LostReason.DECEASED: _l("Deceased"), LostReason.OTHER: _l("Other")}
RISK_LABELS = {"premium_change": _l("Premium change"), "no_reachable_channel": _l("No reachable channel"),
               "missed_payments": _l("Missed payments")}
FOCUS_LABELS = {"all": _l("All open cases"), "not_contacted": _l("Not contacted"), "escalated": _l("Escalated"),
                "at_risk": _l("At risk"), "pool": _l("In the pool (no agent)")}
#: the case actions of the worklist: form name → (schema, service call)
ACTIONS = {
    "contact": (ContactSchema, lambda case, data: renewals.log_contact(
        case, channel=data["channel"], summary=data["summary"], outcome=data.get("outcome"), actor=g.user,
        version=data["version"])),
    "quote": (QuoteSchema, lambda case, data: renewals.quote(case, premium=data["premium"], actor=g.user,
                                                             version=data["version"])),
    "renew": (RenewSchema, lambda case, data: renewals.renew(
        case, premium=data["premium"], effective_date=data.get("effective_date"), actor=g.user,
        version=data["version"])),
    "lose": (LoseSchema, lambda case, data: renewals.lose(case, reason=data["reason"], note=data.get("note"),
                                                          actor=g.user, version=data["version"])),
}
DONE = {"contact": _l("Contact logged."), "quote": _l("Quote saved."), "renew": _l("Renewal policy written."),
        "lose": _l("Case closed as lost.")}


@bp.context_processor
def _labels() -> dict:
    return {"renewal_labels": RENEWAL_LABELS, "channel_labels": CHANNEL_LABELS, "lost_labels": LOST_LABELS,
            "risk_labels": RISK_LABELS, "focus_labels": FOCUS_LABELS,
            "frequency_labels": FREQUENCY_LABELS, "percent": percent, "month_label": month_label}


def percent(value) -> str:
    return "—" if value is None else format_percent(value, "#,##0.0%")


# -- the worklist ----------------------------------------------------------------------------------------------

class WorklistArgs(ma.Schema):
    status = fields.String(load_default="working", validate=validate.OneOf(["working", "all", *RenewalStatus]))
    due_within = fields.Integer(validate=validate.Range(min=1, max=366))
    at_risk = fields.Boolean()
    assigned_agent_id = Id(strict=False)


@bp.get("/renewals")
@page_roles(*WORKLIST_ROLES)
def worklist():
    """The cases the user may work, the soonest due first, with their risk flags and the actions in place;
    branch managers and admins also see the discount requests waiting for them."""
    return _render_worklist()


@bp.post("/renewals/<int:case_id>/contacts", defaults={"action": "contact"})
@bp.post("/renewals/<int:case_id>/quote", defaults={"action": "quote"})
@bp.post("/renewals/<int:case_id>/renew", defaults={"action": "renew"})
@bp.post("/renewals/<int:case_id>/lose", defaults={"action": "lose"})
@page_roles(*WORKLIST_ROLES)
def act(case_id: int, action: str):
    """Log a contact, quote, renew or close a case as lost (the form carries the version it was shown with)."""
    case = get_visible_or_404(RenewalCase, case_id)
    schema, call = ACTIONS[action]
    try:
        result = call(case, load_form(schema()))
    except ValidationError as exc:
        db.session.rollback()
        return _render_worklist(failed={"case_id": case_id, "form": action, "errors": _texts(exc)}, status=422)
    except (VersionConflict, StaleDataError):
        db.session.rollback()
        return _render_worklist(conflict=True, status=409)
    db.session.commit()
    waiting = isinstance(result, RenewalDiscountApproval) and result.status == ApprovalStatus.PENDING
    flash(_("The discount goes beyond the product's limit: the quote waits for the branch manager's approval.")
          if waiting else str(DONE[action]), "success")
    return redirect(url_for(".worklist", **request.args))


@bp.post("/renewal-approvals/<int:approval_id>/approve", defaults={"decision": "approve"})
@bp.post("/renewal-approvals/<int:approval_id>/reject", defaults={"decision": "reject"})
@page_roles(*BOARD_ROLES)
def decide(approval_id: int, decision: str):
    """Approve or reject a discount request (branch managers of the case's unit subtree, admins)."""
    approval = get_visible_or_404(RenewalDiscountApproval, approval_id)
    call = renewals.approve if decision == "approve" else renewals.reject
    try:
        data = load_form(DecisionSchema())
        call(approval, actor=g.user, note=data.get("note"), version=data.get("version"))
    except ValidationError as exc:
        db.session.rollback()
        return _render_worklist(failed={"approval_id": approval_id, "errors": _texts(exc)}, status=422)
    except (VersionConflict, StaleDataError):
        db.session.rollback()
        return _render_worklist(conflict=True, status=409)
    db.session.commit()
    flash(_("Discount approved.") if decision == "approve" else _("Discount rejected."), "success")
    return redirect(url_for(".worklist", **request.args))


def _render_worklist(*, failed: dict | None = None, conflict: bool = False, status: int = 200):
    user, today = g.user, clock.today()
    args = WorklistArgs().load({key: value for key in WorklistArgs().fields
                                if (value := request.args.get(key, "").strip())})
    filters: dict = {"status": list(queries.WORKABLE) if args["status"] == "working" else (
        [] if args["status"] == "all" else [RenewalStatus(args["status"])])}
    if "due_within" in args:
        filters["due_to"] = today + timedelta(days=args["due_within"])
    filters.update({key: args[key] for key in ("at_risk", "assigned_agent_id") if key in args})
    stmt = filtered_cases(queries.case_rows(user, today), filters).order_by(RenewalCase.due_date, RenewalCase.id)
    deciding = user.role in BOARD_ROLES
    return render_template(
        "renewals/worklist.html", page=_page_of_cases(stmt), args=_query_args(WorklistArgs().fields),
        approvals=db.session.execute(queries.pending_approvals(user).limit(50)).all() if deciding else None,
        agents=_agent_choices() if user.role != R.AGENT else [], failed=failed or {}, conflict=conflict,
        values=request.form if failed else {}, today=today,
    ), status


def _page_of_cases(stmt: Select) -> Page:
    page = page_number()
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    return Page(queries.views(rows), total, page, PER_PAGE)


def _agent_choices() -> list[Agent]:
    return list(db.session.scalars(scoped_select(Agent).where(Agent.status == AgentStatus.ACTIVE)
                                   .order_by(Agent.name_sort_key, Agent.id)))


def _query_args(names) -> dict:
    """The query arguments to keep on links and form actions."""
    return {key: value for key in (*names, "page") if (value := request.args.get(key, "").strip())}


def _texts(exc: ValidationError) -> dict[str, list[str]]:
    """The messages by field, as text (those of a list's items joined into the list's)."""
    def flat(messages) -> list[str]:
        if isinstance(messages, dict):
            return [text for nested in messages.values() for text in flat(nested)]
        if isinstance(messages, list | tuple):
            return [text for nested in messages for text in flat(nested)]
        return [str(messages)]

    return {name: flat(messages) for name, messages in exc.normalized_messages().items()}


# -- the board -------------------------------------------------------------------------------------------------

class BoardArgs(ma.Schema):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))
    focus = fields.String(load_default="all", validate=validate.OneOf(list(FOCUS_LABELS)))
    from_ = Date(data_key="from")
    to = Date()

    @validates_schema
    def _period(self, data, **_kwargs):
        start, end = data.get("from_"), data.get("to")
        if start and end and start > end:
            raise ValidationError(_("Must not be after the end of the period."), "from")
        if start and end and (end.year - start.year) * 12 + end.month - start.month >= 120:
            raise ValidationError(_("Choose a period of at most ten years."), "from")


def _board_args() -> dict:
    args = BoardArgs().load({key: value for key in ("days", "focus", "from", "to")
                             if (value := request.args.get(key, "").strip())})
    today = clock.today()
    args["start"] = args.pop("from_", None) or month_start(args.get("to") or today, 11)
    args["end"] = args.get("to") or today
    if args["start"] > args["end"]:
        raise ValidationError({"from": [_("Must not be after the end of the period.")]})
    return args


@bp.get("/renewals/board")
@page_roles(*BOARD_ROLES)
def board():
    """Cases due in the next N days by agent and status, those needing attention (with bulk reassignment),
    and the renewal rate over a period by count and premium, by month and agent, with lost reasons."""
    return _render_board(_board_args())


@bp.post("/renewals/board/reassign")
@page_roles(*BOARD_ROLES)
def reassign():
    """Assign the chosen cases to another active agent."""
    args = _board_args()
    try:
        data = load_form(ReassignSchema())
        cases = renewals.reassign(data["case_ids"], data["agent_id"], actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _render_board(args, errors=_texts(exc), status=422)
    except StaleDataError:
        db.session.rollback()
        return _render_board(args, conflict=True, status=409)
    db.session.commit()
    flash(ngettext("%(num)s case reassigned.", "%(num)s cases reassigned.", len(cases)), "success")
    return redirect(url_for(".board", **request.args))


def _render_board(args: dict, *, errors: dict | None = None, conflict: bool = False, status: int = 200):
    user, today = g.user, clock.today()
    by_agent = queries.due_by_agent(user, today, args["days"])
    months = queries.rate_by_month(user, args["start"], args["end"])
    agents = queries.rate_by_agent(user, args["start"], args["end"])
    total = queries.Rate()
    for _month, rate in months:
        total.add(rate)
    return render_template(
        "renewals/board.html", args=args, today=today, by_agent=by_agent, cases=_page_of_cases(_focus(args)),
        months=months, agent_rates=agents, total=total, lost=queries.lost_reasons(user, args["start"], args["end"]),
        agents=_agent_choices(), month_chart=_month_chart(months), agent_chart=_agent_chart(agents),
        query=_query_args(("days", "focus", "from", "to")), errors=errors or {}, conflict=conflict,
        chosen={int(v) for v in request.form.getlist("case_ids") if v.isdigit()},
        due_totals={key: sum(getattr(row, key) for row in by_agent)
                    for key in ("total", "not_contacted", "escalated", "at_risk")},
    ), status


def _focus(args: dict) -> Select:
    today = clock.today()
    stmt = queries.case_rows(g.user, today).where(RenewalCase.status.in_(queries.WORKABLE),
                                                  queries.due_window(today, args["days"]))
    if args["focus"] == "pool":
        stmt = stmt.where(RenewalCase.assigned_agent_id.is_(None))
    elif args["focus"] != "all":
        stmt = stmt.where(queries.attention(today)[args["focus"]])
    return stmt.order_by(RenewalCase.due_date, RenewalCase.id)


def _month_chart(months: list) -> Markup:
    labels = [month_label(month) for month, _rate in months]
    figure = go.Figure([
        go.Bar(x=labels, y=[_share(rate.by_count) for _m, rate in months], name=_("Renewal rate by count")),
        go.Bar(x=labels, y=[_share(rate.by_premium) for _m, rate in months], name=_("Renewal rate by premium")),
    ])
    figure.update_layout(barmode="group", yaxis={"tickformat": ".0%", "range": [0, 1]})
    return embed(figure)


def _agent_chart(agents: list) -> Markup:
    labels = [_agent_label(agent) for agent, _rate in agents]
    figure = go.Figure([go.Bar(x=[_share(rate.by_count) for _a, rate in agents], y=labels, orientation="h",
                               name=_("Renewal rate by count"))])
    figure.update_layout(xaxis={"tickformat": ".0%", "range": [0, 1]},
                         yaxis={"autorange": "reversed", "automargin": True}, height=max(300, 28 * len(agents) + 120))
    return embed(figure)


def _share(value) -> float | None:
    return None if value is None else float(value)


def _agent_label(agent: Agent | None) -> str:
    return f"{name_of(agent, 'agent')} ({agent.code})" if agent else _("Pool (no agent)")


# -- the CSV export ----------------------------------------------------------------------------------------------

#: every premium is named for what it is: the amount of each installment (at the policy's frequency), or that
#: amount × installments per year (annualised, what the renewal rate by premium sums); a quote is per installment
#: at the expiring policy's frequency, which the renewal keeps
EXPORT_COLUMNS = (_l("Case"), _l("Policy"), _l("Policyholder"), _l("Agent"), _l("Unit"), _l("Due date"),
                  _l("Status"), _l("Counted as due"), _l("Renewed"), _l("Expiring frequency"),
                  _l("Expiring premium per installment"), _l("Expiring annualised premium"), _l("Renewing policy"),
                  _l("Renewing frequency"), _l("Renewing premium per installment"), _l("Renewing annualised premium"),
                  _l("Quoted premium per installment"), _l("Quoted annualised premium"), _l("Lost reason"),
                  _l("Risk: premium change"), _l("Risk: no reachable channel"), _l("Risk: missed payments"))
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@bp.get("/renewals/board.csv")
@page_roles(*BOARD_ROLES)
def export():
    """Every case due in the board's period with what its numbers are made of, as CSV (UTF-8 with BOM)."""
    args = _board_args()
    flags = queries.risk_flags(clock.today())
    stmt = queries.export_rows(g.user, args["start"], args["end"]).add_columns(*flags.values())
    filename = f"renewals-{args['start'].isoformat()}-{args['end'].isoformat()}.csv"
    return Response(stream_with_context(_csv_chunks(stmt)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_chunks(stmt: Select) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel then reads the file as UTF-8
    writer.writerow([str(column) for column in EXPORT_COLUMNS])
    for n, row in enumerate(db.session.execute(stmt.execution_options(yield_per=500)), 1):
        writer.writerow([_cell(value) for value in _export_row(*row)])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _export_row(case, policy, holder, agent, unit, renewing_number, annual, renewing_annual, counted, renewed,
                renewing_premium, renewing_frequency, *flags) -> list:
    quoted = case.quoted_premium
    return [case.id, policy.number, name_of(holder), name_of(agent, "agent") if agent else "", unit,
            case.due_date.isoformat(), case.status.value, _yes(counted), _yes(renewed), policy.frequency.value,
            _amount(policy.premium), _amount(annual), renewing_number or "",
            renewing_frequency.value if renewing_frequency else "", _amount(renewing_premium),
            _amount(renewing_annual), _amount(quoted),
            _amount(None if quoted is None else quoted * policy.frequency.per_year),
            case.lost_reason.value if case.lost_reason else "", *(_yes(flag) for flag in flags)]


def _yes(value) -> str:
    return "yes" if value else "no"


def _amount(value) -> str:
    return "" if value is None else f"{Decimal(str(value)):.2f}"


def _cell(value):
    """A text cell a spreadsheet would run as a formula is quoted (CSV injection)."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value
