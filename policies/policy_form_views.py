"""A new policy in the browser (``/policies/new?policyholder_id=…``, from the policyholder page's "New policy").

The form is read through the API's own :class:`~policies.schemas.PolicySchema` and handed to
:func:`policies.services.create_policy`, the service behind ``POST /api/v1/policies``: the same defaults (the
writer's own agent record services the policy, the product's term gives the expiry date), the same refusals,
and the same premium schedule (:mod:`policies.schedule`), which the policy page shows next.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from agents.models import Agent, AgentStatus, BankBranch, BankPartner, Referrer
from insurecrm import clock
from insurecrm.db import db
from insurecrm.scope import RoleForbidden, get_visible_or_404, scoped_select
from insurecrm.web import WRITERS, load_form, page_roles
from policies import services
from policies.models import BusinessType, PolicyStatus, Product, SalesChannel
from policies.schemas import PolicySchema
from policies.services import SELLING_ROLES
from policies.views import bp
from policyholders.models import Policyholder

#: what the form offers: a renewal is written from its renewal case, never from here
FORM_BUSINESS_TYPES = (BusinessType.NEW, BusinessType.TRANSFER_IN)
FORM_STATUSES = (PolicyStatus.IN_FORCE, PolicyStatus.QUOTED)
#: the fields of :class:`PolicySchema` this form posts; anything else posted is ignored
FORM_FIELDS = ("product_id", "servicing_agent_id", "channel", "bank_partner_id", "bank_branch_id",
               "referrer_id", "business_type", "issue_date", "effective_date", "expiry_date", "sum_insured",
               "premium", "frequency", "status")


@bp.route("/policies/new", methods=["GET", "POST"])
@page_roles(*WRITERS)
def new_policy():
    """The new-policy form for one policyholder; without one, a pointer to the policyholder list."""
    holder_id = request.values.get("policyholder_id", type=int)
    if holder_id is None or not 0 < holder_id < 2**31:
        return render_template("policies/new.html", holder=None, errors={}, form={}), 200
    holder = get_visible_or_404(Policyholder, holder_id)
    if request.method == "GET":
        return _form(holder)
    try:
        data = load_form(PolicySchema(only=FORM_FIELDS))
        data["policyholder_id"] = holder.id
        if data.get("business_type") not in FORM_BUSINESS_TYPES:
            raise ValidationError({"business_type": ["A renewal is written from its renewal case."]})
        policy = services.create_policy(data, user=g.user)
    except ValidationError as exc:
        db.session.rollback()
        return _form(holder, errors=exc.normalized_messages(), status=422)
    db.session.commit()
    flash(_("Policy %(number)s written; its premium schedule follows.", number=policy.number), "success")
    return redirect(url_for(".detail", policy_id=policy.id))


def _form(holder: Policyholder, *, errors: dict | None = None, status: int = 200):
    products = db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name)).all()
    agents = db.session.scalars(scoped_select(Agent).where(Agent.status == AgentStatus.ACTIVE)
                                .order_by(Agent.name)).all()
    own_agent = g.user.agent_id if g.user.role in SELLING_ROLES else None
    return render_template(
        "policies/new.html", holder=holder, products=products, agents=agents,
        default_agent_id=own_agent or holder.owner_agent_id,
        partners=db.session.scalars(scoped_select(BankPartner).order_by(BankPartner.name)).all(),
        branches=db.session.scalars(scoped_select(BankBranch).order_by(BankBranch.name)).all(),
        referrers=_referrers(),
        channels=list(SalesChannel), business_types=FORM_BUSINESS_TYPES, statuses=FORM_STATUSES,
        today=clock.today(), errors=errors or {}, form=request.form if errors else {},
    ), status


def _referrers() -> list[Referrer]:
    """The bank referrers the user may name: none for a role with no business with referrers (an agent)."""
    try:
        return list(db.session.scalars(scoped_select(Referrer).order_by(Referrer.name)))
    except RoleForbidden:
        return []


@bp.get("/policies/new/frequencies")
@page_roles(*WRITERS)
def product_frequencies():
    """The ``<option>``s of the premium frequencies the chosen product is sold with (the form swaps them in)."""
    product_id = request.args.get("product_id", type=int)
    product = db.session.get(Product, product_id) if product_id and 0 < product_id < 2**31 else None
    frequencies = product.frequency_list if product is not None and product.active else []
    return render_template("policies/_frequency_options.html", frequencies=frequencies,
                           selected=request.args.get("frequency"))
