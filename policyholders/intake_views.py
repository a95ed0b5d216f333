"""Web pages that bring people into the book: a new prospect or policyholder (warning of a likely duplicate
first), household members (found in the user's book as they type, or created in place), and the search that
fills the "choose a policyholder" lists of other pages (the referrals page's conversion).

The rules are the API's: the forms are loaded with the API's schemas and handed to the same services
(:func:`policyholders.services.create_policyholder`, :func:`policyholders.household.create_relationship`).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

import agents.permissions  # noqa: F401 - registers the agent scope rule (owner choices)
import policyholders.permissions  # noqa: F401 - registers the policyholder scope rule
from agents.models import Agent, AgentStatus, OrgUnit
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, org_subtree_condition, scoped_select
from insurecrm.web import WRITERS, database_id, load_form, page_roles
from policyholders import household, services
from policyholders.duplicates import likely_duplicates
from policyholders.models import AcquisitionChannel, Policyholder, PolicyholderStatus
from policyholders.schemas import PolicyholderSchema, RelationshipSchema
from policyholders.views import messages_of, render_360

bp = Blueprint("policyholders_intake", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)

#: the statuses a record starts in: someone to win over, or a customer already
NEW_STATUSES = (PolicyholderStatus.PROSPECT, PolicyholderStatus.ACTIVE)
#: the inputs the choice lists fill in, by the form they belong to
CHOICE_FIELDS = ("to_policyholder_id", "policyholder_id")


# -- a new prospect or policyholder -------------------------------------------------------------------

@bp.route("/policyholders/new", methods=["GET", "POST"])
@page_roles(*WRITERS)
def new():
    """The form of a new prospect or policyholder; a likely duplicate is shown first, to open instead or to
    confirm ("create anyway")."""
    if request.method == "GET":
        return _render_new(_new_defaults())
    try:
        data = load_form(PolicyholderSchema())
    except ValidationError as exc:
        return _render_new(request.form, errors=messages_of(exc), status=422)
    duplicates = likely_duplicates(data, user=g.user)
    if duplicates and not request.form.get("confirm_duplicate"):
        return _render_new(request.form, duplicates=duplicates)
    try:
        holder = services.create_policyholder(data, actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _render_new(request.form, errors=messages_of(exc), duplicates=duplicates, status=422)
    db.session.commit()
    flash(_("%(name)s is in the book.", name=holder.name), "success")
    return redirect(url_for("policyholders_web.detail", policyholder_id=holder.id))


def _new_defaults() -> dict:
    specialist = g.user.role == Role.BANCASSURANCE_SPECIALIST
    channel = AcquisitionChannel.BANCASSURANCE if specialist else AcquisitionChannel.AGENCY
    return {"kind": "person", "status": PolicyholderStatus.PROSPECT.value, "preferred_language": "zh",
            "acquisition_channel": channel.value,
            "owner_agent_id": str(g.user.agent_id or "")}


def _render_new(values, *, errors: dict | None = None, duplicates: list | None = None, status: int = 200):
    chooses_owner = g.user.role not in services.OWN_BOOK_ROLES
    return render_template(
        "policyholders/new.html", values=values, errors=errors or {}, duplicates=duplicates or [],
        tags=[tag for tag in (values.getlist("tags") if hasattr(values, "getlist") else []) if tag.strip()],
        statuses=[status.value for status in NEW_STATUSES], chooses_owner=chooses_owner,
        owners=_owner_choices() if chooses_owner else [], units=_unit_choices() if chooses_owner else [],
    ), status


def _owner_choices() -> list[Agent]:
    """Active agents the user may hand a record to (a manager: those of their subtree)."""
    return list(db.session.scalars(scoped_select(Agent).where(Agent.status == AgentStatus.ACTIVE)
                                   .order_by(Agent.name, Agent.id)))


def _unit_choices() -> list[OrgUnit]:
    stmt = select(OrgUnit).order_by(OrgUnit.path)
    if g.user.role == Role.BRANCH_MANAGER:
        stmt = stmt.where(org_subtree_condition(OrgUnit.id, g.user))
    return list(db.session.scalars(stmt))


# -- finding a policyholder in one's book ---------------------------------------------------------------

@bp.get("/policyholders/lookup")
@page_roles(*WRITERS)
def lookup():
    """The policyholders of the user's book matching ``q`` (name, phone, ID or policy number), as a list of
    choices for the input ``field``: the fragment a search-as-you-type field swaps in (htmx)."""
    field = request.args.get("field", "policyholder_id")
    if field not in CHOICE_FIELDS:
        abort(404)
    exclude = request.args.get("exclude", type=database_id)
    prefix = request.args.get("prefix", "")
    if not prefix.replace("-", "").isalnum():
        prefix = ""
    q = request.args.get("q", "").strip()
    return render_template("policyholders/_choices.html", choices=services.find_in_book(q, exclude_id=exclude),
                           field=field, prefix=prefix, searched=bool(q))


# -- household members --------------------------------------------------------------------------------

@bp.post("/policyholders/<int:policyholder_id>/household")
@page_roles(*WRITERS)
def add_member(policyholder_id: int):
    """Relate the policyholder to another of the user's book, chosen from a search (never a typed number)."""
    holder = get_visible_or_404(Policyholder, policyholder_id)
    try:
        household.create_relationship(holder, load_form(RelationshipSchema()), actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _household_refused(holder, "household", messages_of(exc))
    db.session.commit()
    flash(_("Household member added."), "success")
    return redirect(url_for("policyholders_web.detail", policyholder_id=holder.id, _anchor="household"))


@bp.post("/policyholders/<int:policyholder_id>/household/new")
@page_roles(*WRITERS)
def new_member(policyholder_id: int):
    """Create a person in place and relate the policyholder to them; a likely duplicate is shown first."""
    holder = get_visible_or_404(Policyholder, policyholder_id)
    errors: dict = {}
    data, relation = _load_part(PolicyholderSchema(only=services.IN_PLACE_FIELDS), errors), _load_part(
        RelationshipSchema(only=("kind",)), errors)
    if errors:
        return _household_refused(holder, "household_new", errors)
    duplicates = likely_duplicates(data, user=g.user, exclude_id=holder.id)
    if duplicates and not request.form.get("confirm_duplicate"):
        return _household_refused(holder, "household_new", {}, duplicates=duplicates, status=200)
    try:
        member = services.create_policyholder({**data, **_same_book_as(holder)}, actor=g.user)
        household.create_relationship(holder, {"to_policyholder_id": member.id, **relation}, actor=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _household_refused(holder, "household_new", messages_of(exc), duplicates=duplicates)
    db.session.commit()
    flash(_("%(name)s is in the book and in the household.", name=member.name), "success")
    return redirect(url_for("policyholders_web.detail", policyholder_id=holder.id, _anchor="household"))


def _load_part(schema, errors: dict) -> dict:
    try:
        return load_form(schema)
    except ValidationError as exc:
        errors.update(messages_of(exc))
        return {}


def _same_book_as(holder: Policyholder) -> dict:
    """A member created by a manager or an admin joins the policyholder's book (owner and unit); agents and
    specialists keep what they create in their own book."""
    if g.user.role in services.OWN_BOOK_ROLES:
        return {}
    return {"owner_agent_id": holder.owner_agent_id, "org_unit_id": holder.org_unit_id}


def _household_refused(holder: Policyholder, form: str, errors: dict, *, duplicates: list | None = None,
                       status: int = 422):
    choices = services.find_in_book(request.form.get("q"), exclude_id=holder.id)
    return render_360(holder, status=status, form=form, errors=errors, values=request.form,
                      duplicates=duplicates or [], member_choices=choices)
