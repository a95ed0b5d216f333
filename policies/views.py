"""Web pages of policies: one policy with its people, premium, payments, claims, status history and renewal chain.

Writers record payments, ask for status moves, edit the insured persons and beneficiaries and report claims from
here; a new policy is written on :mod:`policies.policy_form_views`, a claim worked on :mod:`policies.claim_views`.
The rules stay in :mod:`policies.payments`, :mod:`policies.status`, :mod:`policies.services` and
:mod:`policies.claims`.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

import policies.permissions  # noqa: F401 - registers the scope rules
from agents.models import BankBranch, BankPartner, Referrer
from insurecrm import clock, labels
from insurecrm.db import db
from insurecrm.i18n import money
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import INTERNAL, WRITERS, load_form, page_roles
from policies.claims import KINDS_BY_LINE
from policies.models import (
    BusinessType,
    Claim,
    ClaimStatus,
    Installment,
    InstallmentStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    Policy,
    PolicyStatus,
    SalesChannel,
)
from policies.payments import NO_PAYMENT_STATUSES, apply_payment
from policies.payments import OPEN as OPEN_INSTALLMENTS
from policies.schemas import ArrearsPaymentSchema, PaymentSchema, TransitionSchema
from policies.status import REASON_REQUIRED, request_transition, requestable_targets
from policyholders.household import visible_relationships
from policyholders.models import Policyholder, RelationshipKind

bp = Blueprint("policies_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)

S = PolicyStatus
STATUS_LABELS = {
    S.QUOTED: _l("Quoted"), S.IN_FORCE: _l("In force"), S.GRACE: _l("Grace period"), S.LAPSED: _l("Lapsed"),
    S.REINSTATED: _l("Reinstated"), S.CANCELLED: _l("Cancelled"), S.EXPIRED: _l("Expired"), S.RENEWED: _l("Renewed"),
    S.MATURED: _l("Matured"), S.TERMINATED_BY_CLAIM: _l("Terminated by claim"),
}
STATUS_BADGES = {S.IN_FORCE: "good", S.REINSTATED: "good", S.GRACE: "warn", S.LAPSED: "bad", S.CANCELLED: "bad",
                 S.TERMINATED_BY_CLAIM: "bad"}
BUSINESS_TYPE_LABELS = {BusinessType.NEW: _l("New business"), BusinessType.TRANSFER_IN: _l("Transfer-in"),
                        BusinessType.RENEWAL: _l("Renewal")}
CHANNEL_LABELS = {SalesChannel.AGENCY: _l("Agency"), SalesChannel.BANCASSURANCE: _l("Bancassurance"),
                  SalesChannel.DIRECT: _l("Direct"), SalesChannel.TELESALES: _l("Telesales")}
#: one name per frequency across the pages (the catalogue's; its keys are the enum's values)
FREQUENCY_LABELS = labels.FREQUENCY
INSTALLMENT_LABELS = {InstallmentStatus.DUE: _l("Due"), InstallmentStatus.PARTIALLY_PAID: _l("Partially paid"),
                      InstallmentStatus.PAID: _l("Paid"), InstallmentStatus.WAIVED: _l("Waived")}
INSTALLMENT_BADGES = {InstallmentStatus.PAID: "good", InstallmentStatus.PARTIALLY_PAID: "warn"}
CLAIM_STATUS_LABELS = {ClaimStatus.REPORTED: _l("Reported"), ClaimStatus.UNDER_REVIEW: _l("Under review"),
                       ClaimStatus.APPROVED: _l("Approved"), ClaimStatus.REJECTED: _l("Rejected"),
                       ClaimStatus.PAID: _l("Paid"), ClaimStatus.CLOSED: _l("Closed")}
CLAIM_BADGES = {ClaimStatus.PAID: "good", ClaimStatus.APPROVED: "good", ClaimStatus.REJECTED: "bad",
                ClaimStatus.UNDER_REVIEW: "warn"}
CLAIM_KIND_LABELS = labels.LABELS["claim_kind"]
RELATION_LABELS = {RelationshipKind.SPOUSE: _l("spouse"), RelationshipKind.CHILD: _l("child"),
                   RelationshipKind.PARENT: _l("parent"), RelationshipKind.SIBLING: _l("sibling"),
                   RelationshipKind.EMPLOYER: _l("employer"), RelationshipKind.EMPLOYEE: _l("employee"),
                   RelationshipKind.BENEFICIARY: _l("beneficiary"), RelationshipKind.OTHER: _l("related")}
METHOD_LABELS = {PaymentMethod.BANK_DEBIT: _l("Bank debit"), PaymentMethod.BANK_TRANSFER: _l("Bank transfer"),
                 PaymentMethod.CARD: _l("Card"), PaymentMethod.CASH: _l("Cash"), PaymentMethod.MOBILE: _l("Mobile")}


@bp.context_processor
def _labels() -> dict:
    return {"status_labels": STATUS_LABELS, "status_badges": STATUS_BADGES, "business_labels": BUSINESS_TYPE_LABELS,
            "channel_labels": CHANNEL_LABELS, "frequency_labels": FREQUENCY_LABELS,
            "installment_labels": INSTALLMENT_LABELS, "installment_badges": INSTALLMENT_BADGES,
            "method_labels": METHOD_LABELS, "claim_status_labels": CLAIM_STATUS_LABELS, "claim_badges": CLAIM_BADGES,
            "claim_kind_labels": CLAIM_KIND_LABELS, "relation_labels": RELATION_LABELS}


@bp.get("/policies/<int:policy_id>")
@page_roles(*INTERNAL)
def detail(policy_id: int):
    """The policy page: details, people, premium and payments, history, renewal chain, status moves."""
    return _render(get_visible_or_404(Policy, policy_id))


@bp.post("/policies/<int:policy_id>/payments")
@page_roles(*WRITERS)
def record_payment(policy_id: int):
    """Record a payment; it goes to the oldest open installments (see :mod:`policies.payments`)."""
    policy = get_visible_or_404(Policy, policy_id)
    try:
        data = load_form(PaymentSchema())
        payment = apply_payment(policy, data["amount"], data["paid_on"], data["method"], data.get("reference"))
    except ValidationError as exc:
        return _refused(policy, "payment", exc)
    db.session.commit()
    flash(_("Payment of %(amount)s recorded.", amount=money(payment.amount)), "success")
    return redirect(url_for(".detail", policy_id=policy_id, _anchor="payments"))


@bp.post("/policies/<int:policy_id>/transitions")
@page_roles(*WRITERS)
def change_status(policy_id: int):
    """Ask for a status move a person may make (the form offers only those), with its reason and date; a
    reinstatement may carry the payment of the arrears."""
    policy = get_visible_or_404(Policy, policy_id)
    try:
        data = load_form(TransitionSchema())
        request_transition(policy, data["to_status"], effective_date=data["effective_date"], reason=data.get("reason"),
                           actor=g.user, arrears_payment=_arrears_payment())
    except ValidationError as exc:
        return _refused(policy, "transition", exc)
    db.session.commit()
    flash(_("The policy is now %(status)s.", status=STATUS_LABELS[policy.status]), "success")
    return redirect(url_for(".detail", policy_id=policy_id))


def _arrears_payment() -> dict | None:
    """The payment of arrears posted with a reinstatement (``arrears_amount``, ``arrears_method``...), if any."""
    if not request.form.get("arrears_amount", "").strip():
        return None
    fields = {"amount": "arrears_amount", "paid_on": "arrears_paid_on", "method": "arrears_method",
              "reference": "arrears_reference"}
    posted = {name: request.form[key].strip() for name, key in fields.items() if request.form.get(key, "").strip()}
    try:
        return ArrearsPaymentSchema().load(posted)
    except ValidationError as exc:
        raise ValidationError({"arrears_payment": [f"{field}: {' '.join(messages)}" for field, messages
                                                   in exc.normalized_messages().items()]}) from exc


def _refused(policy: Policy, form: str, exc: ValidationError, messages: dict | None = None):
    db.session.rollback()
    return _render(policy, errors={form: messages if messages is not None else exc.normalized_messages()},
                   status=422)


def _render(policy: Policy, *, errors: dict | None = None, status: int = 200):
    # every query below runs whatever the policy holds (no lazy loads that the identity map may answer),
    # so the page costs the same number of statements for every policy and every book
    policy = _with_people(policy.id)
    can_write = g.user.role in WRITERS
    previous, following = _renewal_chain(policy)
    installments = db.session.scalars(
        scoped_select(Installment).where(Installment.policy_id == policy.id).order_by(Installment.sequence)).all()
    payments = db.session.scalars(scoped_select(Payment).where(Payment.policy_id == policy.id)
                                  .order_by(Payment.paid_on.desc(), Payment.id.desc())).all()
    claims = db.session.scalars(scoped_select(Claim).where(Claim.policy_id == policy.id)
                                .order_by(Claim.report_date.desc(), Claim.id.desc())).all()
    today = clock.today()
    return render_template(
        "policies/detail.html", policy=policy, bank=_bank_records(policy), previous=previous, following=following,
        installments=installments, sequence_of={item.id: item.sequence for item in installments},
        payments=payments, allocations_of=_allocations(policy),
        can_write=can_write, takes_payments=policy.status not in NO_PAYMENT_STATUSES,
        targets=requestable_targets(policy.status) if can_write else [],
        reason_required=REASON_REQUIRED, today=today, errors=errors or {},
        form=request.form if errors else {},
        arrears=sum((item.amount - item.paid_amount for item in installments
                     if item.status in OPEN_INSTALLMENTS and item.due_date < today), Decimal("0")),
        claims=claims, claim_kinds=KINDS_BY_LINE[policy.product.line],
        people_options=household_options(policy) if can_write else [],
    ), status


def _with_people(policy_id: int) -> Policy:
    """The policy with its product, policyholder, agent, insured persons, beneficiaries and history."""
    return db.session.scalars(select(Policy).where(Policy.id == policy_id).options(
        joinedload(Policy.product), joinedload(Policy.policyholder), joinedload(Policy.servicing_agent),
        selectinload(Policy.insured_persons), selectinload(Policy.beneficiaries), selectinload(Policy.status_history),
    ).execution_options(populate_existing=True)).one()


def _allocations(policy: Policy) -> dict[int, list[PaymentAllocation]]:
    """Payment id → how it was applied to the installments, for every payment of the policy."""
    allocated: dict[int, list[PaymentAllocation]] = defaultdict(list)
    for allocation in db.session.scalars(select(PaymentAllocation).where(PaymentAllocation.payment_id.in_(
            select(Payment.id).where(Payment.policy_id == policy.id)))):
        allocated[allocation.payment_id].append(allocation)
    return allocated


def _bank_records(policy: Policy) -> dict:
    """The bank partner, bank branch and referrer of a bancassurance policy (``None`` where not set)."""
    partner, branch, referrer = db.session.execute(
        select(BankPartner, BankBranch, Referrer).select_from(Policy)
        .outerjoin(BankPartner, BankPartner.id == Policy.bank_partner_id)
        .outerjoin(BankBranch, BankBranch.id == Policy.bank_branch_id)
        .outerjoin(Referrer, Referrer.id == Policy.referrer_id)
        .where(Policy.id == policy.id)).one()
    return {"partner": partner, "branch": branch, "referrer": referrer}


def _renewal_chain(policy: Policy) -> tuple[Policy | None, Policy | None]:
    """The policy this one renews and the one renewing it, each only if the user may see it."""
    rows = list(db.session.scalars(scoped_select(Policy).where(
        or_(Policy.id == policy.renews_policy_id, Policy.renews_policy_id == policy.id))))
    previous = next((row for row in rows if row.id == policy.renews_policy_id), None)
    following = next((row for row in rows if row.renews_policy_id == policy.id), None)
    return previous, following


def household_options(policy: Policy) -> list[tuple[Policyholder, str | None]]:
    """The people a writer may pick as insured or beneficiary: the policyholder and the members of their household
    the user may see, each with their relationship to the policyholder (``None`` for the policyholder)."""
    holder = policy.policyholder
    return [(holder, None)] + [(rel.to_policyholder, rel.kind) for rel in visible_relationships(holder)]


# the pages that write records from the policy page, on this blueprint
from policies import claim_views, people_views, policy_form_views  # noqa: E402, F401
