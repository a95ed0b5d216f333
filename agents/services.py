"""Business rules of the agents domain: the organisation tree, agents, bancassurance and referrals.

Services validate, change and ``flush``; the caller commits (one commit per request or job). Rule
violations raise :class:`marshmallow.ValidationError` (422) before anything is changed.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from sqlalchemy import String, and_, exists, func, literal, select, update
from werkzeug.exceptions import Forbidden

import policyholders.permissions  # noqa: F401 - registers the policyholder scope rule used below
from agents.models import (
    Agent,
    AgentChannel,
    BankBranch,
    BankPartner,
    OrgUnit,
    PartnerStatus,
    Referral,
    ReferralStatus,
    Referrer,
)
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import org_subtree_condition, scoped_select
from policies.models import Product
from policyholders import services as policyholder_services
from policyholders.models import AcquisitionChannel, Policyholder

Errors = dict[str, list[str]]


def _refuse(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def _apply(obj, data: dict[str, Any]):
    for key, value in data.items():
        setattr(obj, key, value)
    db.session.flush()
    return obj


def _exists(model: type, object_id: int | None) -> bool:
    return object_id is not None and bool(db.session.scalar(select(exists().where(model.id == object_id))))


def _code_errors(model: type, data: dict, current=None) -> Errors:
    """``code`` must be unique among ``model``'s rows (the record being changed aside)."""
    code = data.get("code")
    if code is None or (current is not None and code == current.code):
        return {}
    if db.session.scalar(select(exists().where(model.code == code))):
        return {"code": [f"The code {code} is already in use."]}
    return {}


def _visible_row(model: type, object_id: int | None, actor):
    if object_id is None:
        return None
    return db.session.scalar(scoped_select(model, actor).where(model.id == object_id))


# -- organisation -------------------------------------------------------------------------------------

def create_org_unit(data: dict) -> OrgUnit:
    """Create an organisation unit under ``parent_id`` (or a root) and set its materialised path;
    refuses a used code or an unknown parent (422)."""
    errors = _code_errors(OrgUnit, data)
    parent = db.session.get(OrgUnit, data["parent_id"]) if data.get("parent_id") is not None else None
    if data.get("parent_id") is not None and parent is None:
        errors["parent_id"] = ["No such organisation unit."]
    _refuse(errors)
    unit = _add(OrgUnit(**data))
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    return unit


def update_org_unit(unit: OrgUnit, data: dict) -> OrgUnit:
    """Rename or re-code a unit, or move it (with its whole subtree) under another parent; refuses a
    used code, an unknown parent, or a move under the unit itself or one of its descendants (422)."""
    data = dict(data)
    errors = _code_errors(OrgUnit, data, unit)
    moving = "parent_id" in data and data["parent_id"] != unit.parent_id
    parent_id = data.pop("parent_id", None)
    parent = db.session.get(OrgUnit, parent_id) if moving and parent_id is not None else None
    if moving and parent_id is not None and parent is None:
        errors["parent_id"] = ["No such organisation unit."]
    elif parent is not None and parent.path.startswith(unit.path):
        errors["parent_id"] = ["A unit cannot move under itself or one of its own sub-units."]
    _refuse(errors)
    _apply(unit, data)
    if moving:
        _move_subtree(unit, parent)
    return unit


def _move_subtree(unit: OrgUnit, parent: OrgUnit | None) -> None:
    # one UPDATE rewrites the path prefix of the unit and every descendant, however deep the tree
    old_prefix, new_prefix = unit.path, f"{parent.path if parent else '/'}{unit.id}/"
    unit.parent_id = parent.id if parent else None
    db.session.flush()
    db.session.execute(
        update(OrgUnit)
        .where(OrgUnit.path.startswith(old_prefix, autoescape=True))
        .values(path=literal(new_prefix, String()).concat(func.substr(OrgUnit.path, len(old_prefix) + 1)))
        .execution_options(synchronize_session="fetch")
    )


def _unit_within_reach(unit_id: int | None, actor) -> bool:
    """The unit exists and, for a branch manager, lies in the subtree they lead."""
    condition = OrgUnit.id == unit_id
    if getattr(actor, "role", None) == Role.BRANCH_MANAGER:
        condition = and_(condition, org_subtree_condition(OrgUnit.id, actor))
    return unit_id is not None and bool(db.session.scalar(select(exists().where(condition))))


# -- agents ---------------------------------------------------------------------------------------------

def create_agent(data: dict, *, actor) -> Agent:
    """Create an agent; refuses a used code, an unknown unit, a manager who is not a visible agent, a
    licence expiring before the hire date, or bank partners for a non-bancassurance agent (422)."""
    data = dict(data)
    partners = _check_agent(data, actor)
    agent = Agent(**data)
    agent.bank_partners = partners or []
    return _add(agent)


def update_agent(agent: Agent, data: dict, *, actor) -> Agent:
    """Change an agent (status included); the same rules as :func:`create_agent`, applied to the agent
    as it will be after the change; a branch manager cannot move an agent out of their subtree (422)."""
    data = dict(data)
    partners = _check_agent(data, actor, agent)
    if partners is not None:
        agent.bank_partners = partners
    return _apply(agent, data)


def _check_agent(data: dict, actor, agent: Agent | None = None) -> list[BankPartner] | None:
    """Validate ``data`` against ``agent`` (``None`` when creating); pops and returns the bank partners."""

    def final(key: str):
        return data[key] if key in data else getattr(agent, key, None)

    errors = _code_errors(Agent, data, agent)
    if "org_unit_id" in data and not _unit_within_reach(data["org_unit_id"], actor):
        errors["org_unit_id"] = ["No such organisation unit within your reach."]
    if data.get("manager_id") is not None:
        manager = _visible_row(Agent, data["manager_id"], actor)
        if manager is None or (agent is not None and _manages(agent, manager)):
            errors["manager_id"] = ["Must be another agent, not one this agent manages."]
    expiry, hired = final("licence_expiry"), final("hire_date")
    if expiry is not None and hired is not None and expiry <= hired:
        errors["licence_expiry"] = ["The licence must expire after the hire date."]
    partners, partner_ids = None, data.pop("bank_partner_ids", None)
    if partner_ids is not None:
        partners = db.session.scalars(select(BankPartner).where(BankPartner.id.in_(partner_ids))).all()
        if len(partners) != len(set(partner_ids)):
            errors["bank_partner_ids"] = ["Unknown bank partner."]
    stationed = partner_ids if partner_ids is not None else (agent.bank_partners if agent is not None else [])
    if stationed and final("channel") != AgentChannel.BANCASSURANCE:
        errors["bank_partner_ids"] = ["Only bancassurance specialists are stationed at bank partners."]
    _refuse(errors)
    return partners


def _manages(agent: Agent, manager: Agent) -> bool:
    """``manager`` is ``agent`` or reports to it, directly or not (a manager cycle)."""
    seen: set[int] = set()
    current: Agent | None = manager
    while current is not None and current.id not in seen:
        if current.id == agent.id:
            return True
        seen.add(current.id)
        current = current.manager
    return False


# -- bancassurance ----------------------------------------------------------------------------------------

def create_bank_partner(data: dict) -> BankPartner:
    """Create a bank partner; refuses a used code (422)."""
    _refuse(_code_errors(BankPartner, data))
    return _add(BankPartner(**data))


def update_bank_partner(partner: BankPartner, data: dict) -> BankPartner:
    """Change a bank partner's name, terms or status; refuses a used code (422)."""
    _refuse(_code_errors(BankPartner, data, partner))
    return _apply(partner, data)


def create_bank_branch(data: dict) -> BankBranch:
    """Create a bank branch (网点); refuses a used code, an unknown partner or unit (422)."""
    _refuse(_bank_branch_errors(data))
    return _add(BankBranch(**data))


def update_bank_branch(branch: BankBranch, data: dict) -> BankBranch:
    """Change a bank branch; refuses a used code, an unknown partner or unit (422)."""
    _refuse(_bank_branch_errors(data, branch))
    return _apply(branch, data)


def _bank_branch_errors(data: dict, branch: BankBranch | None = None) -> Errors:
    errors = _code_errors(BankBranch, data, branch)
    if "bank_partner_id" in data and not _exists(BankPartner, data["bank_partner_id"]):
        errors["bank_partner_id"] = ["No such bank partner."]
    if data.get("org_unit_id") is not None and not _exists(OrgUnit, data["org_unit_id"]):
        errors["org_unit_id"] = ["No such organisation unit."]
    return errors


def create_referrer(data: dict) -> Referrer:
    """Create a referrer at a bank branch; refuses a used code or an unknown bank branch (422)."""
    _refuse(_referrer_errors(data))
    return _add(Referrer(**data))


def update_referrer(referrer: Referrer, data: dict) -> Referrer:
    """Change a referrer; refuses a used code or an unknown bank branch (422)."""
    _refuse(_referrer_errors(data, referrer))
    return _apply(referrer, data)


def _referrer_errors(data: dict, referrer: Referrer | None = None) -> Errors:
    errors = _code_errors(Referrer, data, referrer)
    if "bank_branch_id" in data and not _exists(BankBranch, data["bank_branch_id"]):
        errors["bank_branch_id"] = ["No such bank branch."]
    return errors


# -- referrals --------------------------------------------------------------------------------------------

#: where a referral may go from each status; rejected and converted referrals are closed
REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.SUBMITTED: frozenset({ReferralStatus.ACCEPTED, ReferralStatus.REJECTED, ReferralStatus.CONVERTED}),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.REJECTED, ReferralStatus.CONVERTED}),
    ReferralStatus.REJECTED: frozenset(),
    ReferralStatus.CONVERTED: frozenset(),
}


def submit_referral(data: dict, *, actor) -> Referral:
    """Record a referral. A bank referrer submits under their own login (their referrer record and its
    bank branch; a ``referrer_id`` in the request is refused); a specialist or an admin submits on behalf
    of an active referrer they can see. Refuses an unknown or inactive product (422)."""
    errors: Errors = {}
    referrer = _submitting_referrer(data, actor, errors)
    if data.get("product_id") is not None and not db.session.scalar(
        select(exists().where(Product.id == data["product_id"], Product.active.is_(True)))
    ):
        errors["product_id"] = ["No such active product."]
    _refuse(errors)
    specialist_id = actor.agent_id if actor.role == Role.BANCASSURANCE_SPECIALIST else None
    return _add(Referral(
        referrer_id=referrer.id, bank_branch_id=referrer.bank_branch_id, prospect_name=data["prospect_name"],
        prospect_phone=data.get("prospect_phone"), product_id=data.get("product_id"), notes=data.get("notes"),
        specialist_agent_id=specialist_id,
    ))


def _submitting_referrer(data: dict, actor, errors: Errors) -> Referrer | None:
    if actor.role == Role.BANK_REFERRER:
        if "referrer_id" in data:
            errors["referrer_id"] = ["Referrals are submitted under your own login; leave this out."]
        referrer = db.session.get(Referrer, actor.referrer_id) if actor.referrer_id else None
        if referrer is None or referrer.status != PartnerStatus.ACTIVE:
            raise Forbidden("Your login is not linked to an active referrer.")
        return referrer
    if data.get("referrer_id") is None:
        errors["referrer_id"] = ["Name the referrer you submit for."]
        return None
    referrer = _visible_row(Referrer, data["referrer_id"], actor)
    if referrer is None:
        errors["referrer_id"] = ["No such referrer among your bank partners."]
    elif referrer.status != PartnerStatus.ACTIVE:
        errors["referrer_id"] = ["The referrer is not active."]
    return referrer


def update_referral(referral: Referral, data: dict, *, actor) -> Referral:
    """Work a referral: accept, reject (a reason is required), convert (a policyholder the actor can
    see is required) or assign a bancassurance specialist; refuses leaving a closed status (422)."""
    errors: Errors = {}
    status = data.get("status", referral.status)
    if status != referral.status and status not in REFERRAL_TRANSITIONS[referral.status]:
        errors["status"] = [f"A {referral.status} referral cannot become {status}."]
    reason = data.get("rejection_reason", referral.rejection_reason)
    if status == ReferralStatus.REJECTED and not reason:
        errors["rejection_reason"] = ["Say why the referral is rejected."]
    elif status != ReferralStatus.REJECTED and data.get("rejection_reason"):
        errors["rejection_reason"] = ["Only a rejected referral has a rejection reason."]
    holder_id = data.get("policyholder_id", referral.policyholder_id)
    if data.get("policyholder_id") is not None and _visible_row(Policyholder, holder_id, actor) is None:
        errors["policyholder_id"] = ["No such policyholder in your book."]
    elif status == ReferralStatus.CONVERTED and holder_id is None:
        errors["policyholder_id"] = ["Name the policyholder the referral became."]
    if data.get("specialist_agent_id") is not None:
        specialist = _visible_row(Agent, data["specialist_agent_id"], actor)
        if specialist is None or specialist.channel != AgentChannel.BANCASSURANCE:
            errors["specialist_agent_id"] = ["Must be a bancassurance specialist you can see."]
    _refuse(errors)
    return _apply(referral, data)


def convert_referral_to_new_policyholder(referral: Referral, data: dict, *, actor) -> Policyholder:
    """Convert a referral into a policyholder created from it (the person's fields in ``data``, as the
    policyholders API takes them): a prospect of the acting specialist's book, acquired through
    bancassurance from the referral's referrer. Refuses (422) a referral that can no longer be converted,
    and whatever :func:`policyholders.services.create_policyholder` refuses."""
    if ReferralStatus.CONVERTED not in REFERRAL_TRANSITIONS[referral.status]:
        raise ValidationError({"status": [f"A {referral.status} referral cannot become converted."]})
    holder = policyholder_services.create_policyholder(
        {**data, "acquisition_channel": AcquisitionChannel.BANCASSURANCE, "referrer_id": referral.referrer_id},
        actor=actor)
    update_referral(referral, {"status": ReferralStatus.CONVERTED, "policyholder_id": holder.id}, actor=actor)
    return holder
