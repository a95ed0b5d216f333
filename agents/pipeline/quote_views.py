"""Pages of the quotes (产品报价): a new quote for an opportunity, a policyholder or a prospect, the quote's page
and its PDF. Thin views over :mod:`agents.pipeline.quotes`: the opportunity or policyholder is loaded in the user's
scope (404 beyond it), the form is read through
:class:`~agents.pipeline.quote_schemas.ProductQuoteSchema` and a refused
form comes back with its messages (422), nothing written. Agents and specialists (their own book), managers (their
branch) and admins quote; actuaries and referrers may not (403).
"""

from __future__ import annotations

from urllib.parse import urlencode

import marshmallow as ma
from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import joinedload

import agents.permissions  # noqa: F401 - registers the scope rules
import policyholders.permissions  # noqa: F401
from agents.models import Opportunity, OpportunityStatus, Quote, RateRow, RateTableSettings
from agents.pipeline import quotes as services
from agents.pipeline.quote_schemas import ProductQuoteSchema
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import Role, User
from insurecrm.scope import get_visible_or_404
from insurecrm.web import id_or_404, load_form, page_roles
from policies.models import Product
from policyholders.models import Policyholder

bp = Blueprint("quotes_web", __name__, template_folder="../templates")
WEB_BLUEPRINTS = [bp]

ROLES = (Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.BRANCH_MANAGER, Role.ADMIN)
FORM_FIELDS = ("prospect_name", "date_of_birth", "age", "gender", "product_id", "sum_insured", "frequency")


@bp.app_template_global()
def opportunity_quotes(opportunity: Opportunity) -> list[Quote]:
    """The quotes saved on ``opportunity`` (already loaded in the reader's scope), newest first: for the
    opportunity's page."""
    return services.quotes_of(opportunity)


@bp.app_template_global()
def quote_win_url(quote: Quote, opportunity: Opportunity | None) -> str | None:
    """The opportunity's win form filled in with ``quote`` (``None`` once the opportunity is closed)."""
    return _win_url(quote, opportunity)


@bp.route("/quotes/new", methods=["GET", "POST"])
@page_roles(*ROLES)
def new():
    """The quote form for ``?opportunity_id=`` or ``?policyholder_id=`` (or a prospect named on the form); on POST,
    the quote computed from the product's rate table and saved, then its page."""
    opportunity, holder = _subject()
    if request.method == "GET":
        return _form(opportunity, holder, _defaults(opportunity, holder), {})
    try:
        data = load_form(ProductQuoteSchema(only=FORM_FIELDS))
        quote = services.create_quote(data, actor=g.user, opportunity=opportunity, policyholder=holder)
    except ma.ValidationError as exc:
        db.session.rollback()
        return _form(opportunity, holder, request.form, flatten_messages(exc.normalized_messages()), status=422)
    db.session.commit()
    flash(_("Quote saved: %(premium)s per installment.", premium=quote.installment_premium), "success")
    return redirect(url_for(".detail", quote_id=quote.id))


@bp.get("/quotes/<int:quote_id>")
@page_roles(*ROLES)
def detail(quote_id: int):
    """One quote: for whom, the product and terms, the rate and loading it was computed with, the premiums; links to
    its PDF, its opportunity, and the opportunity's win form filled in with it."""
    quote, opportunity, holder, creator = _quote(quote_id)
    return render_template("pipeline/quote.html", quote=quote, opportunity=opportunity, holder=holder,
                           creator=creator, win_url=_win_url(quote, opportunity))


@bp.get("/quotes/<int:quote_id>.pdf")
@page_roles(*ROLES)
def pdf(quote_id: int):
    """The quote laid out for print (A4), by WeasyPrint with a URL fetcher that fetches nothing."""
    from weasyprint import HTML

    quote, opportunity, holder, creator = _quote(quote_id)
    html = render_template("pipeline/quote_pdf.html", quote=quote, opportunity=opportunity, holder=holder,
                           creator=creator)
    document = HTML(string=html, url_fetcher=_no_fetching).write_pdf()
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="quote-{quote.id}.pdf"'})


def _no_fetching(url: str, *args, **kwargs):
    raise ValueError(f"a quote's PDF loads nothing from outside: {url}")


def _subject() -> tuple[Opportunity | None, Policyholder | None]:
    """The opportunity or policyholder of the query string, in the user's scope (404 beyond it)."""
    opportunity_id, holder_id = id_or_404("opportunity_id", request.args), id_or_404("policyholder_id", request.args)
    opportunity = get_visible_or_404(Opportunity, opportunity_id) if opportunity_id is not None else None
    holder = None
    if opportunity is not None and opportunity.policyholder_id is not None:
        holder = db.session.get(Policyholder, opportunity.policyholder_id)
    elif opportunity is None and holder_id is not None:
        holder = get_visible_or_404(Policyholder, holder_id)
    return opportunity, holder


def _defaults(opportunity: Opportunity | None, holder: Policyholder | None) -> dict:
    values: dict = {}
    if holder is not None:
        values["gender"] = services._gender_of(holder) or ""
        values["date_of_birth"] = holder.date_of_birth.isoformat() if holder.date_of_birth else ""
    elif opportunity is not None and opportunity.prospect_name:
        values["prospect_name"] = opportunity.prospect_name
    if opportunity is not None and opportunity.products:
        values["product_id"] = str(opportunity.products[0].product_id)
    if request.args.get("product_id"):
        values["product_id"] = request.args["product_id"]
    return values


def _form(opportunity, holder, values, errors: dict, status: int = 200):
    flat = exists().where(RateTableSettings.product_id == Product.id, RateTableSettings.flat_premium.is_not(None))
    quoted = or_(exists().where(RateRow.product_id == Product.id), flat)
    products = db.session.scalars(select(Product).where(Product.active.is_(True), quoted)
                                  .order_by(Product.name, Product.id)).all()
    query = {key: value for key, value in (("opportunity_id", opportunity and opportunity.id),
                                           ("policyholder_id", None if opportunity else holder and holder.id)) if value}
    return render_template("pipeline/quote_new.html", opportunity=opportunity, holder=holder, products=products,
                           values=values, errors=errors, action=url_for(".new", **query)), status


def _quote(quote_id: int) -> tuple[Quote, Opportunity | None, Policyholder | None, User | None]:
    quote = get_visible_or_404(Quote, quote_id, options=(joinedload(Quote.product),))
    opportunity = db.session.get(Opportunity, quote.opportunity_id) if quote.opportunity_id else None
    holder = db.session.get(Policyholder, quote.policyholder_id) if quote.policyholder_id else None
    creator = db.session.get(User, quote.created_by_user_id) if quote.created_by_user_id else None
    return quote, opportunity, holder, creator


def _win_url(quote: Quote, opportunity: Opportunity | None) -> str | None:
    """The opportunity's page with its win form filled in with the quote's terms (the premium per installment), while
    the opportunity is open."""
    if opportunity is None or opportunity.status != OpportunityStatus.OPEN:
        return None
    terms = {"product_id": quote.product_id, "sum_insured": quote.sum_insured, "premium": quote.installment_premium,
             "frequency": quote.frequency, "quote_id": quote.id}
    # the opportunity's page lives in agents.pipeline.opportunity_views (/opportunities/<id>); its win form reads these
    return f"/opportunities/{opportunity.id}?{urlencode(terms)}#win"
