"""Pages of segments: the list, the builder (new and edit) with its live count, a segment's members (paged, a
fixed number of queries), their export as CSV and XLSX, and deletion. Rules live in
:mod:`policyholders.segments.services`; the filter's form is read by the API's own schema."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from babel.dates import get_month_names
from flask import Blueprint, Response, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

import agents.permissions  # noqa: F401 - registers the agent, unit and bank partner scope rules (the choices)
import policies.permissions  # noqa: F401 - registers the product scope rule (the choices)
from agents.models import Agent, BankPartner, OrgUnit
from insurecrm import clock
from insurecrm.db import db
from insurecrm.errors import VersionConflict
from insurecrm.labels import label
from insurecrm.models import Role
from insurecrm.pii import must_pseudonymise
from insurecrm.scope import get_visible_or_404, scoped_select, visible
from insurecrm.web import name_of, page_roles, paginate_page
from policies.models import Product
from policyholders.models import Policyholder
from policyholders.segments import services
from policyholders.segments.exports import members_table
from policyholders.segments.filters import SegmentFilterForm
from policyholders.segments.models import Segment
from policyholders.segments.routes import SEGMENT_ROLES
from policyholders.segments.schemas import SegmentSchema
from reports.exports import Heading, csv_chunks, write_xlsx
from reports.tables import ReportResult

bp = Blueprint("segments_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
PER_PAGE = 25
#: fields of the form whose one text box may hold several values, separated by commas
SPLIT_FIELDS = ("region", "occupation", "industry", "tags_any", "tags_all")
_FORM = SegmentFilterForm()
_NAMING = SegmentSchema(only=("name", "description"))


@bp.get("/segments")
@page_roles(*SEGMENT_ROLES)
def index():
    """The segments the user may see, by name: two queries a page (and their owners)."""
    stmt = (scoped_select(Segment).options(selectinload(Segment.owner))
            .order_by(Segment.name, Segment.id))
    return render_template("segments/index.html", page=paginate_page(stmt, PER_PAGE))


@bp.get("/segments/new")
@page_roles(*SEGMENT_ROLES)
def new():
    """The builder, empty: its count is the whole of the user's book."""
    return _builder(None, MultiDict(), {}, count=services.count({}, g.user))


@bp.post("/segments/new")
@page_roles(*SEGMENT_ROLES)
def create():
    """Keep the filter by name; "Count" shows the builder again with the count, keeping nothing."""
    values, criteria, errors = _read_form()
    if errors or request.form.get("action") == "count":
        return _refused_or_counted(None, values, criteria, errors)
    try:
        segment = services.create_segment({**_naming(), "criteria": criteria}, actor=g.user)
    except ValidationError as error:
        return _builder(None, values, _messages(error.messages), count=None, status=422)
    db.session.commit()
    flash(_("Segment saved."), "success")
    return redirect(url_for("segments_web.members", segment_id=segment.id))


@bp.get("/segments/count")
@page_roles(*SEGMENT_ROLES)
def live_count():
    """The builder's live count (htmx): the filter of the query string counted in the user's scope, as a
    fragment; a filter that is not one yet says what is wrong instead."""
    values, criteria, errors = _read(request.args)
    count = None if errors else services.count(services.stored_filter(criteria), g.user)
    return render_template("segments/_count.html", count=count, errors=errors, field_labels=FIELD_LABELS)


@bp.get("/segments/<int:segment_id>")
@page_roles(*SEGMENT_ROLES)
def members(segment_id: int):
    """The segment's members of the user's scope today, 25 a page: four queries (the segment, the count, the page
    with their owners)."""
    segment = get_visible_or_404(Segment, segment_id)
    stmt = (services.members_as_of(segment, g.user, clock.today())
            .options(joinedload(Policyholder.owner_agent)))
    return render_template("segments/members.html", segment=segment, page=paginate_page(stmt, PER_PAGE),
                           criteria=_criteria_lines(segment.criteria))


@bp.get("/segments/<int:segment_id>/edit")
@page_roles(*SEGMENT_ROLES)
def edit(segment_id: int):
    """The builder over a kept segment, with its count today."""
    segment = get_visible_or_404(Segment, segment_id)
    values = _values_of(segment)
    return _builder(segment, values, {}, count=services.count(segment, g.user))


@bp.post("/segments/<int:segment_id>/edit")
@page_roles(*SEGMENT_ROLES)
def update(segment_id: int):
    """Save the changed name, description or filter (a stale version explains the conflict: 409)."""
    segment = get_visible_or_404(Segment, segment_id)
    values, criteria, errors = _read_form()
    if errors or request.form.get("action") == "count":
        return _refused_or_counted(segment, values, criteria, errors)
    version = request.form.get("version", "")
    data = {**_naming(), "criteria": criteria, "version": int(version) if version.isdigit() else None}
    try:
        changed = services.update_segment(segment, data)
        db.session.commit()
    except ValidationError as error:
        return _builder(segment, values, _messages(error.messages), count=None, status=422)
    except StaleDataError:
        raise VersionConflict() from None
    flash(_("Segment saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("segments_web.members", segment_id=segment.id))


@bp.post("/segments/<int:segment_id>/delete")
@page_roles(*SEGMENT_ROLES)
def delete(segment_id: int):
    """Forget the segment; its policyholders are untouched."""
    services.delete_segment(get_visible_or_404(Segment, segment_id))
    db.session.commit()
    flash(_("Segment deleted."), "success")
    return redirect(url_for("segments_web.index"))


@bp.get("/segments/<int:segment_id>/export.csv")
@page_roles(*SEGMENT_ROLES)
def export_csv(segment_id: int):
    """Every member of the user's scope today as CSV, streamed."""
    segment = get_visible_or_404(Segment, segment_id)
    chunks = csv_chunks(members_table(segment, g.user), pseudonymise=must_pseudonymise())
    return Response(chunks, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=segment-{segment.id}-{clock.today()}.csv"})


@bp.get("/segments/<int:segment_id>/export.xlsx")
@page_roles(*SEGMENT_ROLES)
def export_xlsx(segment_id: int):
    """Every member of the user's scope today as an XLSX workbook, with the filter on its first sheet."""
    segment = get_visible_or_404(Segment, segment_id)
    heading = Heading(title=segment.name, filters=_criteria_lines(segment.criteria), made_on=clock.today(),
                      scope=g.user.display_name)
    target = io.BytesIO()
    write_xlsx(ReportResult([members_table(segment, g.user)]), heading, target, pseudonymise=must_pseudonymise())
    target.seek(0)
    return send_file(target, as_attachment=True, download_name=f"segment-{segment.id}-{clock.today()}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# -- the builder's form ------------------------------------------------------------------------------------------

def _builder(segment: Segment | None, values: Mapping, errors: dict, *, count: int | None, status: int = 200):
    return render_template("segments/builder.html", segment=segment, values=values, errors=errors, count=count,
                           choices=_choices(), months=_months()), status


def _refused_or_counted(segment: Segment | None, values: Mapping, criteria: dict, errors: dict):
    if errors:
        return _builder(segment, values, errors, count=None, status=422)
    return _builder(segment, values, {}, count=services.count(services.stored_filter(criteria), g.user))


def _read_form() -> tuple[MultiDict, dict, dict]:
    """The posted filter and naming, checked: (values as sent, the loaded filter, messages by field)."""
    values, criteria, errors = _read(request.form)
    if request.form.get("action") != "count":
        try:
            _NAMING.load(_naming())
        except ValidationError as error:
            errors.update(_messages(error.messages))
    return values, criteria, errors


def _naming() -> dict:
    description = request.form.get("description", "").strip()
    return {"name": request.form.get("name", "").strip(), "description": description or None}


def _read(source: MultiDict) -> tuple[MultiDict, dict, dict]:
    """The filter fields of a form or query string through the API's filter schema: a list field reads every value
    of its name (and a text box's comma-separated values), an empty input is not given."""
    raw: dict[str, Any] = {}
    for name, field in _FORM.load_fields.items():
        sent = [value.strip() for value in source.getlist(name) if value.strip()]
        if name in SPLIT_FIELDS:
            sent = [part.strip() for value in sent for part in value.split(",") if part.strip()]
        if sent:
            raw[name] = sent if hasattr(field, "inner") else sent[0]
    try:
        return source, _FORM.load(raw), {}
    except ValidationError as error:
        return source, {}, _messages(error.messages)


def _messages(messages: dict) -> dict[str, list[str]]:
    """Messages by field, those of a list's items gathered under the list's name."""
    def flat(value) -> list[str]:
        if isinstance(value, dict):
            return [text for inner in value.values() for text in flat(inner)]
        return [str(text) for text in value] if isinstance(value, list) else [str(value)]

    return {name: flat(value) for name, value in messages.items()}


def _values_of(segment: Segment) -> MultiDict:
    """A kept segment as the form shows it: lists as repeated values, the text lists joined by commas."""
    values = MultiDict({"name": segment.name, "description": segment.description or "",
                        "version": str(segment.version)})
    for name, value in segment.criteria.items():
        if isinstance(value, list):
            items = [", ".join(value)] if name in SPLIT_FIELDS else [str(item) for item in value]
            values.setlist(name, items)
        else:
            values[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def _choices() -> dict:
    """What the form offers, as ``{value: text}``: the regions, owner agents, units, bank partners and products of
    the user's scope (one query each)."""
    regions = (select(Policyholder.region).where(visible(Policyholder), Policyholder.region.is_not(None))
               .distinct().order_by(Policyholder.region))
    agents = [] if g.user.role == Role.AGENT else db.session.scalars(
        scoped_select(Agent).order_by(Agent.name_sort_key, Agent.id)).all()
    units = db.session.scalars(scoped_select(OrgUnit).order_by(OrgUnit.path)).all()
    partners = db.session.scalars(scoped_select(BankPartner).order_by(BankPartner.name)).all()
    products = db.session.scalars(scoped_select(Product).order_by(Product.name, Product.id)).all()
    return {"regions": {region: region for region in db.session.scalars(regions)},
            "agents": {agent.id: name_of(agent, "agent") for agent in agents},
            "units": {unit.id: unit.name for unit in units},
            "partners": {partner.id: partner.name for partner in partners},
            "products": {product.id: product.name for product in products}}


def _months() -> dict[int, str]:
    """The months by number, named in the reader's language."""
    return dict(get_month_names("wide", locale=get_locale()))


#: the filter's fields as the members page and the XLSX describe them
FIELD_LABELS = {
    "kind": _l("Kind"), "gender": _l("Gender"), "status": _l("Status"), "income_band": _l("Income band"),
    "marital_status": _l("Marital status"), "preferred_channel": _l("Preferred channel"),
    "acquisition_channel": _l("Acquisition channel"), "region": _l("Region"), "occupation": _l("Occupation"),
    "industry": _l("Industry"), "bank_partner_id": _l("Bank partner"), "owner_agent_id": _l("Owner agent"),
    "org_unit_id": _l("Unit"), "tags_any": _l("Any of the tags"), "tags_all": _l("All of the tags"),
    "age_min": _l("Age from"), "age_max": _l("Age to"), "age_on": _l("Age on"),
    "birthday_month": _l("Birthday month"), "product_id": _l("Products held"), "product_line": _l("Lines held"),
    "policy_status": _l("Holds a policy in status"), "renewal_due_days": _l("Renewal due within (days)"),
    "quadrant": _l("Contribution × loyalty quadrant"), "churn_min": _l("Churn score from"),
    "churn_max": _l("Churn score to"), "consent_marketing": _l("Marketing consent"),
    "consent_sms": _l("SMS consent"), "consent_email": _l("Email consent"),
}
#: the label set of each coded field
FIELD_CODES = {"kind": "party_kind", "gender": "gender", "status": "holder_status", "income_band": "income_band",
               "marital_status": "marital_status", "preferred_channel": "contact_channel",
               "acquisition_channel": "acquisition_channel", "product_line": "product_line",
               "policy_status": "policy_status", "quadrant": "segment_quadrant", "consent_marketing": "yes_no",
               "consent_sms": "yes_no", "consent_email": "yes_no"}


def _criteria_lines(criteria: Mapping) -> list[tuple[str, str]]:
    """The filter in words, field by field, coded values by their labels (ids as they are)."""
    lines = []
    for name, value in criteria.items():
        items = value if isinstance(value, list) else [value]
        kind = FIELD_CODES.get(name)
        shown = [label(item, kind) if kind else str(item) for item in items]
        lines.append((str(FIELD_LABELS.get(name, name)), ", ".join(shown)))
    return lines
