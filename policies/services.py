"""Business rules of the policies domain, shared by the API, web pages, CLI, imports and scheduler.

Services validate, change and ``flush``; the caller commits (one commit per request or job).
"""

from __future__ import annotations

from sqlalchemy import exists, select
from werkzeug.exceptions import Conflict

from insurecrm.db import db
from marshmallow import ValidationError
from policies.models import Policy, Product


def create_product(data: dict) -> Product:
    """Create a product; refuses a code already in use (422)."""
    if db.session.scalar(select(exists().where(Product.code == data["code"]))):
        raise ValidationError({"code": [f"A product with code {data['code']} already exists."]})
    product = Product(**data)
    db.session.add(product)
    db.session.flush()
    return product


def update_product(product: Product, data: dict) -> Product:
    """Change a product's terms; refuses a code already used by another product (422)."""
    if "code" in data and data["code"] != product.code and db.session.scalar(
        select(exists().where(Product.code == data["code"]))
    ):
        raise ValidationError({"code": [f"A product with code {data['code']} already exists."]})
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
