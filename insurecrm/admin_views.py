"""Admin pages: users and roles, the organisation tree, agents, products, bank partners, branches, referrers.

Every form is read through the API's own schema and handed to the service the API calls, so a rule holds
the same on both; a refused form comes back with the messages next to their fields (422), nothing written.
Each kind of record has a list (filters from the API's list arguments, paged), a create form and an edit
form, described once by a :class:`Resource`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from agents import schemas as agent_schemas
from agents import services as agent_services
from agents.models import Agent, BankBranch, BankPartner, OrgUnit, Referrer
from insurecrm import users
from insurecrm.api import partial
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import Role, User
from insurecrm.navigation import role_label
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.user_routes import UserArgs, UserSchema, UserUpdateSchema
from insurecrm.web import load_form, page_roles, paginate_page
from policies import services as policy_services
from policies.models import Product
from policies.schemas import ProductArgs, ProductSchema, ProductUpdateSchema

bp = Blueprint("admin", __name__, url_prefix="/admin")
WEB_BLUEPRINTS = (bp,)
admin_only = page_roles(Role.ADMIN)
PER_PAGE = 50
#: the sections of the admin pages: (resource name, title, what it holds), lazy strings translated when printed
SECTIONS = (
    ("users", _l("Users and roles"), _l("Logins, their role and the record each role is linked to.")),
    ("org_units", _l("Organisation"), _l("Company, branches, sub-branches and teams.")),
    ("agents", _l("Agents"), _l("Agents and bancassurance specialists, their unit, status and bank partners.")),
    ("products", _l("Products"), _l("Terms, frequencies, commission rates, grace and cooling-off periods.")),
    ("bank_partners", _l("Bank partners"), _l("Banks distributing our products and their commission.")),
    ("bank_branches", _l("Bank branches"), _l("The branches (网点) of each bank partner.")),
    ("referrers", _l("Referrers"), _l("Bank staff who refer customers.")),
    ("audit", _l("Audit log"), _l("Who changed what, when, from which value to which.")),
)


@bp.record_once
def _sections(state) -> None:
    # a global, not a context processor: admin/_labels.html is imported without context
    state.app.jinja_env.globals.update(admin_sections=SECTIONS)


@bp.context_processor
def _role_choices() -> dict:
    return {"roles": [(role.value, role_label(role)) for role in Role]}


@bp.get("")
@admin_only
def index():
    """The admin start page: what can be managed here."""
    return render_template("admin/index.html", resources=RESOURCES)


# -- choices of the forms (one query each) ------------------------------------------------------------------

def unit_choices() -> list[tuple[int, str]]:
    """Every organisation unit, in tree order, indented by depth."""
    rows = db.session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.path).order_by(OrgUnit.path))
    return [(row.id, f"{'— ' * (row.path.count('/') - 2)}{row.name} ({row.code})") for row in rows]


def _coded(model: type) -> Callable[[], list[tuple[int, str]]]:
    def choices() -> list[tuple[int, str]]:
        rows = db.session.execute(select(model.id, model.code, model.name).order_by(model.code))
        return [(row.id, f"{row.code} · {row.name}") for row in rows]

    return choices


agent_choices, partner_choices = _coded(Agent), _coded(BankPartner)
branch_choices, referrer_choices = _coded(BankBranch), _coded(Referrer)


def depth(unit: OrgUnit) -> int:
    """How deep a unit sits in the tree (0 for a root), from its materialised path."""
    return unit.path.count("/") - 2


# -- resources ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    """A kind of record the admin manages: its schemas, services, list and form."""

    name: str  # endpoint prefix and template names: admin/<name>.html, admin/<name>_form.html
    model: type
    schema: type[ma.Schema]  # the API's create schema (also what the form shows of a record)
    update_schema: type[ma.Schema]
    args: type[ma.Schema]  # the API's list arguments: the filters of the list
    create: Callable[[dict], Any]
    update: Callable[[Any, dict], Any]
    order: tuple
    text: tuple[str, ...] = ("code", "name")  # what the list's search box looks in
    options: tuple = ()  # how the list loads related records (never lazily, row by row)
    form_choices: Callable[[], dict] = dict
    list_choices: Callable[[], dict] = dict

    @property
    def path(self) -> str:
        return self.name.replace("_", "-")


RESOURCES: tuple[Resource, ...] = (
    Resource("users", User, UserSchema, UserUpdateSchema, UserArgs, users.create_user,
             lambda user, data: users.update_user(user, data, actor=g.user), (User.username,),
             text=("username", "display_name"),
             options=(joinedload(User.agent), joinedload(User.org_unit), joinedload(User.referrer)),
             form_choices=lambda: {"agent_id": agent_choices(), "org_unit_id": unit_choices(),
                                   "referrer_id": referrer_choices()}),
    Resource("org_units", OrgUnit, agent_schemas.OrgUnitSchema, agent_schemas.OrgUnitUpdateSchema,
             agent_schemas.OrgUnitArgs, agent_services.create_org_unit, agent_services.update_org_unit,
             (OrgUnit.path,), form_choices=lambda: {"parent_id": unit_choices()}),
    Resource("agents", Agent, agent_schemas.AgentSchema, agent_schemas.AgentUpdateSchema, agent_schemas.AgentArgs,
             lambda data: agent_services.create_agent(data, actor=g.user),
             lambda agent, data: agent_services.update_agent(agent, data, actor=g.user), (Agent.code,),
             options=(joinedload(Agent.org_unit), selectinload(Agent.bank_partners)),
             form_choices=lambda: {"org_unit_id": unit_choices(), "manager_id": agent_choices(),
                                   "bank_partner_ids": partner_choices()},
             list_choices=lambda: {"org_unit_id": unit_choices()}),
    Resource("products", Product, ProductSchema, ProductUpdateSchema, ProductArgs, policy_services.create_product,
             policy_services.update_product, (Product.code,)),
    Resource("bank_partners", BankPartner, agent_schemas.BankPartnerSchema, agent_schemas.BankPartnerUpdateSchema,
             agent_schemas.BankPartnerArgs, agent_services.create_bank_partner, agent_services.update_bank_partner,
             (BankPartner.code,)),
    Resource("bank_branches", BankBranch, agent_schemas.BankBranchSchema, agent_schemas.BankBranchUpdateSchema,
             agent_schemas.BankBranchArgs, agent_services.create_bank_branch, agent_services.update_bank_branch,
             (BankBranch.code,), options=(joinedload(BankBranch.bank_partner),),
             form_choices=lambda: {"bank_partner_id": partner_choices(), "org_unit_id": unit_choices()},
             list_choices=lambda: {"bank_partner_id": partner_choices(), "org_unit_id": unit_choices()}),
    Resource("referrers", Referrer, agent_schemas.ReferrerSchema, agent_schemas.ReferrerUpdateSchema,
             agent_schemas.ReferrerArgs, agent_services.create_referrer, agent_services.update_referrer,
             (Referrer.code,), options=(joinedload(Referrer.bank_branch),),
             form_choices=lambda: {"bank_branch_id": branch_choices()},
             list_choices=lambda: {"bank_branch_id": branch_choices()}),
)
BY_NAME = {resource.name: resource for resource in RESOURCES}


# -- the views of a resource ----------------------------------------------------------------------------

def list_view(resource: Resource):
    """The records, filtered by the API's list arguments, paged."""
    filters = resource.args().load({key: value for key, value in request.args.items() if value.strip()})
    stmt = scoped_select(resource.model)
    for key, value in filters.items():
        if key == "q":
            stmt = stmt.where(or_(*(getattr(resource.model, column).icontains(value) for column in resource.text)))
        elif key not in ("page", "per_page", "sort"):
            stmt = stmt.where(getattr(resource.model, key) == value)
    page = paginate_page(stmt.options(*resource.options).order_by(*resource.order, resource.model.id), PER_PAGE)
    return render_template(f"admin/{resource.name}.html", page=page, filters=filters, depth=depth,
                           choices=resource.list_choices())


def new_view(resource: Resource):
    """The create form; on POST, the record through the API's schema and service."""
    if request.method == "POST":
        try:
            record = resource.create(load_form(resource.schema()))
            db.session.commit()
        except ma.ValidationError as exc:
            return refused(resource, None, exc)
        flash(_("%(record)s created.", record=label_of(record)), "success")
        return redirect(url_for(f".{resource.name}"))
    return show_form(resource, None, defaults(resource.schema()))


def edit_view(resource: Resource, record_id: int):
    """The edit form; on POST, the changes through the API's update schema and service."""
    record = get_visible_or_404(resource.model, record_id)
    if request.method == "POST":
        try:
            resource.update(record, load_form(partial(resource.update_schema), clearing=True))
            db.session.commit()
        except ma.ValidationError as exc:
            return refused(resource, record, exc)
        flash(_("%(record)s saved.", record=label_of(record)), "success")
        return redirect(url_for(f".{resource.name}"))
    return show_form(resource, record, resource.schema().dump(record))


def show_form(resource: Resource, record, values: dict, errors: dict | None = None, status: int = 200, **extra):
    errors = errors or {}
    fields = resource.schema().load_fields
    return render_template(
        f"admin/{resource.name}_form.html", resource=resource, record=record, values=values, errors=errors,
        other_errors={key: messages for key, messages in errors.items() if key not in fields},
        choices=resource.form_choices(), **extra,
    ), status


def refused(resource: Resource, record, exc: ma.ValidationError):
    """The form again with what was typed and the messages next to their fields; nothing is written."""
    db.session.rollback()
    return show_form(resource, record, posted_values(resource.schema()), flatten_messages(exc.normalized_messages()),
                     422)


def _register(resource: Resource) -> None:
    name, path = resource.name, resource.path
    bp.add_url_rule(f"/{path}", name, admin_only(lambda: list_view(resource)))
    bp.add_url_rule(f"/{path}/new", f"{name}_new", admin_only(lambda: new_view(resource)), methods=["GET", "POST"])
    bp.add_url_rule(f"/{path}/<int:record_id>", f"{name}_edit",
                    admin_only(lambda record_id: edit_view(resource, record_id)), methods=["GET", "POST"])


for _resource in RESOURCES:
    _register(_resource)


@bp.post("/users/<int:record_id>/password")
@admin_only
def users_password(record_id: int):
    """Set a new password for a login (its web sessions and API tokens end with it)."""
    user = get_visible_or_404(User, record_id)
    try:
        users.update_user(user, load_form(UserSchema(only=("password",))), actor=g.user)
        db.session.commit()
    except ma.ValidationError as exc:
        db.session.rollback()
        return show_form(BY_NAME["users"], user, UserSchema().dump(user), status=422,
                         password_errors=flatten_messages(exc.normalized_messages()))
    if user.id == g.user.id:
        login_user(user)  # every session of the user has ended: this one carries on with the new token
    flash(_("New password set for %(user)s.", user=user.username), "success")
    return redirect(url_for(".users_edit", record_id=user.id))


# -- reading forms --------------------------------------------------------------------------------------

def defaults(schema: ma.Schema) -> dict:
    """What a new record's form starts with: the API schema's own defaults (active, grace days, ...)."""
    values = {}
    for name, field in schema.load_fields.items():
        default = field.load_default() if callable(field.load_default) else field.load_default
        if default is not ma.missing:
            values[name] = default.value if isinstance(default, enum.Enum) else default
    return values


def posted_values(schema: ma.Schema) -> dict:
    """What was typed, to show the refused form again as it was sent."""
    lists = {name for name, field in schema.load_fields.items() if isinstance(field, ma.fields.List)}
    return {key: request.form.getlist(key) if key in lists else request.form[key] for key in request.form}


def label_of(record) -> str:
    return getattr(record, "code", None) or getattr(record, "username", None) or str(record.id)
