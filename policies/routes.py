"""Policies API: products (the pattern every resource follows), policies and what hangs off them."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import or_
from sqlalchemy.orm import selectinload

import policies.permissions  # noqa: F401 - registers the scope rules
from insurecrm.api import ListArgs, api_blueprint, apply_sort, current_user, page_envelope, paginate, partial
from insurecrm.auth import BOOK_WRITERS, INTERNAL_ROLES, require_roles
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from policies import claims, services
from policies.models import Claim, Commission, Installment, Payment, Policy, Product
from policies.payments import apply_payment
from policies.schemas import (
    ClaimArgs,
    ClaimSchema,
    ClaimUpdateSchema,
    CommissionSchema,
    InstallmentSchema,
    PaymentSchema,
    PolicyArgs,
    PolicyDetailSchema,
    PolicySchema,
    PolicyUpdateSchema,
    ProductArgs,
    ProductSchema,
    ProductUpdateSchema,
    TransitionSchema,
)
from policies.status import request_transition

products_blp = api_blueprint("products_api", __name__, description="Products (险种).")
policies_blp = api_blueprint("policies_api", __name__, description="Policies (保单): status, premium schedule, "
                             "payments, claims and commissions of each policy.")
claims_blp = api_blueprint("claims_api", __name__, description="Claims across the policies you may see.")
API_BLUEPRINTS = (products_blp, policies_blp, claims_blp)

PRODUCT_SORTS = {"code", "name", "line", "term_months"}


@products_blp.route("/products")
class Products(MethodView):
    @products_blp.arguments(ProductArgs, location="query")
    @products_blp.response(200, page_envelope(ProductSchema))
    def get(self, args):
        """List products; filter by line, active, renewable, or text in code/name."""
        stmt = scoped_select(Product)
        for key in ("line", "active", "renewable"):
            if key in args:
                stmt = stmt.where(getattr(Product, key) == args[key])
        if args.get("q"):
            stmt = stmt.where(or_(Product.code.icontains(args["q"]), Product.name.icontains(args["q"])))
        items, meta = paginate(apply_sort(stmt, Product, args["sort"], PRODUCT_SORTS, default="code"), args)
        return {"items": items, "meta": meta}

    @require_roles(Role.ADMIN)
    @products_blp.arguments(ProductSchema)
    @products_blp.response(201, ProductSchema)
    def post(self, data):
        """Create a product (admins)."""
        product = services.create_product(data)
        db.session.commit()
        return product


@products_blp.route("/products/<int:product_id>")
class ProductItem(MethodView):
    @require_roles(*INTERNAL_ROLES, Role.BANK_REFERRER)
    @products_blp.response(200, ProductSchema)
    def get(self, product_id):
        """One product."""
        return get_visible_or_404(Product, product_id)

    @require_roles(Role.ADMIN)
    @products_blp.arguments(partial(ProductUpdateSchema))
    @products_blp.response(200, ProductSchema)
    def patch(self, data, product_id):
        """Change a product's terms (admins)."""
        product = services.update_product(get_visible_or_404(Product, product_id), data)
        db.session.commit()
        return product

    @require_roles(Role.ADMIN)
    @products_blp.response(204)
    def delete(self, product_id):
        """Delete an unused product (admins); one with policies answers 409."""
        services.delete_product(get_visible_or_404(Product, product_id))
        db.session.commit()


# -- policies -----------------------------------------------------------------------------------------

POLICY_SORTS = {"number", "issue_date", "effective_date", "expiry_date", "premium", "sum_insured", "status",
                "status_date"}
CLAIM_SORTS = {"number", "loss_date", "report_date", "status", "incurred_amount", "paid_amount"}
#: built once: two envelopes of one schema would clash by name in the OpenAPI description
CLAIM_PAGE = page_envelope(ClaimSchema)
POLICY_FILTERS = ("status", "product_id", "policyholder_id", "servicing_agent_id", "org_unit_id", "channel",
                  "business_type", "bank_partner_id")


@policies_blp.route("/policies")
class Policies(MethodView):
    @policies_blp.arguments(PolicyArgs, location="query")
    @policies_blp.response(200, page_envelope(PolicySchema))
    def get(self, args):
        """List policies; filter by status, product, policyholder, agent, unit, channel, business type,
        bank partner, expiry range, or number prefix."""
        stmt = scoped_select(Policy)
        for key in POLICY_FILTERS:
            if key in args:
                stmt = stmt.where(getattr(Policy, key) == args[key])
        if "expiry_from" in args:
            stmt = stmt.where(Policy.expiry_date >= args["expiry_from"])
        if "expiry_to" in args:
            stmt = stmt.where(Policy.expiry_date <= args["expiry_to"])
        if args.get("number"):
            stmt = stmt.where(Policy.number.startswith(args["number"].strip().upper(), autoescape=True))
        items, meta = paginate(apply_sort(stmt, Policy, args["sort"], POLICY_SORTS, default="-issue_date"), args)
        return {"items": items, "meta": meta}

    @require_roles(*BOOK_WRITERS)
    @policies_blp.arguments(PolicyDetailSchema)
    @policies_blp.response(201, PolicyDetailSchema)
    def post(self, data):
        """Create a policy with its people; its first status row and premium schedule come with it."""
        policy = services.create_policy(data, user=current_user())
        db.session.commit()
        return policy


@policies_blp.route("/policies/<int:policy_id>")
class PolicyItem(MethodView):
    @policies_blp.response(200, PolicyDetailSchema)
    def get(self, policy_id):
        """One policy with its insured persons, beneficiaries and status history."""
        return get_visible_or_404(Policy, policy_id)

    @require_roles(*BOOK_WRITERS)
    @policies_blp.arguments(PolicyUpdateSchema)
    @policies_blp.response(200, PolicyDetailSchema)
    def patch(self, data, policy_id):
        """Change the servicing agent or sum insured, or replace the insured persons or beneficiaries."""
        policy = services.update_policy(get_visible_or_404(Policy, policy_id), data, user=current_user())
        db.session.commit()
        return policy


@policies_blp.route("/policies/<int:policy_id>/transitions")
class PolicyTransitions(MethodView):
    @require_roles(*BOOK_WRITERS)
    @policies_blp.arguments(TransitionSchema)
    @policies_blp.response(200, PolicyDetailSchema)
    def post(self, data, policy_id):
        """Ask for a status move a person may make: put a quote in force, cancel with a reason, reinstate a
        lapsed policy whose arrears are paid (or paid with ``arrears_payment``). Grace, lapse, expiry,
        maturity, renewal and termination by claim come from the system (see ``policies.status``)."""
        policy = get_visible_or_404(Policy, policy_id)
        request_transition(policy, data["to_status"], effective_date=data["effective_date"], reason=data.get("reason"),
                           actor=current_user(), arrears_payment=data.get("arrears_payment"))
        db.session.commit()
        return policy


def policy_records(model: type, policy_id: int, args: dict, sorts: set[str], default: str, *options) -> dict:
    """One page of the ``model`` rows of a policy the user may see (404 otherwise)."""
    get_visible_or_404(Policy, policy_id)
    stmt = scoped_select(model).where(model.policy_id == policy_id).options(*options)
    items, meta = paginate(apply_sort(stmt, model, args["sort"], sorts, default=default), args)
    return {"items": items, "meta": meta}


@policies_blp.route("/policies/<int:policy_id>/installments")
class PolicyInstallments(MethodView):
    @policies_blp.arguments(ListArgs, location="query")
    @policies_blp.response(200, page_envelope(InstallmentSchema))
    def get(self, args, policy_id):
        """The premium schedule of a policy."""
        return policy_records(Installment, policy_id, args, {"sequence", "due_date", "status"}, "sequence")


@policies_blp.route("/policies/<int:policy_id>/payments")
class PolicyPayments(MethodView):
    @policies_blp.arguments(ListArgs, location="query")
    @policies_blp.response(200, page_envelope(PaymentSchema))
    def get(self, args, policy_id):
        """Payments received for a policy, with the installments each was applied to."""
        return policy_records(Payment, policy_id, args, {"paid_on", "amount"}, "paid_on",
                              selectinload(Payment.allocations))

    @require_roles(*BOOK_WRITERS)
    @policies_blp.arguments(PaymentSchema)
    @policies_blp.response(201, PaymentSchema)
    def post(self, data, policy_id):
        """Record a payment; it is applied to the oldest open installments and earns commission."""
        payment = apply_payment(get_visible_or_404(Policy, policy_id), data["amount"], data["paid_on"],
                                data["method"], data.get("reference"))
        db.session.commit()
        return payment


@policies_blp.route("/policies/<int:policy_id>/claims")
class PolicyClaims(MethodView):
    @policies_blp.arguments(ListArgs, location="query")
    @policies_blp.response(200, CLAIM_PAGE)
    def get(self, args, policy_id):
        """Claims on a policy."""
        return policy_records(Claim, policy_id, args, CLAIM_SORTS, "-report_date")

    @require_roles(*BOOK_WRITERS)
    @policies_blp.arguments(ClaimSchema)
    @policies_blp.response(201, ClaimSchema)
    def post(self, data, policy_id):
        """Report a claim on a policy; its number is allocated."""
        claim = claims.create_claim(get_visible_or_404(Policy, policy_id), data)
        db.session.commit()
        return claim


@policies_blp.route("/policies/<int:policy_id>/commissions")
class PolicyCommissions(MethodView):
    @policies_blp.arguments(ListArgs, location="query")
    @policies_blp.response(200, page_envelope(CommissionSchema))
    def get(self, args, policy_id):
        """Commissions earned on a policy's premium, by the agent and the bank partner."""
        return policy_records(Commission, policy_id, args, {"earned_on", "amount", "kind", "payee"}, "earned_on")


# -- claims ---------------------------------------------------------------------------------------------


@claims_blp.route("/claims")
class Claims(MethodView):
    @claims_blp.arguments(ClaimArgs, location="query")
    @claims_blp.response(200, CLAIM_PAGE)
    def get(self, args):
        """List the claims on policies you may see; filter by status or policy."""
        stmt = scoped_select(Claim)
        for key in ("status", "policy_id"):
            if key in args:
                stmt = stmt.where(getattr(Claim, key) == args[key])
        items, meta = paginate(apply_sort(stmt, Claim, args["sort"], CLAIM_SORTS, default="-report_date"), args)
        return {"items": items, "meta": meta}


@claims_blp.route("/claims/<int:claim_id>")
class ClaimItem(MethodView):
    @claims_blp.response(200, ClaimSchema)
    def get(self, claim_id):
        """One claim."""
        return get_visible_or_404(Claim, claim_id)

    @require_roles(*BOOK_WRITERS)
    @claims_blp.arguments(ClaimUpdateSchema)
    @claims_blp.response(200, ClaimSchema)
    def patch(self, data, claim_id):
        """Change a claim's status, amounts or rejection reason."""
        claim = claims.update_claim(get_visible_or_404(Claim, claim_id), data)
        db.session.commit()
        return claim
