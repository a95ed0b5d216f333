"""Business rules of the policyholders domain (households: :mod:`policyholders.household`), shared by the API,
web pages, imports and the scheduler.

Services validate, change and ``flush``; the caller commits (one commit per request or job). A rule
violation raises :class:`marshmallow.ValidationError` on the offending field (422) before anything
is written.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, and_, exists, or_, select
from werkzeug.exceptions import Conflict, Forbidden

from agents.models import Activity, Agent, BankPartner, Opportunity, OrgUnit, Referral, Referrer
from insurecrm import audit
from insurecrm.db import db, utcnow
from insurecrm.models import Outbox, Role, User
from insurecrm.pii import must_pseudonymise
from insurecrm.scope import org_subtree_condition, visible
from insurecrm.services import apply_changes, check_version
from policies.models import Beneficiary, InsuredPerson, Policy
from policyholders.identity import (
    check_id_type_for_kind,
    normalise_id_number,
    normalise_phone,
    validate_id_number,
)
from policyholders.models import (
    AGE_BANDS,
    Interaction,
    PartyKind,
    Policyholder,
    PolicyholderStatus,
    PolicyholderTag,
    ServiceKind,
    ServicePriority,
    ServiceRequest,
    ServiceStatus,
)

#: roles whose own agent record owns what they create, and who may not hand it to someone else
OWN_BOOK_ROLES = (Role.AGENT, Role.BANCASSURANCE_SPECIALIST)


def refuse(field: str, message: str) -> ValidationError:
    """The 422 error for ``field``, its ``message`` worded by ``gettext`` (the language of the moment): raise it."""
    return ValidationError({field: [message]})


def row_exists(*conditions: ColumnElement[bool]) -> bool:
    return bool(db.session.scalar(select(exists().where(*conditions))))


# -- policyholders ----------------------------------------------------------------------------------

#: sort keys of the policyholder list; sorting by a name would let a pseudonymised reader infer it
def trait_filters(filters: dict, today: date) -> list[ColumnElement[bool]]:
    """The conditions of the policyholder list's filters on traits (region, occupation, gender, income band, age
    band on ``today``) that ``filters`` names; the page and the API list both apply them."""
    conditions = [getattr(Policyholder, key) == filters[key]
                  for key in ("region", "occupation", "gender", "income_band") if key in filters]
    if "age_band" in filters:
        conditions.append(born_in_age_band(filters["age_band"], today))
    return conditions


def born_in_age_band(code: str, on: date) -> ColumnElement[bool]:
    """Policyholders whose age on ``on`` lies in the band ``code`` of :data:`~policyholders.models.AGE_BANDS`, as a
    range of birth dates (an index can serve it). Age is in completed years; a birthday on 29 February is reached
    on 1 March in a common year, as ``reports.sql.age_on`` counts it: aged at least ``low`` means born on or before
    ``on`` less ``low`` years, at most ``high`` means born after ``on`` less ``high + 1`` years."""
    low, high = next((low, high) for band, low, high in AGE_BANDS if band == code)
    return and_(Policyholder.date_of_birth <= on - relativedelta(years=low),
                Policyholder.date_of_birth > on - relativedelta(years=high + 1))


POLICYHOLDER_SORTS = {"id", "created_at", "updated_at", "status", "region", "kind", "acquisition_channel"}


def policyholder_sorts() -> set[str]:
    """The sort keys the current reader may use."""
    return POLICYHOLDER_SORTS if must_pseudonymise() else POLICYHOLDER_SORTS | {"name"}


def policyholder_search(q: str) -> ColumnElement[bool]:
    """Part of a name, a phone (spaces ignored) or an ID number. Refused (422) to a reader who sees
    pseudonyms only: a hit on a name would reveal whose record it is."""
    if must_pseudonymise():
        raise refuse("q", gettext("Searching by name, phone or ID number is not available to your role."))
    compact = re.sub(r"\s+", "", q)
    return or_(Policyholder.name.icontains(q, autoescape=True),
               Policyholder.phone.contains(compact, autoescape=True),
               Policyholder.id_number.contains(compact.upper(), autoescape=True))


def create_policyholder(data: dict[str, Any], *, actor: User, id_known_new: bool = False,
                        flush: bool = True) -> Policyholder:
    """Create a policyholder owned by the acting agent (agents and specialists) or by the agent given.

    Refuses (422): an invalid ID number or phone, an ID already on file, an owner other than
    oneself for agents and specialists, an owner or unit outside a branch manager's subtree, and
    references to agents, units, partners or referrers that do not exist.

    For a caller creating many at once (an import): ``id_known_new`` says that the caller has already looked the
    ID up on file, and ``flush=False`` leaves the insert to its next flush (the database's unique index still
    refuses an ID taken meanwhile).
    """
    data = dict(data)
    tags = data.pop("tags", [])
    if actor.role in OWN_BOOK_ROLES:
        data.setdefault("owner_agent_id", actor.agent_id)
    _normalise_contact(data)
    _check_identity(data, known_new=id_known_new)
    _check_placement(data, actor)
    _check_channel_refs(data)
    policyholder = Policyholder(**data)
    policyholder.tags = [PolicyholderTag(tag=tag) for tag in _distinct_tags(tags)]
    db.session.add(policyholder)
    if flush:
        db.session.flush()
    return policyholder


def update_policyholder(policyholder: Policyholder, data: dict[str, Any], *, actor: User) -> Policyholder:
    """Change a policyholder; the same checks as on creation, against the merged record.

    Refuses a stale ``version`` (409), and (422) what :func:`create_policyholder` refuses.
    """
    data = dict(data)
    check_version(policyholder, data.pop("version"))
    tags = data.pop("tags", None)
    _normalise_contact(data)
    merged = {key: data.get(key, getattr(policyholder, key))
              for key in ("kind", "id_type", "id_number", "date_of_birth", "owner_agent_id", "org_unit_id",
                          "bank_partner_id", "referrer_id")}
    if {"kind", "id_type", "id_number", "date_of_birth"} & data.keys():
        _check_identity(merged, exclude_id=policyholder.id)
        data["id_number"] = merged["id_number"]
    if {"owner_agent_id", "org_unit_id"} & data.keys():
        if data.get("owner_agent_id") is not None and "org_unit_id" not in data:
            merged["org_unit_id"] = None  # a reassigned policyholder moves to the new owner's unit
        _check_placement(merged, actor)
        data["org_unit_id"] = merged["org_unit_id"]
    if {"bank_partner_id", "referrer_id"} & data.keys():
        _check_channel_refs(merged)
        data["bank_partner_id"] = merged["bank_partner_id"]
    if tags is not None:
        _replace_tags(policyholder, tags)  # first: loading the old tags must not flush a half-made change
    apply_changes(policyholder, data)
    db.session.flush()
    return policyholder


def delete_policyholder(policyholder: Policyholder) -> None:
    """Delete a prospect nothing else refers to. Refuses (409) a policyholder that is not a prospect,
    or that has policies, is insured or a beneficiary, or has opportunities, activities, referrals or
    messages: those are history, kept even when the person leaves (set the status to ``former``)."""
    if policyholder.status != PolicyholderStatus.PROSPECT:
        raise Conflict("Only a prospect can be deleted; set the status to former instead.")
    referring = [(Policy, "policies"), (InsuredPerson, "insured persons"), (Beneficiary, "beneficiaries"),
                 (Opportunity, "opportunities"), (Activity, "activities"), (Referral, "referrals"),
                 (Outbox, "messages")]
    for model, label in referring:
        if row_exists(model.policyholder_id == policyholder.id):
            raise Conflict(f"The policyholder has {label}; set the status to former instead of deleting.")
    db.session.delete(policyholder)
    db.session.flush()


def _normalise_contact(data: dict[str, Any]) -> None:
    for field in ("phone", "phone_alt"):
        if data.get(field):
            data[field] = normalise_phone(data[field], field=field)


def _check_identity(data: dict[str, Any], *, exclude_id: int | None = None, known_new: bool = False) -> None:
    """Validate the ID (normalising ``data["id_number"]``) and refuse one already on file (unless the caller
    ``known_new``: it looked it up itself)."""
    id_type, number = data.get("id_type"), data.get("id_number")
    if id_type is None and number is None:
        return
    if id_type is None or not number:
        missing = "id_type" if id_type is None else "id_number"
        raise refuse(missing, gettext("Give both the ID type and the ID number, or neither."))
    check_id_type_for_kind(id_type, data.get("kind") or PartyKind.PERSON)
    data["id_number"] = validate_id_number(id_type, number, date_of_birth=data.get("date_of_birth"))
    if known_new:
        return
    taken = [Policyholder.id_type == id_type, Policyholder.id_number == data["id_number"]]
    if exclude_id is not None:
        taken.append(Policyholder.id != exclude_id)
    if row_exists(*taken):
        raise refuse("id_number", gettext("A policyholder with this ID number is already on file."))


def _check_placement(data: dict[str, Any], actor: User) -> None:
    """Owner and unit: agents keep what they create; managers stay inside their subtree; the unit
    defaults to the owner's."""
    owner_id = data.get("owner_agent_id")
    if actor.role in OWN_BOOK_ROLES and (actor.agent_id is None or owner_id != actor.agent_id):
        raise refuse("owner_agent_id", gettext("You may only keep policyholders in your own book."))
    owner = db.session.get(Agent, owner_id) if owner_id is not None else None
    if owner_id is not None and (owner is None or not _in_subtree_of(actor, owner.org_unit_id)):
        raise refuse("owner_agent_id", gettext("No agent %(id)s in your organisation.", id=owner_id))
    if data.get("org_unit_id") is None and owner is not None:
        data["org_unit_id"] = owner.org_unit_id
    unit_id = data.get("org_unit_id")
    if unit_id is None:
        raise refuse("org_unit_id", gettext("Give the organisation unit (or an owner agent)."))
    # (a get: a caller placing many, an import, holds the units in the session and asks no query per row)
    if db.session.get(OrgUnit, unit_id) is None or not _in_subtree_of(actor, unit_id):
        raise refuse("org_unit_id", gettext("No organisation unit %(id)s in your organisation.", id=unit_id))
    if actor.role in OWN_BOOK_ROLES and owner is not None and unit_id != owner.org_unit_id:
        raise refuse("org_unit_id", gettext("A policyholder of yours belongs to your own unit."))


def _in_subtree_of(actor: User, unit_id: int) -> bool:
    """Branch managers act only inside the subtree they lead; other roles are not limited here."""
    if actor.role != Role.BRANCH_MANAGER:
        return True
    return row_exists(OrgUnit.id == unit_id, org_subtree_condition(OrgUnit.id, actor))


def _check_channel_refs(data: dict[str, Any]) -> None:
    """The bank partner and referrer must exist; a referrer implies (and must match) their bank."""
    partner_id, referrer_id = data.get("bank_partner_id"), data.get("referrer_id")
    if partner_id is not None and db.session.get(BankPartner, partner_id) is None:
        raise refuse("bank_partner_id", gettext("No bank partner %(id)s.", id=partner_id))
    if referrer_id is None:
        return
    referrer = db.session.get(Referrer, referrer_id)
    if referrer is None:
        raise refuse("referrer_id", gettext("No referrer %(id)s.", id=referrer_id))
    referrer_partner = referrer.bank_branch.bank_partner_id
    if partner_id is not None and partner_id != referrer_partner:
        raise refuse("referrer_id", gettext("The referrer works for another bank partner."))
    data["bank_partner_id"] = referrer_partner


def _distinct_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))


def _replace_tags(policyholder: Policyholder, tags: list[str]) -> None:
    wanted = _distinct_tags(tags)
    if set(wanted) == {tag.tag for tag in policyholder.tags}:
        return
    kept = {tag.tag: tag for tag in policyholder.tags}
    policyholder.tags = [kept.get(name) or PolicyholderTag(tag=name) for name in wanted]
    # tags live in their own table; touching the row bumps ``version`` so a concurrent edit still sees 409
    policyholder.updated_at = utcnow()


# -- interactions ------------------------------------------------------------------------------------

def create_interaction(data: dict[str, Any], *, actor: User) -> Interaction:
    """Log a contact with a policyholder, by the acting agent unless another is named, now unless
    ``occurred_at`` says when.

    Refuses (422): a policyholder, policy or opportunity the user may not see (or that belong to
    another policyholder), an agent other than oneself for agents and specialists, an agent outside
    the user's organisation, and a contact in the future.
    """
    data = dict(data)
    _visible_policyholder(data["policyholder_id"], actor)
    data["agent_id"] = _acting_agent(data.get("agent_id", actor.agent_id), actor, field="agent_id")
    data.setdefault("occurred_at", utcnow())
    if data["occurred_at"] > utcnow() + timedelta(minutes=5):  # a little slack for clocks
        raise refuse("occurred_at", gettext("A contact is logged once it has happened; plan future ones as "
                                            "activities."))
    _check_policy_of(data.get("policy_id"), data["policyholder_id"], actor)
    _check_opportunity_of(data.get("opportunity_id"), data["policyholder_id"], actor)
    interaction = Interaction(**data, user_id=actor.id)
    db.session.add(interaction)
    db.session.flush()
    return interaction


def update_interaction(interaction: Interaction, data: dict[str, Any]) -> Interaction:
    """Correct the summary, outcome or cost of a logged contact (nothing else can change)."""
    apply_changes(interaction, data)
    db.session.flush()
    return interaction


def _visible_policyholder(policyholder_id: int, actor: User) -> Policyholder:
    policyholder = db.session.scalar(
        select(Policyholder).where(Policyholder.id == policyholder_id, visible(Policyholder, actor)))
    if policyholder is None:
        raise refuse("policyholder_id", gettext("Policyholder %(id)s not found.", id=policyholder_id))
    return policyholder


def _acting_agent(agent_id: int | None, actor: User, *, field: str) -> int | None:
    """Agents and specialists act for themselves; others may name any agent they can see."""
    if agent_id is None:
        return None
    if actor.role in OWN_BOOK_ROLES and agent_id != actor.agent_id:
        raise refuse(field, gettext("You may only act for yourself."))
    if not row_exists(Agent.id == agent_id, visible(Agent, actor)):
        raise refuse(field, gettext("No agent %(id)s in your organisation.", id=agent_id))
    return agent_id


def _check_policy_of(policy_id: int | None, policyholder_id: int, actor: User) -> None:
    if policy_id is not None and not row_exists(Policy.id == policy_id, Policy.policyholder_id == policyholder_id,
                                                visible(Policy, actor)):
        raise refuse("policy_id", gettext("Policy %(id)s of this policyholder not found.", id=policy_id))


def _check_opportunity_of(opportunity_id: int | None, policyholder_id: int, actor: User) -> None:
    if opportunity_id is not None and not row_exists(
        Opportunity.id == opportunity_id, visible(Opportunity, actor),
        or_(Opportunity.policyholder_id.is_(None), Opportunity.policyholder_id == policyholder_id),
    ):
        raise refuse("opportunity_id", gettext("Opportunity %(id)s of this policyholder not found.", id=opportunity_id))


# -- service requests and complaints -----------------------------------------------------------------

#: Service level: how long after opening a request must be resolved, by kind and priority. Complaints
#: are answered faster than service requests (regulators expect a first answer to a complaint within
#: days); an urgent complaint within a day.
SLA: dict[tuple[ServiceKind, ServicePriority], timedelta] = {
    (ServiceKind.COMPLAINT, ServicePriority.URGENT): timedelta(days=1),
    (ServiceKind.COMPLAINT, ServicePriority.HIGH): timedelta(days=3),
    (ServiceKind.COMPLAINT, ServicePriority.NORMAL): timedelta(days=5),
    (ServiceKind.COMPLAINT, ServicePriority.LOW): timedelta(days=10),
    (ServiceKind.SERVICE, ServicePriority.URGENT): timedelta(days=2),
    (ServiceKind.SERVICE, ServicePriority.HIGH): timedelta(days=5),
    (ServiceKind.SERVICE, ServicePriority.NORMAL): timedelta(days=10),
    (ServiceKind.SERVICE, ServicePriority.LOW): timedelta(days=20),
}
FINISHED = (ServiceStatus.RESOLVED, ServiceStatus.CLOSED)


def sla_due_at(kind: ServiceKind, priority: ServicePriority, opened_at: datetime) -> datetime:
    """When a request of this kind and priority, opened at ``opened_at``, is due under :data:`SLA`."""
    return opened_at + SLA[(kind, priority)]


def overdue_condition(now: datetime | None = None) -> ColumnElement[bool]:
    """Past its due time and neither resolved nor closed."""
    return and_(ServiceRequest.due_at < (now or utcnow()), ServiceRequest.status.not_in(FINISHED))


def create_service_request(data: dict[str, Any], *, actor: User) -> ServiceRequest:
    """Open a service request or complaint, assigned to the policyholder's owner unless another agent
    is named, due by the SLA of its kind and priority unless ``due_at`` is given.

    Refuses (422): a policyholder or policy the user may not see, an assignee outside the user's
    organisation, and a due time before now.
    """
    data = dict(data)
    policyholder = _visible_policyholder(data["policyholder_id"], actor)
    _check_policy_of(data.get("policy_id"), policyholder.id, actor)
    if "assigned_agent_id" in data:
        _check_assignee(data["assigned_agent_id"], actor)
    else:
        data["assigned_agent_id"] = policyholder.owner_agent_id
    opened_at = utcnow()
    data.setdefault("due_at", sla_due_at(data["kind"], data["priority"], opened_at))
    if data["due_at"] < opened_at:
        raise refuse("due_at", gettext("Must not be in the past."))
    service_request = ServiceRequest(**data, opened_at=opened_at, status=ServiceStatus.OPEN)
    db.session.add(service_request)
    db.session.flush()
    return service_request


def update_service_request(request: ServiceRequest, data: dict[str, Any], *, actor: User) -> ServiceRequest:
    """Assign, re-prioritise (re-basing ``due_at`` on the SLA unless one is given), progress, resolve
    or close a request. Resolving or closing stamps ``resolved_at``; reopening a resolved request
    clears it.

    Refuses (422): reopening a closed request, resolving or closing without a ``resolution``, and an
    assignee outside the user's organisation.
    """
    data = dict(data)
    status = data.get("status", request.status)
    if request.status == ServiceStatus.CLOSED and status != ServiceStatus.CLOSED:
        raise refuse("status", gettext("A closed request cannot be reopened; open a new one."))
    if status in FINISHED and not data.get("resolution", request.resolution):
        raise refuse("resolution", gettext("Say how the request was resolved."))
    if data.get("assigned_agent_id") is not None:
        _check_assignee(data["assigned_agent_id"], actor)
    if "priority" in data and "due_at" not in data and data["priority"] != request.priority:
        data["due_at"] = sla_due_at(request.kind, data["priority"], request.opened_at)
    if status in FINISHED and request.resolved_at is None:
        data["resolved_at"] = utcnow()
    elif status not in FINISHED:
        data["resolved_at"] = None
    apply_changes(request, data)
    db.session.flush()
    return request


def _check_assignee(agent_id: int | None, actor: User) -> None:
    if agent_id is not None and not row_exists(Agent.id == agent_id, visible(Agent, actor)):
        raise refuse("assigned_agent_id", gettext("No agent %(id)s in your organisation.", id=agent_id))


# -- service levels as pages show them ----------------------------------------------------------------

#: an unfinished request due within this time is "due soon"
DUE_SOON = timedelta(hours=24)
#: where a request stands against its service level: past due, due within :data:`DUE_SOON`, later, or done
SLA_BREACHED, SLA_DUE_SOON, SLA_ON_TRACK, SLA_FINISHED = "breached", "due_soon", "on_track", "finished"
SLA_STATES = (SLA_BREACHED, SLA_DUE_SOON, SLA_ON_TRACK, SLA_FINISHED)


def sla_state(request: ServiceRequest, now: datetime) -> str:
    """One of :data:`SLA_STATES` for ``request`` at ``now``: finished (resolved or closed), breached
    (past ``due_at``), due soon (within :data:`DUE_SOON`) or on track."""
    if request.status in FINISHED:
        return SLA_FINISHED
    if request.due_at < now:
        return SLA_BREACHED
    return SLA_DUE_SOON if request.due_at < now + DUE_SOON else SLA_ON_TRACK


def sla_condition(state: str, now: datetime) -> ColumnElement[bool]:
    """The SQL condition selecting the requests whose :func:`sla_state` at ``now`` is ``state``."""
    unfinished = ServiceRequest.status.not_in(FINISHED)
    conditions = {
        SLA_FINISHED: ServiceRequest.status.in_(FINISHED),
        SLA_BREACHED: overdue_condition(now),
        SLA_DUE_SOON: and_(unfinished, ServiceRequest.due_at >= now, ServiceRequest.due_at < now + DUE_SOON),
        SLA_ON_TRACK: and_(unfinished, ServiceRequest.due_at >= now + DUE_SOON),
    }
    return conditions[state]


# -- finding a policyholder and revealing an ID number (web pages) ------------------------------------

def policyholder_lookup(q: str) -> ColumnElement[bool]:
    """What the pages' search box finds: part of a name (any case; Chinese names too), a phone (the
    number itself when ``q`` reads as one, e.g. ``"138 0013 8000"``, else the digits typed anywhere in
    a number), an ID number (exact, normalised) or a policy number (exact) of a policy the user sees.
    Refused (422) to a reader who sees pseudonyms only, like :func:`policyholder_search`."""
    if must_pseudonymise():
        raise refuse("q", gettext("Searching by name, phone or ID number is not available to your role."))
    text, compact = q.strip(), normalise_id_number(q)
    found = [Policyholder.name.icontains(text, autoescape=True), Policyholder.id_number == compact,
             Policyholder.id.in_(select(Policy.policyholder_id).where(Policy.number == compact, visible(Policy)))]
    try:
        phone = normalise_phone(text)
        found += [Policyholder.phone == phone, Policyholder.phone_alt == phone]
    except ValidationError:
        digits = re.sub(r"\D", "", text)
        if digits:
            found += [Policyholder.phone.contains(digits, autoescape=True),
                      Policyholder.phone_alt.contains(digits, autoescape=True)]
    return or_(*found)


#: the fields of a person created in place from another page (a household member, a referral converted)
IN_PLACE_FIELDS = ("name", "gender", "date_of_birth", "id_type", "id_number", "phone", "email")
#: the most policyholders a search of one's book offers to choose from: refine the search rather than scroll
BOOK_CHOICES = 10


def find_in_book(q: str | None, *, exclude_id: int | None = None) -> list[Policyholder]:
    """Up to :data:`BOOK_CHOICES` policyholders of the current user's book matching ``q`` as
    :func:`policyholder_lookup` does, by name (none for an empty ``q``): what a page offers to choose from
    where a policyholder is picked (a household member, the policyholder a referral became)."""
    q = (q or "").replace("\x00", "").strip()[:120]  # a NUL cannot reach PostgreSQL's text
    if not q:
        return []
    stmt = select(Policyholder).where(visible(Policyholder), policyholder_lookup(q))
    if exclude_id is not None:
        stmt = stmt.where(Policyholder.id != exclude_id)
    return list(db.session.scalars(stmt.order_by(Policyholder.name, Policyholder.id).limit(BOOK_CHOICES)))


#: roles that may reveal the full ID number of any policyholder in their scope (agents: their own book)
REVEAL_ROLES = (Role.ADMIN, Role.BRANCH_MANAGER)


def may_reveal_id_number(user: User, policyholder: Policyholder) -> bool:
    """Admins, branch managers and the policyholder's owner agent may see the full ID number."""
    if user.role in REVEAL_ROLES:
        return True
    return user.role in OWN_BOOK_ROLES and user.agent_id is not None and user.agent_id == policyholder.owner_agent_id


def reveal_id_number(policyholder: Policyholder, *, actor: User) -> str | None:
    """The full ID number (``None`` when none is on file), each reveal written to the audit log as
    action ``reveal``. Refuses (403) anyone :func:`may_reveal_id_number` does not allow."""
    if not may_reveal_id_number(actor, policyholder):
        raise Forbidden("Only administrators, branch managers and the owner agent may reveal an ID number.")
    if not policyholder.id_number:
        return None
    audit.record(db.session, action="reveal", entity_type=Policyholder.__tablename__, entity_id=policyholder.id,
                 changes={"id_number": ["***", "***"]})
    return policyholder.id_number
