"""Web pages of agents and the bancassurance channel: the agent's day and the referrals page.

Both read through the scope rules (``scoped_select``), so an agent's day is their own book and a
referrer's list their own referrals; writes go through :mod:`agents.services`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import Integer, Select, case, cast, extract, func, or_, select
from sqlalchemy.orm import aliased, joinedload

import agents.permissions  # noqa: F401 - registers the scope rules
import policies.permissions  # noqa: F401
import policyholders.permissions  # noqa: F401
from agents import services, task_services
from agents.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Opportunity,
    PartnerStatus,
    Referral,
    ReferralStatus,
    Referrer,
)
from agents.pipeline import opportunities as opportunity_services
from agents.pipeline.referral_progress import Step, referral_progress
from agents.schemas import ReferralSchema, ReferralUpdateSchema
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import database_id, load_form, page_roles, paginate_page
from policies.models import WORKED_CASE_STATUSES, Policy, Product, RenewalCase, RenewalStatus
from policyholders import services as holder_services
from policyholders.duplicates import likely_duplicates
from policyholders.models import Interaction, InteractionChannel, Policyholder, ServiceRequest, ServiceStatus
from policyholders.schemas import PolicyholderSchema
from reports import churn

workspace = Blueprint("workspace", __name__, template_folder="templates")
agents_web = Blueprint("agents_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (workspace, agents_web)

#: how far ahead the day looks for renewals due
RENEWAL_HORIZON = timedelta(days=60)
#: service requests still to work, and how far ahead the day looks for their due time
WORKING = (ServiceStatus.OPEN, ServiceStatus.IN_PROGRESS)
SERVICE_HORIZON = timedelta(days=3)
BIRTHDAY_DAYS = 7
#: the longest list the day shows of each kind (the counts give the totals)
LIST_LIMIT = 50
RECENT_INTERACTIONS = 10

RENEWAL_LABELS = {RenewalStatus.OPEN: _l("Open"), RenewalStatus.CONTACTED: _l("Contacted"),
                  RenewalStatus.QUOTED: _l("Quoted"), RenewalStatus.RENEWED: _l("Renewed"),
                  RenewalStatus.LOST: _l("Lost"), RenewalStatus.LAPSED: _l("Lapsed")}
ACTIVITY_LABELS = {ActivityKind.CALL: _l("Call"), ActivityKind.VISIT: _l("Visit"), ActivityKind.MEETING: _l("Meeting"),
                   ActivityKind.PRESENTATION: _l("Presentation"), ActivityKind.EMAIL: _l("Email"),
                   ActivityKind.CALLBACK: _l("Callback"), ActivityKind.OTHER: _l("Other")}
CHANNEL_LABELS = {
    InteractionChannel.VISIT: _l("Visit"), InteractionChannel.PHONE: _l("Phone"), InteractionChannel.SMS: _l("SMS"),
    InteractionChannel.EMAIL: _l("Email"), InteractionChannel.MESSAGING: _l("Messaging"),
    InteractionChannel.BRANCH_COUNTER: _l("Branch counter"), InteractionChannel.CALL_CENTRE: _l("Call centre"),
    InteractionChannel.WEB: _l("Web"),
}
REFERRAL_LABELS = {ReferralStatus.SUBMITTED: _l("Submitted"), ReferralStatus.ACCEPTED: _l("Accepted"),
                   ReferralStatus.CONVERTED: _l("Converted"), ReferralStatus.REJECTED: _l("Rejected")}
#: a referral's progress as its referrer sees it (agents.pipeline.referral_progress)
PROGRESS_LABELS = {Step.SUBMITTED: _l("Submitted"), Step.ACCEPTED: _l("Accepted"), Step.IN_PROGRESS: _l("In progress"),
                   Step.ISSUED: _l("Policy issued"), Step.NOT_TAKEN: _l("Not taken")}
REFERRAL_BADGES = {ReferralStatus.ACCEPTED: "warn", ReferralStatus.CONVERTED: "good", ReferralStatus.REJECTED: "bad"}


@workspace.context_processor
@agents_web.context_processor
def _labels() -> dict:
    return {"renewal_labels": RENEWAL_LABELS, "activity_labels": ACTIVITY_LABELS, "channel_labels": CHANNEL_LABELS,
            "referral_labels": REFERRAL_LABELS, "referral_badges": REFERRAL_BADGES}


# -- my day ---------------------------------------------------------------------------------------------

@workspace.get("/my-day")
@page_roles(Role.AGENT, Role.BANCASSURANCE_SPECIALIST)
def my_day():
    """The agent's day: tasks due today or overdue (to complete here), renewals due, today's and overdue
    activities, service requests due, birthdays this week, recent contacts and the policyholders most likely to leave
    (the churn warning, with the reasons linked to the records behind them), with their counts. A fixed number of
    queries, whatever the book."""
    today, now = clock.today(), clock.now()
    start, end = _local_midnight(today), _local_midnight(today + timedelta(days=1))
    lists = {
        "tasks": task_services.due_today_or_overdue(g.user, today),
        "renewals": _renewals_due(today),
        "activities_today": _planned(Activity.planned_start >= start, Activity.planned_start < end),
        "overdue": _planned(Activity.planned_start < start),
        "service_due": _service_due(now),
        "birthdays": _birthdays(today),
        "churn": churn.agent_warnings(g.user),
        "closing": opportunity_services.closing_this_week(g.user, today),
        "stale": opportunity_services.past_stage_limit(g.user, now),
    }
    return render_template(
        "agents/my_day.html", today=today, now=now, counts=_counts(lists),
        tasks=_with_holder(lists["tasks"], Activity, Activity.due_date), failed={}, values={},
        reason_labels=task_services.REASON_LABELS, outcome_labels=task_services.OUTCOME_LABELS,
        reason_hints=task_services.REASON_HINTS,
        renewals=db.session.scalars(lists["renewals"].options(
            joinedload(RenewalCase.policy).joinedload(Policy.policyholder))
            .order_by(RenewalCase.due_date, RenewalCase.id).limit(LIST_LIMIT)).all(),
        activities_today=_with_holder(lists["activities_today"], Activity, Activity.planned_start),
        overdue=_with_holder(lists["overdue"], Activity, Activity.planned_start.desc()),
        service_due=_with_holder(lists["service_due"], ServiceRequest, ServiceRequest.due_at),
        birthdays=[(holder, _next_birthday(holder.date_of_birth, today)) for holder in db.session.scalars(
            lists["birthdays"].order_by(*_birthday_order(today), Policyholder.id).limit(LIST_LIMIT))],
        interactions=_with_holder(scoped_select(Interaction), Interaction, Interaction.occurred_at.desc(),
                                  limit=RECENT_INTERACTIONS),
        churn_warnings=churn.top_warnings(g.user), churn_report=g.user.role in churn.REPORT_ROLES,
        closing=_with_holder(lists["closing"].options(joinedload(Opportunity.stage)), Opportunity,
                             Opportunity.expected_close_date),
        stale=_with_holder(lists["stale"].options(joinedload(Opportunity.stage)), Opportunity,
                           Opportunity.stage_entered_at),
    )


def _local_midnight(day: date) -> datetime:
    """The instant (UTC) a local day of the insurer's time zone begins."""
    return datetime.combine(day, time.min, tzinfo=clock.zone()).astimezone(UTC)


def _renewals_due(today: date) -> Select:
    return scoped_select(RenewalCase).where(RenewalCase.status.in_(WORKED_CASE_STATUSES),
                                            RenewalCase.due_date <= today + RENEWAL_HORIZON)


def _planned(*conditions) -> Select:
    """Planned activities that are not tasks (those have their own list, by due date)."""
    return scoped_select(Activity).where(Activity.status == ActivityStatus.PLANNED, ~task_services.is_task(),
                                         *conditions)


def _service_due(now: datetime) -> Select:
    """Unfinished requests due within :data:`SERVICE_HORIZON` (or overdue), assigned to the user or on
    policyholders they own."""
    agent_id = g.user.agent_id
    own = select(Policyholder.id).where(Policyholder.owner_agent_id == agent_id)
    return scoped_select(ServiceRequest).where(
        ServiceRequest.status.in_(WORKING), ServiceRequest.due_at < now + SERVICE_HORIZON,
        or_(ServiceRequest.assigned_agent_id == agent_id, ServiceRequest.policyholder_id.in_(own)))


def _birthday_key(column):
    """``MMDD`` of a date as an integer (0307 for 7 March): the same SQL meaning on SQLite and PostgreSQL."""
    return cast(extract("month", column), Integer) * 100 + cast(extract("day", column), Integer)


def _mmdd(day: date) -> int:
    return day.month * 100 + day.day


def _birthdays(today: date) -> Select:
    """Policyholders whose birthday falls in the seven days from today (across the year end too)."""
    key, first, last = _birthday_key(Policyholder.date_of_birth), _mmdd(today), _mmdd(today + timedelta(days=6))
    in_week = key.between(first, last) if first <= last else or_(key >= first, key <= last)
    return scoped_select(Policyholder).where(Policyholder.date_of_birth.is_not(None), in_week)


def _birthday_order(today: date) -> tuple:
    key = _birthday_key(Policyholder.date_of_birth)
    return case((key >= _mmdd(today), 0), else_=1), key


def _next_birthday(born: date, today: date) -> date:
    """The date of the next birthday on or after today (29 February falls on 28 February in other years)."""
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:
            day = date(year, 2, 28)
        if day >= today:
            return day
    raise AssertionError("a birthday falls within a year")


def _counts(lists: dict[str, Select]) -> dict[str, int]:
    """The size of each list, all in one query."""
    columns = [select(func.count()).select_from(stmt.order_by(None).subquery()).scalar_subquery().label(name)
               for name, stmt in lists.items()]
    return dict(db.session.execute(select(*columns)).one()._mapping)


def _with_holder(stmt: Select, model: type, order, *, limit: int = LIST_LIMIT) -> list[tuple]:
    """(row, policyholder) pairs of ``stmt`` in one query; the policyholder is ``None`` when there is none."""
    holder = aliased(Policyholder)
    stmt = stmt.add_columns(holder).outerjoin(holder, holder.id == model.policyholder_id)
    return [tuple(row) for row in db.session.execute(stmt.order_by(order, model.id).limit(limit))]


# -- referrals ------------------------------------------------------------------------------------------

@agents_web.get("/referrals")
@page_roles(Role.BANK_REFERRER, Role.BANCASSURANCE_SPECIALIST)
def referrals():
    """Referrers: their own referrals and a form to submit one; specialists: their partners' referrals
    to accept, reject or convert (and a form to submit one for a referrer)."""
    return _referrals_page()


@agents_web.post("/referrals")
@page_roles(Role.BANK_REFERRER, Role.BANCASSURANCE_SPECIALIST)
def submit_referral():
    try:
        referral = services.submit_referral(load_form(ReferralSchema()), actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _referrals_page(errors={"submit": exc.normalized_messages()}, status=422)
    db.session.commit()
    flash(_("Referral of %(name)s submitted.", name=referral.prospect_name), "success")
    return redirect(url_for(".referrals"))


@agents_web.post("/referrals/<int:referral_id>")
@page_roles(Role.BANCASSURANCE_SPECIALIST)
def work_referral(referral_id: int):
    """Accept, reject (with a reason) or convert (into a policyholder chosen from a search of the book) a
    referral."""
    referral = get_visible_or_404(Referral, referral_id)
    schema = ReferralUpdateSchema(only=("status", "rejection_reason", "policyholder_id"))
    try:
        services.update_referral(referral, load_form(schema), actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _referrals_page(errors={"work": exc.normalized_messages(), "referral_id": referral_id}, status=422)
    db.session.commit()
    flash(_("The referral is now %(status)s.", status=REFERRAL_LABELS[referral.status]), "success")
    return redirect(url_for(".referrals", **_list_args()))


@agents_web.post("/referrals/<int:referral_id>/new-policyholder")
@page_roles(Role.BANCASSURANCE_SPECIALIST)
def convert_to_new_policyholder(referral_id: int):
    """Convert a referral into a policyholder created in place from it; a likely duplicate is shown first
    (to choose instead, or to confirm)."""
    referral = get_visible_or_404(Referral, referral_id)
    try:
        data = load_form(PolicyholderSchema(only=holder_services.IN_PLACE_FIELDS))
    except ValidationError as exc:
        return _referrals_page(errors={"new": exc.normalized_messages(), "referral_id": referral_id}, status=422)
    duplicates = likely_duplicates(data, user=g.user)
    if duplicates and not request.form.get("confirm_duplicate"):
        return _referrals_page(errors={"new": {}, "referral_id": referral_id}, duplicates=duplicates)
    try:
        holder = services.convert_referral_to_new_policyholder(referral, data, actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _referrals_page(errors={"new": exc.normalized_messages(), "referral_id": referral_id},
                               duplicates=duplicates, status=422)
    db.session.commit()
    flash(_("Referral converted: %(name)s is in your book.", name=holder.name), "success")
    return redirect(url_for("policyholders_web.detail", policyholder_id=holder.id))


def _list_args() -> dict:
    """The list's own query arguments (filter, page), kept across a change; not the search of a conversion."""
    return {key: value for key in ("status", "page") if (value := request.args.get(key))}


def _referrals_page(*, errors: dict | None = None, status: int = 200, duplicates: list | None = None):
    chosen = request.args.get("status")
    chosen = chosen if chosen in {s.value for s in ReferralStatus} else None
    stmt = scoped_select(Referral).options(joinedload(Referral.referrer), joinedload(Referral.bank_branch))
    if chosen:
        stmt = stmt.where(Referral.status == chosen)
    page = paginate_page(stmt.order_by(Referral.submitted_at.desc(), Referral.id.desc()))
    product_ids = {item.product_id for item in page.items} - {None}
    products = db.session.scalars(scoped_select(Product).where(
        or_(Product.active.is_(True), Product.id.in_(product_ids))).order_by(Product.name, Product.id)).all()
    specialist = g.user.role == Role.BANCASSURANCE_SPECIALIST
    referrers = db.session.scalars(scoped_select(Referrer).where(Referrer.status == PartnerStatus.ACTIVE)
                                   .order_by(Referrer.name, Referrer.id)).all() if specialist else []
    # the conversion's search of the book (the fallback of the search-as-you-type field): ?convert=<id>&q=...
    converting = request.args.get("convert", type=database_id) if specialist else None
    search = request.args.get("q", "").strip() if converting else ""
    return render_template(
        "agents/referrals.html", page=page, chosen=chosen, products={p.id: p for p in products},
        converting=converting, search=search, choices=holder_services.find_in_book(search),
        duplicates=duplicates or [], list_args=_list_args(),
        active_products=[p for p in products if p.active], referrers=referrers, specialist=specialist,
        transitions=services.REFERRAL_TRANSITIONS, errors=errors or {}, form=request.form if errors else {},
        progress=referral_progress(page.items) if g.user.role == Role.BANK_REFERRER else {},
        progress_labels=PROGRESS_LABELS,
        page_url=lambda number: url_for(".referrals", **{**request.args.to_dict(), "page": number}),
    ), status
