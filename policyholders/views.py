"""Web pages of policyholders: the list (search, filters, CSV export), the 360° view, and the actions taken
from it (log a contact, open a service request or complaint, edit the profile, reveal an ID number).

Rules stay in :mod:`policyholders.services`; every page runs a fixed number of queries (one per section).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Blueprint, Response, flash, g, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import NotFound

import agents.permissions  # noqa: F401 - registers the agent scope rule (owner filter, timeline agents)
import policies.permissions  # noqa: F401 - registers the policy scope rules (policies, payments, claims)
import policyholders.permissions  # noqa: F401 - registers the policyholder scope rules
from agents.models import Agent, Opportunity, OpportunityStatus
from insurecrm import clock
from insurecrm.api import apply_sort
from insurecrm.db import db
from insurecrm.errors import VersionConflict, flatten_messages
from insurecrm.models import AuditLog, Role
from insurecrm.pii import mask_id_number, must_pseudonymise
from insurecrm.scope import get_visible_or_404, scoped_select, visible, visible_ids
from insurecrm.web import INTERNAL, WRITERS, load_form, name_of, page_roles, paginate_page
from policies.models import IN_FORCE_STATUSES, Claim, Installment, InstallmentStatus, Payment, Policy
from policyholders import household, services
from policyholders.merging.services import redirect_target
from policyholders.messaging.consent import latest_withdrawals
from policyholders.models import Interaction, Policyholder, ServiceRequest
from policyholders.schemas import (
    InteractionSchema,
    PolicyholderArgs,
    PolicyholderUpdateSchema,
    ServiceRequestSchema,
    patch_schema,
)

bp = Blueprint("policyholders_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)

PER_PAGE = 25
FILTERS = ("q", "status", "region", "occupation", "gender", "income_band", "age_band", "owner_agent_id",
           "acquisition_channel")
SORTS = ("name", "status", "region", "created_at")
#: roles that see the audit section of the 360° view
AUDIT_ROLES = (Role.ADMIN, Role.BRANCH_MANAGER)
#: the profile fields of the edit page (ID number, owner and unit are not edited here)
PROFILE_FIELDS = ("kind", "name", "gender", "date_of_birth", "id_type", "phone", "phone_alt", "email", "address",
                  "region", "occupation", "industry", "income_band", "marital_status", "preferred_channel",
                  "preferred_language", "consent_marketing", "consent_sms", "consent_email", "acquisition_channel",
                  "acquisition_source", "status")
EXPORT_COLUMNS = (_l("Id"), _l("Name"), _l("Kind"), _l("Status"), _l("Region"), _l("Owner agent"),
                  _l("Acquisition channel"), _l("ID type"), _l("ID number (masked)"), _l("Phone"), _l("Email"),
                  _l("Policies in force"), _l("Created"))
#: characters that make a spreadsheet read a cell as a formula (CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- the list and its export ------------------------------------------------------------------------

@bp.get("/policyholders")
@page_roles(*INTERNAL)
def index():
    """Policyholders in the user's scope: search, filters, sort, 25 a page, with in-force policy counts."""
    filters = _filters()
    page = paginate_page(_listing(filters).options(joinedload(Policyholder.owner_agent)), PER_PAGE)
    return render_template("policyholders/index.html", page=page, filters=filters, args=_list_args(),
                           in_force=_in_force_counts([holder.id for holder in page.items]),
                           regions=_regions(), agents=_owner_choices(), sorts=_sorts(),
                           current_sort=_sort_key().lstrip("-"), can_search=not must_pseudonymise(),
                           can_create=g.user.role in WRITERS)


@bp.get("/policyholders/export.csv")
@page_roles(*INTERNAL)
def export():
    """The list as it is filtered and sorted, every page, as CSV (UTF-8 with BOM, for Excel), streamed."""
    counts = _in_force_subquery()
    stmt = (_listing(_filters())
            .outerjoin(Agent, Agent.id == Policyholder.owner_agent_id)
            .outerjoin(counts, counts.c.policyholder_id == Policyholder.id)
            .add_columns(Agent, func.coalesce(counts.c.policies, 0)))
    header = [str(column) for column in EXPORT_COLUMNS]
    filename = f"policyholders-{clock.today().isoformat()}.csv"
    return Response(stream_with_context(_csv_chunks(stmt, header)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _filters() -> dict:
    """The filters of the query string, parsed by the API's list arguments (422 on a bad value)."""
    given = {key: value.strip() for key in FILTERS if (value := request.args.get(key, "")).strip()}
    return PolicyholderArgs(only=FILTERS).load(given)


def _sorts() -> list[str]:
    allowed = services.policyholder_sorts()
    return [key for key in SORTS if key in allowed]


def _sort_key() -> str:
    field = request.args.get("sort") or ("name" if "name" in _sorts() else "created_at")
    return f"-{field}" if request.args.get("order") == "desc" else field


def _listing(filters: dict) -> Select:
    stmt = scoped_select(Policyholder).where(*services.trait_filters(filters, clock.today()))
    for key in ("status", "acquisition_channel"):
        if key in filters:
            stmt = stmt.where(getattr(Policyholder, key) == filters[key])
    if "owner_agent_id" in filters:
        stmt = stmt.where(Policyholder.owner_agent_id == filters["owner_agent_id"],
                          Policyholder.owner_agent_id.in_(visible_ids(Agent)))
    if "q" in filters:
        stmt = stmt.where(services.policyholder_lookup(filters["q"]))
    return apply_sort(stmt, Policyholder, _sort_key(), set(_sorts()))


def _list_args() -> dict:
    """The query arguments to keep on page links and the export link."""
    return {key: value for key in (*FILTERS, "sort", "order") if (value := request.args.get(key, "").strip())}


def _in_force_condition():
    return and_(Policy.status.in_(IN_FORCE_STATUSES), Policy.expiry_date > clock.today(), visible(Policy))


def _in_force_counts(policyholder_ids: list[int]) -> dict[int, int]:
    stmt = (select(Policy.policyholder_id, func.count(Policy.id))
            .where(Policy.policyholder_id.in_(policyholder_ids), _in_force_condition())
            .group_by(Policy.policyholder_id))
    return {holder_id: n for holder_id, n in db.session.execute(stmt)} if policyholder_ids else {}


def _in_force_subquery():
    return (select(Policy.policyholder_id, func.count(Policy.id).label("policies"))
            .where(_in_force_condition()).group_by(Policy.policyholder_id).subquery())


def _regions() -> list[str]:
    stmt = (select(Policyholder.region).where(visible(Policyholder), Policyholder.region.is_not(None))
            .distinct().order_by(Policyholder.region))
    return list(db.session.scalars(stmt))


def _owner_choices() -> list[Agent]:
    if g.user.role == Role.AGENT:
        return []  # an agent's book is their own: nothing to choose
    order = Agent.id if must_pseudonymise() else Agent.name_sort_key
    return list(db.session.scalars(scoped_select(Agent).order_by(order, Agent.id)))


def _csv_chunks(stmt: Select, header: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8 (Chinese names stay readable)
    writer.writerow(header)
    for n, (holder, agent, in_force) in enumerate(db.session.execute(stmt.execution_options(yield_per=500)), 1):
        writer.writerow(_export_row(holder, agent, in_force))
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _export_row(holder: Policyholder, agent: Agent | None, in_force: int) -> list:
    hidden = must_pseudonymise()
    private = (lambda value: "") if hidden else (lambda value: value or "")
    row = [holder.id, name_of(holder), holder.kind.value, holder.status.value, holder.region or "",
           name_of(agent, "agent") if agent else "", holder.acquisition_channel.value,
           holder.id_type.value if holder.id_type else "", private(mask_id_number(holder.id_number)),
           private(holder.phone), private(holder.email), in_force,
           holder.created_at.astimezone(clock.zone()).date().isoformat()]
    return [_safe_cell(value) for value in row]


def _safe_cell(value):
    """A text cell a spreadsheet would run as a formula is quoted, so it shows as the text it is."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value


# -- the 360° view ------------------------------------------------------------------------------------

@bp.get("/policyholders/<int:policyholder_id>")
@page_roles(*INTERNAL)
def detail(policyholder_id: int):
    """Everything about one policyholder on one page: one query per section (and one for a search of the book
    for a household member, ``?q=``, the form's fallback without JavaScript)."""
    try:
        holder = get_visible_or_404(Policyholder, policyholder_id)
    except NotFound:
        # the old id of a merged record leads to the record it was merged into
        if (survivor := redirect_target(policyholder_id, g.user)) is None:
            raise
        return redirect(url_for("policyholders_web.detail", policyholder_id=survivor))
    q = request.args.get("q", "").strip()
    if q and g.user.role in WRITERS:
        return render_360(holder, member_choices=services.find_in_book(q, exclude_id=holder.id), member_q=q)
    return render_360(holder)


def render_360(holder: Policyholder, *, status: int = 200, **extra):
    user = g.user
    sections = {
        "household": household.household_of(holder),
        "policies": _policies(holder),
        "payments": _payments(holder),
        "claims": _claims(holder),
        "timeline": _timeline(holder),
        "service_requests": _service_requests(holder),
        "opportunities": _opportunities(holder),
        "audit_rows": _audit(holder) if user.role in AUDIT_ROLES else None,
    }
    # when the policyholder withdrew a consent themselves (the unsubscribe link, an opt-out keyword): one query
    sections["withdrawals"] = latest_withdrawals(holder.id)
    policy_options = {policy.id: policy.number for policy, _next_due in sections["policies"]}
    return render_template("policyholders/detail.html", holder=holder, now=clock.now(), sla_state=services.sla_state,
                           policy_options=policy_options,
                           can_write=user.role in WRITERS, can_reveal=services.may_reveal_id_number(user, holder),
                           masked_id=mask_id_number(holder.id_number), **sections, **extra), status


def _policies(holder: Policyholder) -> list:
    """(policy, next open installment's due date), newest first, with the product."""
    next_due = (select(func.min(Installment.due_date))
                .where(Installment.policy_id == Policy.id,
                       Installment.status.in_((InstallmentStatus.DUE, InstallmentStatus.PARTIALLY_PAID)))
                .correlate(Policy).scalar_subquery())
    stmt = (scoped_select(Policy, None, Policy, next_due.label("next_due"))
            .where(Policy.policyholder_id == holder.id).options(joinedload(Policy.product))
            .order_by(Policy.effective_date.desc(), Policy.id.desc()))
    return db.session.execute(stmt).all()


def _payments(holder: Policyholder) -> list:
    stmt = (scoped_select(Payment, None, Payment, Policy.number).join(Policy, Policy.id == Payment.policy_id)
            .where(Policy.policyholder_id == holder.id)
            .order_by(Payment.paid_on.desc(), Payment.id.desc()).limit(20))
    return db.session.execute(stmt).all()


def _claims(holder: Policyholder) -> list:
    stmt = (scoped_select(Claim, None, Claim, Policy.number).join(Policy, Policy.id == Claim.policy_id)
            .where(Policy.policyholder_id == holder.id)
            .order_by(Claim.report_date.desc(), Claim.id.desc()).limit(50))
    return db.session.execute(stmt).all()


def _timeline(holder: Policyholder) -> list:
    stmt = (scoped_select(Interaction, None, Interaction, Agent).outerjoin(Agent, Agent.id == Interaction.agent_id)
            .where(Interaction.policyholder_id == holder.id)
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(50))
    return db.session.execute(stmt).all()


def _service_requests(holder: Policyholder) -> list:
    finished = case((ServiceRequest.status.in_(services.FINISHED), 1), else_=0)
    stmt = (scoped_select(ServiceRequest, None, ServiceRequest, Agent)
            .outerjoin(Agent, Agent.id == ServiceRequest.assigned_agent_id)
            .where(ServiceRequest.policyholder_id == holder.id)
            .order_by(finished, ServiceRequest.due_at, ServiceRequest.id).limit(50))
    return db.session.execute(stmt).all()


def _opportunities(holder: Policyholder) -> list[Opportunity]:
    still_open = case((Opportunity.status == OpportunityStatus.OPEN, 0), else_=1)
    stmt = (scoped_select(Opportunity).where(Opportunity.policyholder_id == holder.id)
            .options(joinedload(Opportunity.stage))
            .order_by(still_open, Opportunity.expected_close_date.is_(None), Opportunity.expected_close_date,
                      Opportunity.id.desc()).limit(50))
    return list(db.session.scalars(stmt))


def _audit(holder: Policyholder) -> list:
    """The latest 50 audit rows of the policyholder and of its policies the user sees."""
    policy_ids = select(Policy.id).where(Policy.policyholder_id == holder.id, visible(Policy))
    of_policy = and_(AuditLog.entity_type == Policy.__tablename__, AuditLog.entity_id.in_(policy_ids))
    stmt = (select(AuditLog, Policy.number)
            .outerjoin(Policy, and_(AuditLog.entity_type == Policy.__tablename__, Policy.id == AuditLog.entity_id))
            .where(or_(and_(AuditLog.entity_type == Policyholder.__tablename__, AuditLog.entity_id == holder.id),
                       of_policy))
            .order_by(AuditLog.occurred_at.desc(), AuditLog.id.desc()).limit(50))
    return db.session.execute(stmt).all()


# -- actions ------------------------------------------------------------------------------------------

@bp.post("/policyholders/<int:policyholder_id>/reveal-id")
@page_roles(*WRITERS)
def reveal_id(policyholder_id: int):
    """Show the full ID number once (admins, branch managers, the owner agent); audited."""
    holder = get_visible_or_404(Policyholder, policyholder_id)
    number = services.reveal_id_number(holder, actor=g.user)
    db.session.commit()
    if number is None:
        flash(_("No ID number is on file."), "error")
        return redirect(url_for(".detail", policyholder_id=holder.id))
    response, status = render_360(holder, revealed_id=number)
    return Response(response, status, headers={"Cache-Control": "no-store"})


@bp.post("/policyholders/<int:policyholder_id>/interactions")
@page_roles(*WRITERS)
def log_interaction(policyholder_id: int):
    """Log a contact with the policyholder (by you; now unless a local time is given)."""
    holder = get_visible_or_404(Policyholder, policyholder_id)
    schema = InteractionSchema(partial=("policyholder_id",))
    schema.load_fields["occurred_at"].default_timezone = clock.zone()  # a time typed on the page is local
    try:
        services.create_interaction({**load_form(schema), "policyholder_id": holder.id}, actor=g.user)
    except ValidationError as exc:
        return _refused(holder, "interaction", exc)
    db.session.commit()
    flash(_("Contact logged."), "success")
    return redirect(url_for(".detail", policyholder_id=holder.id, _anchor="timeline"))


@bp.post("/policyholders/<int:policyholder_id>/service-requests")
@page_roles(*WRITERS)
def open_service_request(policyholder_id: int):
    """Open a service request or a complaint for the policyholder, due by its SLA."""
    holder = get_visible_or_404(Policyholder, policyholder_id)
    schema = ServiceRequestSchema(partial=("policyholder_id",))
    try:
        services.create_service_request({**load_form(schema), "policyholder_id": holder.id}, actor=g.user)
    except ValidationError as exc:
        return _refused(holder, "service_request", exc)
    db.session.commit()
    flash(_("Service request opened."), "success")
    return redirect(url_for(".detail", policyholder_id=holder.id, _anchor="service"))


def _refused(holder: Policyholder, form: str, exc: ValidationError):
    db.session.rollback()
    return render_360(holder, status=422, form=form, errors=messages_of(exc), values=request.form)


def messages_of(exc: ValidationError) -> dict[str, list[str]]:
    """The messages by field, as text (those of a list's items joined into the list's)."""
    return {field: _texts(messages) for field, messages in flatten_messages(exc.normalized_messages()).items()}


def _texts(messages) -> list[str]:
    if isinstance(messages, dict):
        return [text for nested in messages.values() for text in _texts(nested)]
    if isinstance(messages, list | tuple):
        return [text for nested in messages for text in _texts(nested)]
    return [str(messages)]


@bp.route("/policyholders/<int:policyholder_id>/edit", methods=["GET", "POST"])
@page_roles(*WRITERS)
def edit(policyholder_id: int):
    """Edit the profile; sent with the version loaded, so that a change made meanwhile is not overwritten."""
    holder = get_visible_or_404(Policyholder, policyholder_id)
    if request.method == "GET":
        return _render_edit(holder, _profile_values(holder), [tag.tag for tag in holder.tags])
    version = holder.version
    try:
        # an emptied field is a change (cleared, or refused when required); an empty ID number keeps the one on file
        data = load_form(patch_schema(PolicyholderUpdateSchema), clearing=True, keep_if_empty=("id_number",))
        services.update_policyholder(holder, data, actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _render_edit(holder, request.form, _typed_tags(), status=422, errors=messages_of(exc))
    except (VersionConflict, StaleDataError):
        db.session.rollback()
        return _render_edit(holder, request.form, _typed_tags(), status=409, conflict=True)
    db.session.commit()
    if holder.version == version:
        flash(_("Nothing to save: the profile is as it was."), "info")
    else:
        flash(_("Profile saved."), "success")
    return redirect(url_for(".detail", policyholder_id=holder.id))


def _render_edit(holder: Policyholder, values, tags: list[str], *, status: int = 200, errors: dict | None = None,
                 conflict: bool = False):
    return render_template("policyholders/edit.html", holder=holder, values=values, tags=tags, errors=errors or {},
                           conflict=conflict, masked_id=mask_id_number(holder.id_number)), status


def _typed_tags() -> list[str]:
    return [tag for tag in request.form.getlist("tags") if tag.strip()]


def _profile_values(holder: Policyholder) -> dict:
    """The form's values: enums by value, dates in ISO format, consents as booleans."""
    values: dict = {}
    for name in PROFILE_FIELDS:
        value = getattr(holder, name)
        values[name] = value if isinstance(value, bool) else ("" if value is None else str(value))
    values["date_of_birth"] = holder.date_of_birth.isoformat() if holder.date_of_birth else ""
    values["version"] = holder.version
    return values
