"""The admin pages of the products' rate tables (``/admin/rate-tables``): per product, the rate rows (age band,
gender or any, premium per 1,000 of sum insured) to add, change or delete, the flat annual premium, and the loading
of each premium frequency. Thin views over :mod:`agents.pipeline.quotes`, which refuses overlapping bands; a refused
form comes back with its messages (422), nothing written. Admins only; changes are audited."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import FrequencyLoading, RateRow, RateTableSettings
from agents.pipeline import quotes as services
from agents.pipeline.quote_schemas import FlatPremiumSchema, LoadingSchema, RateRowSchema
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import Role
from insurecrm.web import load_form, page_roles
from policies.models import Product

bp = Blueprint("rate_tables_admin", __name__, url_prefix="/admin", template_folder="../templates")
WEB_BLUEPRINTS = [bp]
admin_only = page_roles(Role.ADMIN)


@bp.get("/rate-tables")
@admin_only
def index():
    """Every product with the size of its rate table, its flat premium and its loadings."""
    rows = dict(db.session.execute(select(RateRow.product_id, func.count()).group_by(RateRow.product_id)).all())
    loadings = dict(db.session.execute(select(FrequencyLoading.product_id, func.count())
                                       .group_by(FrequencyLoading.product_id)).all())
    flat = dict(db.session.execute(select(RateTableSettings.product_id, RateTableSettings.flat_premium)).all())
    products = db.session.scalars(select(Product).order_by(Product.active.desc(), Product.code)).all()
    return render_template("pipeline/rate_tables.html", products=products, rows=rows, loadings=loadings, flat=flat)


@bp.get("/rate-tables/<int:product_id>")
@admin_only
def product(product_id: int):
    """One product's rate table and its forms."""
    return _page(_product(product_id))


@bp.post("/rate-tables/<int:product_id>/rows")
@admin_only
def add_row(product_id: int):
    item = _product(product_id)
    return _act(item, "new", lambda: services.add_rate_row(item, load_form(RateRowSchema())),
                _("Band added."))


@bp.post("/rate-tables/<int:product_id>/rows/<int:row_id>")
@admin_only
def edit_row(product_id: int, row_id: int):
    item, row = _product(product_id), _row(product_id, row_id)
    return _act(item, row_id, lambda: services.update_rate_row(row, load_form(RateRowSchema())), _("Band saved."))


@bp.post("/rate-tables/<int:product_id>/rows/<int:row_id>/delete")
@admin_only
def delete_row(product_id: int, row_id: int):
    item, row = _product(product_id), _row(product_id, row_id)
    return _act(item, row_id, lambda: services.delete_rate_row(row), _("Band deleted."))


@bp.post("/rate-tables/<int:product_id>/flat-premium")
@admin_only
def flat_premium(product_id: int):
    item = _product(product_id)
    return _act(item, "flat", lambda: services.set_flat_premium(
        item, load_form(FlatPremiumSchema()).get("flat_premium")), _("Flat premium saved."))


@bp.post("/rate-tables/<int:product_id>/loadings")
@admin_only
def loading(product_id: int):
    item = _product(product_id)

    def save():
        data = load_form(LoadingSchema())
        services.set_loading(item, data["frequency"], data["loading"])

    return _act(item, "loading", save, _("Loading saved."))


def _product(product_id: int) -> Product:
    return db.session.get(Product, product_id) or abort(404)


def _row(product_id: int, row_id: int) -> RateRow:
    row = db.session.get(RateRow, row_id)
    if row is None or row.product_id != product_id:
        abort(404)
    return row


def _act(item: Product, form, action, message: str):
    """Run ``action``; commit and go back to the product's table, or show it again with the refused form's messages
    (422), nothing written."""
    try:
        action()
    except ma.ValidationError as exc:
        db.session.rollback()
        return _page(item, errors=flatten_messages(exc.normalized_messages()), failed=form, status=422)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".product", product_id=item.id))


def _page(item: Product, *, errors: dict | None = None, failed=None, status: int = 200):
    settings = services.settings_of(item)
    return render_template(
        "pipeline/rate_table.html", product=item, rows=services.rate_rows(item), errors=errors or {}, failed=failed,
        form=request.form if errors else {}, flat_premium=settings.flat_premium if settings else None,
        loadings=services.loadings_of(item)), status
