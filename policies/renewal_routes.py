"""Renewals API (``/api/v1/renewals``, ``/api/v1/renewal-approvals``): the cases with their risk flags, the
actions that work them, bulk reassignment and the discount approval queue.

Discount requests have their own resource (``/renewal-approvals``) rather than ``/renewals/approvals``: every
path under ``/renewals/<id>`` names a case, so a request's id can never be mistaken for a case's.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import func, select

from agents.models import OrgUnit
from insurecrm import clock
from insurecrm.api import (
    Date,
    Id,
    Integer,
    ListArgs,
    Money,
    Rate,
    Schema,
    Version,
    api_blueprint,
    apply_sort,
    current_user,
    page_envelope,
    paginate,
)
from insurecrm.auth import BOOK_WRITERS, require_roles
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from policies import renewal_queries as queries
from policies import renewals
from policies.models import LostReason, PremiumFrequency, RenewalCase, RenewalStatus
from policies.models.approvals import ApprovalStatus, RenewalDiscountApproval
from policies.schemas import EXPIRY_FUTURE, POLICY_FUTURE, POLICY_PAST
from policyholders.models import InteractionChannel

renewals_blp = api_blueprint("renewals_api", __name__, description="Renewal cases (续保): the worklist, contacts, "
                             "quotes, outcomes and reassignment.")
approvals_blp = api_blueprint("renewal_approvals_api", __name__, description="Renewal discounts beyond the "
                              "product's limit, waiting for a branch manager's decision.")
API_BLUEPRINTS = (renewals_blp, approvals_blp)
DECIDERS = (Role.BRANCH_MANAGER, Role.ADMIN)
CASE_SORTS = {"due_date", "status", "opened_on", "last_contacted_at", "quoted_premium"}


# -- schemas -------------------------------------------------------------------------------------------------

class RiskSchema(Schema):
    premium_change = fields.Boolean(metadata={"description": "Quoted premium differs from the current one by more "
                                              "than INSURECRM_RENEWAL_PREMIUM_CHANGE_ALERT (0.15)."})
    no_reachable_channel = fields.Boolean(metadata={"description": "No email with consent, no phone with consent."})
    missed_payments = fields.Boolean(metadata={"description": "An installment is unpaid past its due date."})


class RenewalCaseSchema(Schema):
    pii_kind = "renewal_case"

    id = Id(attribute="case.id")
    policy_id = Id(attribute="case.policy_id")
    policy_number = fields.String(attribute="policy.number")
    policyholder_id = Id(attribute="policy.policyholder_id")
    product_id = Id(attribute="policy.product_id")
    due_date = Date(attribute="case.due_date")
    days_left = Integer()
    opened_on = Date(attribute="case.opened_on")
    assigned_agent_id = Id(attribute="case.assigned_agent_id", allow_none=True)
    org_unit_id = Id(attribute="case.org_unit_id")
    status = fields.Enum(RenewalStatus, by_value=True, attribute="case.status")
    current_premium = Money(attribute="policy.premium", metadata={"description": "Modal premium of the policy."})
    frequency = fields.Enum(PremiumFrequency, by_value=True, attribute="policy.frequency")
    annual_premium = Money(attribute="policy.annual_premium")
    quoted_premium = Money(attribute="case.quoted_premium", allow_none=True)
    premium_change = Rate(attribute="change_ratio", allow_none=True,
                          metadata={"description": "(quoted − current) / current; −0.1 is a 10% discount."})
    pending_approval_premium = Money(attribute="pending_premium", allow_none=True,
                                     metadata={"description": "A quote waiting for the branch manager."})
    first_contacted_at = fields.DateTime(attribute="case.first_contacted_at", allow_none=True)
    last_contacted_at = fields.DateTime(attribute="case.last_contacted_at", allow_none=True)
    escalated_at = fields.DateTime(attribute="case.escalated_at", allow_none=True)
    lost_reason = fields.Enum(LostReason, by_value=True, attribute="case.lost_reason", allow_none=True)
    lost_note = fields.String(attribute="case.lost_note", allow_none=True, metadata={"pii": "drop"})
    renewing_policy_id = Id(attribute="case.renewing_policy_id", allow_none=True)
    closed_at = fields.DateTime(attribute="case.closed_at", allow_none=True)
    risk = fields.Nested(RiskSchema)
    at_risk = fields.Boolean()
    version = Version(attribute="case.version")


class RenewalArgs(ListArgs):
    status = fields.List(fields.Enum(RenewalStatus, by_value=True), validate=validate.Length(max=len(RenewalStatus)),
                         metadata={"description": "One or more statuses (repeat the argument)."})
    due_from = Date(past_years=POLICY_PAST, future_years=EXPIRY_FUTURE,
                    metadata={"description": "Due on or after this date."})
    due_to = Date(past_years=POLICY_PAST, future_years=EXPIRY_FUTURE,
                  metadata={"description": "Due on or before this date."})
    assigned_agent_id = Id()
    unit = Id(metadata={"description": "An organisation unit id: cases of the unit and below it."})
    at_risk = fields.Boolean(metadata={"description": "Only cases with (true) or without (false) a risk flag."})


class ActionSchema(Schema):
    version = Version(required=True, metadata={"description": "The case version you loaded; stale → 409."})


class ContactSchema(ActionSchema):
    channel = fields.Enum(InteractionChannel, by_value=True, required=True)
    summary = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    outcome = fields.String(allow_none=True, validate=validate.Length(max=255))


class QuoteSchema(ActionSchema):
    premium = Money(required=True, validate=validate.Range(min=0, min_inclusive=False),
                    metadata={"description": "Modal premium of the renewal (same frequency as now)."})


class RenewSchema(QuoteSchema):
    effective_date = Date(past_years=POLICY_PAST, future_years=POLICY_FUTURE,
                          metadata={"description": "Defaults to the expiry of the policy renewed."})


class LoseSchema(ActionSchema):
    reason = fields.Enum(LostReason, by_value=True, required=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=2000),
                         metadata={"description": "Required for the reason 'other'."})


class ReassignSchema(Schema):
    case_ids = fields.List(Id(), required=True,
                           validate=validate.Length(min=1, max=renewals.MAX_REASSIGN))
    agent_id = Id(required=True)


class ReassignedSchema(Schema):
    reassigned = Integer()


class ApprovalSchema(Schema):
    pii_kind = "renewal_approval"

    id = Id()
    renewal_case_id = Id()
    premium = Money()
    current_premium = Money()
    discount = Rate()
    max_discount = Rate()
    status = fields.Enum(ApprovalStatus, by_value=True)
    requested_by_user_id = Id(allow_none=True)
    requested_at = fields.DateTime()
    decided_by_user_id = Id(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True, metadata={"pii": "drop"})
    version = Version()


class DecisionSchema(Schema):
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))
    version = Version(metadata={"description": "The request version you loaded; stale → 409."})


class ApprovalArgs(ListArgs):
    status = fields.Enum(ApprovalStatus, by_value=True, load_default=ApprovalStatus.PENDING)


# -- cases ---------------------------------------------------------------------------------------------------

@renewals_blp.route("/renewals")
class Renewals(MethodView):
    @renewals_blp.arguments(RenewalArgs, location="query")
    @renewals_blp.response(200, page_envelope(RenewalCaseSchema))
    def get(self, args):
        """List renewal cases with their risk flags; filter by status, due dates, agent, unit and risk."""
        stmt = apply_sort(filtered(queries.case_rows(current_user(), clock.today()), args), RenewalCase,
                          args["sort"], CASE_SORTS, default="due_date")
        total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        page, per_page = args["page"], args["per_page"]
        rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
        return {"items": queries.views(rows), "meta": {"total": total, "page": page, "per_page": per_page,
                                                       "pages": -(-total // per_page) if total else 0}}


def filtered(stmt, args: dict):
    """``stmt`` (case rows) narrowed by the list arguments of the API and the worklist page."""
    if args.get("status"):
        stmt = stmt.where(RenewalCase.status.in_(args["status"]))
    if "due_from" in args:
        stmt = stmt.where(RenewalCase.due_date >= args["due_from"])
    if "due_to" in args:
        stmt = stmt.where(RenewalCase.due_date <= args["due_to"])
    if "assigned_agent_id" in args:
        stmt = stmt.where(RenewalCase.assigned_agent_id == args["assigned_agent_id"])
    if "unit" in args:
        path = select(OrgUnit.path).where(OrgUnit.id == args["unit"]).scalar_subquery()
        stmt = stmt.where(RenewalCase.org_unit_id.in_(
            select(OrgUnit.id).where(OrgUnit.path.startswith(path))))
    if "at_risk" in args:
        risky = queries.at_risk(clock.today())
        stmt = stmt.where(risky if args["at_risk"] else ~risky)
    return stmt


@renewals_blp.route("/renewals/<int:case_id>")
class RenewalItem(MethodView):
    @renewals_blp.response(200, RenewalCaseSchema)
    def get(self, case_id):
        """One renewal case with its risk flags."""
        return queries.case_view(get_visible_or_404(RenewalCase, case_id).id, current_user())


def _done(case: RenewalCase):
    db.session.commit()
    return queries.case_view(case.id, current_user())


@renewals_blp.route("/renewals/<int:case_id>/contacts")
class RenewalContacts(MethodView):
    @require_roles(*BOOK_WRITERS)
    @renewals_blp.arguments(ContactSchema)
    @renewals_blp.response(200, RenewalCaseSchema)
    def post(self, data, case_id):
        """Log a contact about the renewal (on the policyholder's timeline); an open case becomes contacted."""
        case = get_visible_or_404(RenewalCase, case_id)
        renewals.log_contact(case, channel=data["channel"], summary=data["summary"], outcome=data.get("outcome"),
                             actor=current_user(), version=data["version"])
        return _done(case)


@renewals_blp.route("/renewals/<int:case_id>/quote")
class RenewalQuote(MethodView):
    @require_roles(*BOOK_WRITERS)
    @renewals_blp.arguments(QuoteSchema)
    @renewals_blp.response(200, RenewalCaseSchema)
    def post(self, data, case_id):
        """Quote the renewal premium. A discount beyond the product's limit waits for the branch manager
        (``pending_approval_premium``); within it the case becomes quoted."""
        case = get_visible_or_404(RenewalCase, case_id)
        renewals.quote(case, premium=data["premium"], actor=current_user(), version=data["version"])
        return _done(case)


@renewals_blp.route("/renewals/<int:case_id>/renew")
class RenewalRenew(MethodView):
    @require_roles(*BOOK_WRITERS)
    @renewals_blp.arguments(RenewSchema)
    @renewals_blp.response(200, RenewalCaseSchema)
    def post(self, data, case_id):
        """Write the renewing policy (with its premium schedule) and close the case as renewed."""
        case = get_visible_or_404(RenewalCase, case_id)
        renewals.renew(case, premium=data["premium"], effective_date=data.get("effective_date"),
                       actor=current_user(), version=data["version"])
        return _done(case)


@renewals_blp.route("/renewals/<int:case_id>/lose")
class RenewalLose(MethodView):
    @require_roles(*BOOK_WRITERS)
    @renewals_blp.arguments(LoseSchema)
    @renewals_blp.response(200, RenewalCaseSchema)
    def post(self, data, case_id):
        """Close the case as lost, with the reason (and a note for 'other')."""
        case = get_visible_or_404(RenewalCase, case_id)
        renewals.lose(case, reason=data["reason"], note=data.get("note"), actor=current_user(),
                      version=data["version"])
        return _done(case)


@renewals_blp.route("/renewals/reassign")
class RenewalReassign(MethodView):
    @require_roles(*DECIDERS)
    @renewals_blp.arguments(ReassignSchema)
    @renewals_blp.response(200, ReassignedSchema)
    def post(self, data):
        """Assign open cases to another active agent (branch managers within their subtree, admins)."""
        cases = renewals.reassign(data["case_ids"], data["agent_id"], actor=current_user())
        db.session.commit()
        return {"reassigned": len(cases)}


# -- discount approvals ----------------------------------------------------------------------------------------

@approvals_blp.route("/renewal-approvals")
class Approvals(MethodView):
    @approvals_blp.arguments(ApprovalArgs, location="query")
    @approvals_blp.response(200, page_envelope(ApprovalSchema))
    def get(self, args):
        """Discount requests of the cases you may see; pending ones by default, oldest first."""
        stmt = scoped_select(RenewalDiscountApproval).where(RenewalDiscountApproval.status == args["status"])
        stmt = apply_sort(stmt, RenewalDiscountApproval, args["sort"], {"requested_at", "discount", "decided_at"},
                          default="requested_at")
        items, meta = paginate(stmt, args)
        return {"items": items, "meta": meta}


@approvals_blp.route("/renewal-approvals/<int:approval_id>")
class ApprovalItem(MethodView):
    @approvals_blp.response(200, ApprovalSchema)
    def get(self, approval_id):
        """One discount request."""
        return get_visible_or_404(RenewalDiscountApproval, approval_id)


@approvals_blp.route("/renewal-approvals/<int:approval_id>/approve")
class ApprovalApprove(MethodView):
    @require_roles(*DECIDERS)
    @approvals_blp.arguments(DecisionSchema)
    @approvals_blp.response(200, ApprovalSchema)
    def post(self, data, approval_id):
        """Approve the discount: the case becomes quoted at the requested premium."""
        approval = renewals.approve(get_visible_or_404(RenewalDiscountApproval, approval_id), actor=current_user(),
                                    note=data.get("note"), version=data.get("version"))
        db.session.commit()
        return approval


@approvals_blp.route("/renewal-approvals/<int:approval_id>/reject")
class ApprovalReject(MethodView):
    @require_roles(*DECIDERS)
    @approvals_blp.arguments(DecisionSchema)
    @approvals_blp.response(200, ApprovalSchema)
    def post(self, data, approval_id):
        """Reject the discount; the case keeps its previous quote."""
        approval = renewals.reject(get_visible_or_404(RenewalDiscountApproval, approval_id), actor=current_user(),
                                   note=data.get("note"), version=data.get("version"))
        db.session.commit()
        return approval
