"""Quotes API (``/api/v1/quotes``): list, get, and compute a quote for an opportunity, a policyholder or a prospect
(``agents.pipeline.quotes``). Agents and specialists quote their own book, branch managers their branch's, admins
any; the actuary and bank referrers get 403. The rate tables are kept on the admins' pages."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy.orm import joinedload

import agents.permissions  # noqa: F401 - registers the scope rules
import policyholders.permissions  # noqa: F401
from agents.models import Opportunity, Quote
from agents.pipeline import quotes as services
from agents.pipeline.quote_schemas import ProductQuoteArgs, ProductQuoteSchema
from insurecrm.api import api_blueprint, apply_sort, current_user, page_envelope, paginate
from insurecrm.auth import require_roles
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from policyholders.models import Policyholder

blp = api_blueprint("quotes_api", __name__, description="Quotes (产品报价) computed from the products' rate tables.")
API_BLUEPRINTS = [blp]
ROLES = (Role.ADMIN, Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST)


@blp.route("/quotes")
class Quotes(MethodView):
    @require_roles(*ROLES)
    @blp.arguments(ProductQuoteArgs, location="query")
    @blp.response(200, page_envelope(ProductQuoteSchema))
    def get(self, args):
        """List the quotes you may see, newest first; filter by opportunity or policyholder."""
        stmt = scoped_select(Quote, current_user())
        for key in ("opportunity_id", "policyholder_id"):
            if args.get(key) is not None:
                stmt = stmt.where(getattr(Quote, key) == args[key])
        items, meta = paginate(apply_sort(stmt, Quote, args.get("sort"), {"created_at", "id"}, "-created_at"), args)
        return {"items": items, "meta": meta}

    @require_roles(*ROLES)
    @blp.arguments(ProductQuoteSchema)
    @blp.response(201, ProductQuoteSchema)
    def post(self, data):
        """Compute and save a quote from the product's rate table: for ``opportunity_id`` (saved on it), for
        ``policyholder_id``, or for a prospect (``prospect_name``); the age from ``date_of_birth`` (or the
        policyholder's) else ``age``. 422 when no band of the table covers the age and gender."""
        user = current_user()
        opportunity = get_visible_or_404(Opportunity, data["opportunity_id"], user) \
            if data.get("opportunity_id") is not None else None
        holder = get_visible_or_404(Policyholder, data["policyholder_id"], user) \
            if opportunity is None and data.get("policyholder_id") is not None else None
        quote = services.create_quote(data, actor=user, opportunity=opportunity, policyholder=holder)
        db.session.commit()
        return quote


@blp.route("/quotes/<int:quote_id>")
class QuoteItem(MethodView):
    @require_roles(*ROLES)
    @blp.response(200, ProductQuoteSchema)
    def get(self, quote_id):
        """One quote: what it was asked for and what it was computed with."""
        return get_visible_or_404(Quote, quote_id, options=(joinedload(Quote.product),))
