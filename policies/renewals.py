"""Working a renewal case (续保): contacts, quotes and their discount approvals, the outcome, reassignment.

Every function takes a case the caller loaded through the scope rules, validates, changes and flushes; the
caller commits. A case is worked while ``open``, ``contacted`` or ``quoted``; ``renewed``, ``lost`` and
``lapsed`` close it. Each change of a case is written to the audit log; the renewing policy is audited as
every policy is.

**Discounts.** A quote is the renewal's *modal* premium: the renewing policy keeps the expiring policy's
frequency, so ``discount = 1 − quoted / current modal premium`` is the same ratio as on the annualised
premium. A discount up to the product's ``max_renewal_discount`` stands at once; beyond it the quote
becomes a :class:`~policies.models.approvals.RenewalDiscountApproval` waiting for a branch manager of the
case's unit subtree (or an admin), and the case keeps its previous quote until it is approved. A quote made
by such a manager is approved as it is made. A renewal at a premium beyond the limit needs an approved
request for that premium or a lower one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from marshmallow import ValidationError
from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm.attributes import flag_modified

import agents.permissions  # noqa: F401 - registers the agent scope rule (reassignment)
import policies.permissions  # noqa: F401 - registers the renewal case scope rule
from agents.models import Agent, AgentStatus
from insurecrm import clock
from insurecrm.actor import actor_label
from insurecrm.db import db, utcnow
from insurecrm.models import AuditLog, Role, User
from insurecrm.scope import RoleForbidden, scoped_select, visible
from insurecrm.services import check_version
from policies.models import (
    BusinessType,
    LostReason,
    Policy,
    PolicyStatus,
    RenewalCase,
    RenewalStatus,
)
from policies.models.approvals import ApprovalStatus, RenewalDiscountApproval
from policies.services import create_policy
from policyholders.models import Interaction, InteractionChannel

S = RenewalStatus
WORKABLE = (S.OPEN, S.CONTACTED, S.QUOTED)
CLOSED = frozenset({S.RENEWED, S.LOST, S.LAPSED})
#: roles that decide discount requests (within their scope) and reassign cases
DECIDERS = frozenset({Role.BRANCH_MANAGER, Role.ADMIN})
#: the case fields whose changes the audit log records
AUDITED_FIELDS = ("status", "assigned_agent_id", "org_unit_id", "quoted_premium", "lost_reason", "lost_note",
                  "renewing_policy_id", "first_contacted_at", "last_contacted_at", "closed_at")
#: the most cases one reassignment may move
MAX_REASSIGN = 500


# -- contacts, quotes, approvals -----------------------------------------------------------------------------

def log_contact(case: RenewalCase, *, channel: InteractionChannel, summary: str, outcome: str | None = None,
                actor: User, version: int | None = None) -> Interaction:
    """Log a contact about the renewal on the policyholder's timeline (by the acting user, now) and mark the
    case contacted: first and last contact times, ``open`` → ``contacted``.

    Refuses a stale ``version`` (409) and a closed case (422).
    """
    _check_workable(case, version)
    now = utcnow()
    policy = case.policy
    interaction = Interaction(policyholder_id=policy.policyholder_id, policy_id=policy.id, agent_id=actor.agent_id,
                              user_id=actor.id, channel=InteractionChannel(channel), summary=summary.strip(),
                              outcome=(outcome or "").strip() or None, occurred_at=now)
    db.session.add(interaction)
    with _audited(case, actor):
        case.first_contacted_at = case.first_contacted_at or now
        case.last_contacted_at = now
        if case.status == S.OPEN:
            case.status = S.CONTACTED
    return interaction


def discount_of(current: Decimal, premium: Decimal) -> Decimal:
    """``1 − premium / current``: positive for a discount, negative for an increase (exact, not rounded)."""
    return 1 - premium / current


def quote(case: RenewalCase, *, premium: Decimal, actor: User,
          version: int | None = None) -> RenewalDiscountApproval | None:
    """Quote the renewal's modal premium. Within the product's discount limit the case becomes ``quoted`` at
    once; beyond it a discount request goes to the branch manager and is returned (the case keeps its previous
    quote meanwhile) — unless the actor is such a manager, whose request is approved as it is made. A new quote
    withdraws any request still pending for the case.

    Refuses a stale ``version`` (409), a closed case and a premium of zero or less (422).
    """
    _check_workable(case, version)
    if premium <= 0:
        raise ValidationError({"premium": ["Must be greater than zero."]})
    policy = case.policy
    limit = policy.product.max_renewal_discount
    discount = discount_of(policy.premium, premium)
    _withdraw_pending(case)
    if discount <= limit:
        _set_quote(case, premium, actor)
        return None
    approval = RenewalDiscountApproval(
        case=case, premium=premium, current_premium=policy.premium, max_discount=limit,
        discount=discount.quantize(Decimal("0.0001")), requested_by_user_id=actor.id, requested_at=utcnow())
    db.session.add(approval)
    if may_decide(actor, case):
        _decide(approval, ApprovalStatus.APPROVED, actor, None)
        _set_quote(case, premium, actor)
    else:
        # the request is a change of the case: its version moves on, so that a concurrent quote conflicts
        case.updated_at = utcnow()
        flag_modified(case, "updated_at")
        db.session.flush()
    return approval


def may_decide(user: User, case: RenewalCase) -> bool:
    """True for an admin, and for a branch manager whose subtree holds the case."""
    if user.role not in DECIDERS:
        return False
    return bool(db.session.scalar(select(exists().where(RenewalCase.id == case.id, visible(RenewalCase, user)))))


def approve(approval: RenewalDiscountApproval, *, actor: User, note: str | None = None,
            version: int | None = None) -> RenewalDiscountApproval:
    """Approve a pending discount request: the case becomes ``quoted`` at the requested premium.

    Refuses a user who is neither an admin nor a branch manager of the case's unit subtree (403), a stale
    ``version`` (409), a request no longer pending and a case closed meanwhile (422).
    """
    _check_decision(approval, actor, version)
    _check_workable(approval.case, None)
    _decide(approval, ApprovalStatus.APPROVED, actor, note)
    _set_quote(approval.case, approval.premium, actor)
    return approval


def reject(approval: RenewalDiscountApproval, *, actor: User, note: str | None = None,
           version: int | None = None) -> RenewalDiscountApproval:
    """Reject a pending discount request; the case keeps its previous quote.

    Refuses as :func:`approve` does (except for a closed case: a request may always be rejected).
    """
    _check_decision(approval, actor, version)
    _decide(approval, ApprovalStatus.REJECTED, actor, note)
    return approval


def approved_premium(case: RenewalCase) -> Decimal | None:
    """The lowest premium approved for the case, if any request was approved."""
    return db.session.scalar(select(func.min(RenewalDiscountApproval.premium)).where(
        RenewalDiscountApproval.renewal_case_id == case.id, RenewalDiscountApproval.status == ApprovalStatus.APPROVED))


# -- outcomes ------------------------------------------------------------------------------------------------

def renew(case: RenewalCase, *, premium: Decimal, effective_date: date | None = None, actor: User,
          version: int | None = None) -> Policy:
    """Write the renewing policy and close the case as ``renewed``.

    The new policy (through :func:`policies.services.create_policy`, with its premium schedule) renews the
    old one: business type renewal, same policyholder, product, channel and bank, sum insured, frequency and
    people; serviced by the case's agent; effective at the old policy's expiry (or ``effective_date``) for the
    product's term; issued today (or on the effective date, if earlier).

    Refuses a stale ``version`` (409); a closed case, a case in the pool (no agent), a premium of zero or
    less, a discount beyond the product's limit without an approved request at that premium or lower, a
    start before the old policy's expiry, and whatever :func:`create_policy` refuses (422).
    """
    _check_workable(case, version)
    old = case.policy
    product = old.product
    effective = effective_date or old.expiry_date
    errors = _renewal_errors(case, old, premium, effective)
    if errors:
        raise ValidationError(errors)
    renewing = create_policy({
        "policyholder_id": old.policyholder_id, "product_id": product.id, "servicing_agent_id": case.assigned_agent_id,
        "channel": old.channel, "bank_partner_id": old.bank_partner_id, "bank_branch_id": old.bank_branch_id,
        "referrer_id": old.referrer_id, "business_type": BusinessType.RENEWAL, "renews_policy_id": old.id,
        "issue_date": min(clock.today(), effective), "effective_date": effective,
        "expiry_date": effective + relativedelta(months=product.term_months), "sum_insured": old.sum_insured,
        "premium": premium, "frequency": old.frequency, "status": PolicyStatus.IN_FORCE,
        "insured_persons": [{"policyholder_id": p.policyholder_id, "name": p.name, "date_of_birth": p.date_of_birth,
                             "relation_to_holder": p.relation_to_holder} for p in old.insured_persons],
        "beneficiaries": [{"policyholder_id": b.policyholder_id, "name": b.name, "priority": b.priority,
                           "relation_to_insured": b.relation_to_insured, "share_percent": b.share_percent}
                          for b in old.beneficiaries],
    }, user=actor)
    _withdraw_pending(case)
    with _audited(case, actor):
        case.status = S.RENEWED
        case.renewing_policy_id = renewing.id
        case.closed_at = utcnow()
    return renewing


def _renewal_errors(case: RenewalCase, old: Policy, premium: Decimal, effective: date) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if case.assigned_agent_id is None:
        errors["assigned_agent_id"] = ["The case is in the pool: assign it to an active agent first."]
    if premium <= 0:
        errors["premium"] = ["Must be greater than zero."]
    elif discount_of(old.premium, premium) > old.product.max_renewal_discount:
        approved = approved_premium(case)
        if approved is None or premium < approved:
            errors["premium"] = [f"A discount of {discount_of(old.premium, premium):.1%} exceeds the product's limit "
                                 f"of {old.product.max_renewal_discount:.1%}: quote it for the branch manager's "
                                 "approval first."]
    if effective < old.expiry_date:
        errors["effective_date"] = [f"A renewal starts on or after the expiry of the policy it renews "
                                    f"({old.expiry_date.isoformat()})."]
    return errors


def lose(case: RenewalCase, *, reason: LostReason, note: str | None = None, actor: User,
         version: int | None = None) -> RenewalCase:
    """Close the case as ``lost`` with its reason (a note is required for ``other``); pending discount
    requests are withdrawn.

    Refuses a stale ``version`` (409), a closed case and ``other`` without a note (422).
    """
    _check_workable(case, version)
    reason, note = LostReason(reason), (note or "").strip() or None
    if reason == LostReason.OTHER and note is None:
        raise ValidationError({"note": ["Say why the renewal was lost."]})
    _withdraw_pending(case)
    with _audited(case, actor):
        case.status, case.lost_reason, case.lost_note, case.closed_at = S.LOST, reason, note, utcnow()
    return case


def reassign(case_ids: list[int], agent_id: int, *, actor: User) -> list[RenewalCase]:
    """Assign the cases to another agent, who brings them into their organisation unit (branch managers within
    their subtree, admins anywhere).

    Refuses a user who is neither (403); more than 500 cases, cases the user may not see or that are closed,
    and an agent the user may not see or who is not active (422). Nothing changes unless every case can move.
    """
    if actor.role not in DECIDERS:
        raise RoleForbidden()
    ids = list(dict.fromkeys(case_ids))
    if not ids or len(ids) > MAX_REASSIGN:
        raise ValidationError({"case_ids": [f"Choose between 1 and {MAX_REASSIGN} cases."]})
    cases = list(db.session.scalars(scoped_select(RenewalCase, actor).where(RenewalCase.id.in_(ids))
                                    .order_by(RenewalCase.id)))
    agent = db.session.scalar(scoped_select(Agent, actor).where(Agent.id == agent_id))
    errors = {}
    missing = sorted(set(ids) - {case.id for case in cases})
    closed = [case.id for case in cases if case.status in CLOSED]
    if missing or closed:
        errors["case_ids"] = [f"No such renewal case: {', '.join(map(str, missing))}."] if missing else []
        errors["case_ids"] += [f"Closed cases cannot move: {', '.join(map(str, closed))}."] if closed else []
    if agent is None or agent.status != AgentStatus.ACTIVE:
        errors["agent_id"] = ["No such active agent."]
    if errors:
        raise ValidationError(errors)
    from agents.task_services import follow_cases

    befores = {case.id: _snapshot(case) for case in cases}
    for case in cases:
        case.assigned_agent_id, case.org_unit_id = agent.id, agent.org_unit_id
    follow_cases([case.id for case in cases], agent)  # the cases' open calls go with them
    db.session.flush()
    _write_audit([(case, befores[case.id]) for case in cases], actor)
    return cases


# -- helpers -------------------------------------------------------------------------------------------------

def _check_workable(case: RenewalCase, version: int | None) -> None:
    if version is not None:
        check_version(case, version)
    if case.status in CLOSED:
        raise ValidationError({"status": [f"The case is {case.status}; it can no longer be worked."]})


def _check_decision(approval: RenewalDiscountApproval, actor: User, version: int | None) -> None:
    if not may_decide(actor, approval.case):
        raise RoleForbidden()
    if version is not None:
        check_version(approval, version)
    if approval.status != ApprovalStatus.PENDING:
        raise ValidationError({"status": [f"The request is {approval.status}; only a pending one can be decided."]})


def _decide(approval: RenewalDiscountApproval, status: ApprovalStatus, actor: User, note: str | None) -> None:
    approval.status, approval.decided_by_user_id, approval.decided_at = status, actor.id, utcnow()
    approval.decision_note = (note or "").strip() or None
    db.session.flush()


def _withdraw_pending(case: RenewalCase) -> None:
    for approval in db.session.scalars(select(RenewalDiscountApproval).where(
            RenewalDiscountApproval.renewal_case_id == case.id,
            RenewalDiscountApproval.status == ApprovalStatus.PENDING)):
        approval.status = ApprovalStatus.WITHDRAWN
    db.session.flush()


def _set_quote(case: RenewalCase, premium: Decimal, actor: User) -> None:
    with _audited(case, actor):
        case.quoted_premium = premium
        case.status = S.QUOTED


@contextmanager
def _audited(case: RenewalCase, actor: User) -> Iterator[None]:
    """``with _audited(case, actor): ...`` flushes the changes made inside and writes one audit row for them."""
    before = _snapshot(case)
    yield
    db.session.flush()
    _write_audit([(case, before)], actor)


def _snapshot(case: RenewalCase) -> dict:
    return {name: getattr(case, name) for name in AUDITED_FIELDS}


def _write_audit(changed: list[tuple[RenewalCase, dict]], actor: User) -> None:
    now = utcnow()
    rows = []
    for case, before in changed:
        changes = {name: [_plain(before[name]), _plain(getattr(case, name))]
                   for name in AUDITED_FIELDS if before[name] != getattr(case, name)}
        if changes:
            rows.append({"actor_user_id": getattr(actor, "id", None), "actor_label": actor_label(actor),
                         "occurred_at": now, "action": "update", "entity_type": RenewalCase.__tablename__,
                         "entity_id": case.id, "changes": changes})
    if rows:
        db.session.execute(insert(AuditLog), rows)


def _plain(value):
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)
