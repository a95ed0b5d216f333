"""Policies API: products (the pattern every resource follows), policies and what hangs off them."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import or_

import policies.permissions  # noqa: F401 - registers the scope rules
from insurecrm.api import api_blueprint, apply_sort, page_envelope, paginate
from insurecrm.auth import INTERNAL_ROLES, require_roles
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from policies import services
from policies.models import Product
from policies.schemas import ProductArgs, ProductSchema, ProductUpdateSchema, partial

products_blp = api_blueprint("products_api", __name__, description="Products (险种).")
API_BLUEPRINTS = (products_blp,)

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

    @products_blp.arguments(ProductSchema)
    @products_blp.response(201, ProductSchema)
    @require_roles(Role.ADMIN)
    def post(self, data):
        """Create a product (admins)."""
        product = services.create_product(data)
        db.session.commit()
        return product


@products_blp.route("/products/<int:product_id>")
class ProductItem(MethodView):
    @products_blp.response(200, ProductSchema)
    @require_roles(*INTERNAL_ROLES, Role.BANK_REFERRER)
    def get(self, product_id):
        """One product."""
        return get_visible_or_404(Product, product_id)

    @products_blp.arguments(partial(ProductUpdateSchema))
    @products_blp.response(200, ProductSchema)
    @require_roles(Role.ADMIN)
    def patch(self, data, product_id):
        """Change a product's terms (admins)."""
        product = services.update_product(get_visible_or_404(Product, product_id), data)
        db.session.commit()
        return product

    @products_blp.response(204)
    @require_roles(Role.ADMIN)
    def delete(self, product_id):
        """Delete an unused product (admins); one with policies answers 409."""
        services.delete_product(get_visible_or_404(Product, product_id))
        db.session.commit()
