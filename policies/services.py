"""Business rules of the policies domain, shared by the API, web pages, CLI, imports and scheduler.

Services validate, change and ``flush``; the caller commits (one commit per request or job).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import exists, select
from werkzeug.exceptions import Conflict

from agents.models import Agent, AgentStatus, BankBranch, BankPartner, Referrer
from insurecrm import audit
from insurecrm.db import db, utcnow
from insurecrm.models import Role, User
from insurecrm.scope import find_visible, scoped_select
from insurecrm.services import apply_changes, check_version
from insurecrm.validation_messages import in_refusal
from policies.models import (
    Beneficiary,
    BusinessType,
    InsuredPerson,
    Policy,
    PolicyStatus,
    Product,
    SalesChannel,
)
from policies.numbers import CLAIM_CODE, allocate_policy_number, is_valid_number
from policies.schedule import build_schedule
from policies.status import record_initial_status, transition
from policyholders.models import PartyKind, Policyholder

__all__ = ["create_policy", "create_product", "delete_product", "transition", "update_policy", "update_product"]


def create_product(data: dict) -> Product:
    """Create a product; refuses a code already in use (422)."""
    if db.session.scalar(select(exists().where(Product.code == data["code"]))):
        raise ValidationError({"code": [gettext("A product with code %(code)s already exists.", code=data["code"])]})
    product = Product(**data)
    db.session.add(product)
    db.session.flush()
    return product


def update_product(product: Product, data: dict) -> Product:
    """Change a product's terms; refuses a code already used by another product (422)."""
    if "code" in data and data["code"] != product.code and db.session.scalar(
        select(exists().where(Product.code == data["code"]))
    ):
        raise ValidationError({"code": [gettext("A product with code %(code)s already exists.", code=data["code"])]})
    for key, value in data.items():
        setattr(product, key, value)
    db.session.flush()
    return product


def delete_product(product: Product) -> None:
    """Delete a product no policy uses; a product with policies is deactivated instead (409)."""
    if db.session.scalar(select(exists().where(Policy.product_id == product.id))):
        raise Conflict("The product has policies; set active=false instead of deleting it.")
    db.session.delete(product)
    db.session.flush()


# -- policies -----------------------------------------------------------------------------------------

#: a policy in one of these statuses ended without running its term, so there is nothing to renew
NOT_RENEWABLE = frozenset({PolicyStatus.QUOTED, PolicyStatus.CANCELLED, PolicyStatus.MATURED,
                           PolicyStatus.TERMINATED_BY_CLAIM})
#: roles whose own agent record services the policies they write, unless they name another agent
SELLING_ROLES = frozenset({Role.AGENT, Role.BANCASSURANCE_SPECIALIST})


def create_policy(data: dict, *, user: User, flush: bool = True, number_known_new: bool = False) -> Policy:
    """Create a policy with its insured persons, beneficiaries, first status row and premium schedule.

    Refuses (422, every problem at once): an unknown or inactive product, a frequency the product
    does not offer, a policyholder the user may not see, an expiry not after the effective date, a
    servicing agent the user may not see or who is not active, inconsistent bank fields, a renewed
    policy that is not a visible, unrenewed policy of the same policyholder, a malformed or taken
    number, and beneficiary shares that do not add up to 100 per priority. Without ``number`` one is
    allocated; without ``expiry_date`` the product's term is used; ``issue_date`` defaults to the
    effective date. A renewal of an already expired policy moves that policy to ``renewed`` (a late
    renewal); an earlier renewal leaves the renewed policy in force until its expiry.

    ``flush=False`` (an import, which writes its rows in batches): the policy, its people, its first status row and
    its schedule wait in the session for the caller's flush — unless it renews an expired policy, whose change of
    status is written at once. The caller runs it under ``no_autoflush`` and keeps two policies of one number out
    of the same flush (the check of the number reads the database). ``number_known_new``: the caller has looked the
    number up on file itself (the database's unique index still refuses a number taken meanwhile). The records it
    names are read through the user's scope, once a batch when the caller vouches for them
    (:class:`insurecrm.scope.CheckedRows`).
    """
    data = dict(data)
    people = {key: data.pop(key) for key in ("insured_persons", "beneficiaries") if key in data}
    product = db.session.get(Product, data["product_id"])
    holder = find_visible(Policyholder, data["policyholder_id"], user)
    _fill_defaults(data, product, holder, user)
    renewed = find_visible(Policy, data["renews_policy_id"], user) if data.get("renews_policy_id") else None
    errors = _merge(
        _product_errors(product, data),
        {} if holder else {"policyholder_id": [gettext("No such policyholder.")]},
        {} if data["expiry_date"] > data["effective_date"] else {
            "expiry_date": [gettext("Must be after the effective date.")]},
        _agent_errors(data.get("servicing_agent_id"), user),
        _bank_errors(data),
        _renewal_errors(data, renewed, holder),
        _number_errors(data.get("number"), known_new=number_known_new),
    )
    insured, beneficiaries, people_errors = _people(people, user)
    errors = _merge(errors, people_errors)
    if errors:
        raise ValidationError(errors)
    return _insert_policy(data, product, holder, renewed, insured, beneficiaries, user, flush)


def update_policy(policy: Policy, data: dict, *, user: User) -> Policy:
    """Change a policy's servicing agent or sum insured, or replace its insured persons or beneficiaries.

    Refuses a stale ``version`` (409); a servicing agent the user may not see or who is not active,
    people the user may not see and beneficiary shares not adding up to 100 per priority (422). A new
    servicing agent brings the policy into the agent's organisation unit. The status is not changed
    here (see :func:`policies.status.transition`).
    """
    data = dict(data)
    check_version(policy, data.pop("version", None))
    people = {key: data.pop(key) for key in ("insured_persons", "beneficiaries") if key in data}
    insured, beneficiaries, errors = _people(people, user)
    if data.get("servicing_agent_id") is not None:
        errors = _merge(errors, _agent_errors(data["servicing_agent_id"], user))
    if errors:
        raise ValidationError(errors)
    if data.get("servicing_agent_id") is not None:
        data["org_unit_id"] = db.session.get(Agent, data["servicing_agent_id"]).org_unit_id
    # load what the audit row needs before changing anything: a lazy load would flush a half change
    before = {key: _people_labels(getattr(policy, key)) for key in people}
    apply_changes(policy, data)
    _replace_people(policy, {"insured_persons": insured, "beneficiaries": beneficiaries})
    db.session.flush()
    for key, labels in before.items():
        audit.record(db.session, action="update", entity_type=Policy.__tablename__, entity_id=policy.id,
                     changes={key: [labels, _people_labels(getattr(policy, key))]})
    return policy


def _insert_policy(data: dict, product: Product, holder: Policyholder, renewed: Policy | None,
                   insured: list | None, beneficiaries: list | None, user: User, flush: bool = True) -> Policy:
    status = data.pop("status")
    number = data.pop("number", None) or allocate_policy_number(product.line, data["issue_date"].year)
    policy = Policy(**data, number=number, status=status,
                    status_date=min(data["issue_date"], data["effective_date"]))
    # set the relationships, not only the ids, so that ``renewed.renewed_by`` is current in this session
    policy.product, policy.renews = product, renewed
    policy.insured_persons = insured if insured is not None else _holder_as_insured(holder)
    policy.beneficiaries = beneficiaries or []
    db.session.add(policy)
    record_initial_status(policy, actor=user, flush=False)
    db.session.add_all(build_schedule(policy))  # (the schedule's rows name the policy, not yet its id)
    if renewed is not None and renewed.status == PolicyStatus.EXPIRED:
        db.session.flush()
        transition(renewed, PolicyStatus.RENEWED, effective_date=max(policy.effective_date, renewed.status_date),
                   reason=f"Renewed late by policy {policy.number}.", actor=user)
    if flush:
        db.session.flush()
    return policy


def _fill_defaults(data: dict, product: Product | None, holder: Policyholder | None, user: User) -> None:
    data.setdefault("issue_date", data["effective_date"])
    if data.get("expiry_date") is None:
        months = product.term_months if product else 12
        data["expiry_date"] = data["effective_date"] + relativedelta(months=months)
    if "servicing_agent_id" not in data:
        own_agent = user.agent_id if user.role in SELLING_ROLES else None
        data["servicing_agent_id"] = own_agent or (holder.owner_agent_id if holder else None)
    if data.get("renews_policy_id"):
        data["business_type"] = BusinessType.RENEWAL
    agent = db.session.get(Agent, data["servicing_agent_id"]) if data["servicing_agent_id"] else None
    data["org_unit_id"] = agent.org_unit_id if agent else (holder.org_unit_id if holder else None)


def _product_errors(product: Product | None, data: dict) -> dict:
    if product is None or not product.active:
        return {"product_id": [gettext("No such active product.")]}
    if data["frequency"] not in product.frequency_list:
        return {"frequency": [gettext("Product %(code)s is sold with: %(frequencies)s.", code=product.code,
                                      frequencies=", ".join(in_refusal(frequency, "frequency")
                                                            for frequency in product.frequencies))]}
    return {}


def _agent_errors(agent_id: int | None, user: User) -> dict:
    if agent_id is None:
        return {}
    agent = find_visible(Agent, agent_id, user)
    if agent is None or agent.status != AgentStatus.ACTIVE:
        return {"servicing_agent_id": [gettext("No such active agent.")]}
    return {}


def _bank_errors(data: dict) -> dict:
    partner_id, branch_id, referrer_id = (data.get(k) for k in ("bank_partner_id", "bank_branch_id", "referrer_id"))
    if data["channel"] != SalesChannel.BANCASSURANCE:
        given = [key for key in ("bank_partner_id", "bank_branch_id", "referrer_id") if data.get(key) is not None]
        return {key: [gettext("Only bancassurance policies have bank fields.")] for key in given}
    errors: dict[str, list[str]] = {}
    if partner_id is None or db.session.get(BankPartner, partner_id) is None:
        errors["bank_partner_id"] = [gettext("A bancassurance policy needs an existing bank partner.")]
    branch = db.session.get(BankBranch, branch_id) if branch_id is not None else None
    if branch_id is not None and (branch is None or branch.bank_partner_id != partner_id):
        errors["bank_branch_id"] = [gettext("Not a branch of the given bank partner.")]
    referrer = db.session.get(Referrer, referrer_id) if referrer_id is not None else None
    if referrer_id is not None and (referrer is None or referrer.bank_branch_id != branch_id):
        errors["referrer_id"] = [gettext("Not a referrer of the given bank branch.")]
    return errors


def _renewal_errors(data: dict, renewed: Policy | None, holder: Policyholder | None) -> dict:
    if not data.get("renews_policy_id"):
        if data.get("business_type") == BusinessType.RENEWAL:
            return {"renews_policy_id": [gettext("A renewal must name the policy it renews.")]}
        return {}
    if renewed is None or (holder is not None and renewed.policyholder_id != holder.id):
        return {"renews_policy_id": [gettext("No such policy of this policyholder.")]}
    if renewed.status == PolicyStatus.RENEWED or renewed.renewed_by is not None:
        return {"renews_policy_id": [gettext("Policy %(number)s is already renewed.", number=renewed.number)]}
    if renewed.status in NOT_RENEWABLE:
        return {"renews_policy_id": [gettext("A %(status)s policy cannot be renewed.",
                                             status=in_refusal(renewed.status, "policy_status"))]}
    return {}


def _number_errors(number: str | None, *, known_new: bool = False) -> dict:
    if number is None:
        return {}
    if not is_valid_number(number) or number.startswith(CLAIM_CODE):
        return {"number": [gettext("Not a valid policy number (e.g. HE2026000012347, with its check digit).")]}
    if not known_new and db.session.scalar(select(exists().where(Policy.number == number))):
        return {"number": [gettext("Policy number %(number)s is already in use.", number=number)]}
    return {}


def _people(people: dict, user: User) -> tuple[list | None, list | None, dict]:
    """Build insured-person and beneficiary rows from input; ``None`` for a list not given."""
    errors: dict = {}
    built: dict[str, list | None] = {"insured_persons": None, "beneficiaries": None}
    for key, model in (("insured_persons", InsuredPerson), ("beneficiaries", Beneficiary)):
        if key in people:
            built[key], errors[key] = _people_rows(people[key], model, user)
    if people.get("beneficiaries") and not errors["beneficiaries"]:
        errors["beneficiaries"] = _share_errors(people["beneficiaries"])
    return built["insured_persons"], built["beneficiaries"], {k: v for k, v in errors.items() if v}


def _people_rows(items: list[dict], model: type, user: User) -> tuple[list, dict]:
    ids = {item["policyholder_id"] for item in items if item.get("policyholder_id")}
    visible = db.session.scalars(scoped_select(Policyholder, user).where(Policyholder.id.in_(ids))) if ids else []
    holders = {holder.id: holder for holder in visible}
    rows, errors = [], {}
    for index, item in enumerate(items):
        holder_id = item.get("policyholder_id")
        if holder_id is not None and holder_id not in holders:
            errors[index] = {"policyholder_id": [gettext("No such policyholder.")]}
            continue
        rows.append(model(**{**item, "name": item.get("name") or holders[holder_id].name}))
    return rows, errors


def _share_errors(beneficiaries: list[dict]) -> list[str]:
    shares: dict[int, Decimal] = defaultdict(Decimal)
    for item in beneficiaries:
        shares[item.get("priority", 1)] += Decimal(item.get("share_percent", 100))
    return [gettext("The shares of priority %(priority)s add up to %(total)s, not 100.", priority=priority, total=total)
            for priority, total in sorted(shares.items()) if total != 100]


def _holder_as_insured(holder: Policyholder) -> list[InsuredPerson]:
    # a person insuring themselves is the common case; a company's group policy names its insured
    if holder.kind != PartyKind.PERSON:
        return []
    return [InsuredPerson(policyholder_id=holder.id, name=holder.name, date_of_birth=holder.date_of_birth)]


def _replace_people(policy: Policy, replacements: dict[str, list | None]) -> None:
    replaced = False
    for key, rows in replacements.items():
        if rows is not None:
            setattr(policy, key, rows)
            replaced = True
    if replaced:
        # the people are not columns of the policy: touch ``updated_at`` so that the version moves
        # on (two clerks replacing beneficiaries at once must conflict, not overwrite each other)
        policy.updated_at = utcnow()


def _people_labels(people: list) -> list[str]:
    """How the audit log shows the people on a policy (the audit listener sees only columns)."""
    return [person.name if getattr(person, "share_percent", None) is None
            else f"{person.name} ({person.share_percent:.2f}%, priority {person.priority})" for person in people]


def _merge(*parts: dict) -> dict:
    merged: dict = {}
    for part in parts:
        merged.update(part)
    return merged
