"""The JSON API under ``/api/v1`` (flask-smorest): base schemas, list arguments, error shape."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import marshmallow as ma
from flask import g
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import ValidationError, fields, post_dump
from sqlalchemy import Select, asc, desc, func, select

from insurecrm.auth import load_api_user
from insurecrm.db import db
from insurecrm.errors import handle_http_exception
from insurecrm.pii import must_pseudonymise, scrub


class Api(SmorestApi):
    """flask-smorest's Api, answering errors in the project's JSON shape."""

    def handle_http_exception(self, error):  # noqa: D401 - flask-smorest hook
        return handle_http_exception(error)



def api_blueprint(name: str, import_name: str, *, description: str) -> SmorestBlueprint:
    """A blueprint of the API: bearer-token authentication on every endpoint."""
    blp = SmorestBlueprint(name, import_name, url_prefix="/api/v1", description=description)
    blp.before_request(load_api_user)
    return blp


class Schema(ma.Schema):
    """Base of every API schema: unknown fields are an error; personal data is pseudonymised for
    roles that must not see it (see :mod:`insurecrm.pii`)."""

    #: the record kind used in pseudonyms, e.g. ``"policyholder"``
    pii_kind: str = "record"

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @post_dump(pass_original=True)
    def _pseudonymise(self, data: dict, original: Any, **_kwargs) -> dict:
        if must_pseudonymise():
            scrub(data, self.fields, self.pii_kind, getattr(original, "id", None))
        return data


class VersionedSchema(Schema):
    """For updates of records with optimistic locking: the client sends the ``version`` it loaded."""

    version = fields.Integer(required=True, metadata={"description": "The version you loaded; stale → 409."})


class MoneyField(fields.Decimal):
    """A money amount: Decimal with at most 2 decimal places, serialised as a string so no float ever
    touches it. More decimals are refused rather than silently rounded: ``"100.005"`` is a typo, not a price."""

    default_error_messages = {"too_precise": "Use at most 2 decimal places.",
                              "too_large": "Must be less than 1,000,000,000,000."}
    #: Numeric(14, 2) holds 12 digits before the point
    LIMIT = Decimal("1000000000000")

    def __init__(self, **kwargs):
        super().__init__(places=2, as_string=True, allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            exact = Decimal(str(value))
            too_precise = exact.is_finite() and exact != exact.quantize(Decimal("0.01"))
            too_large = exact.is_finite() and abs(exact) >= self.LIMIT
        except (ArithmeticError, ValueError, TypeError):
            too_precise = too_large = False  # not a usable number: the Decimal field reports it
        if too_precise:
            raise self.make_error("too_precise")
        if too_large:
            raise self.make_error("too_large")
        return super()._deserialize(value, attr, data, **kwargs)


def Money(**kwargs) -> fields.Decimal:  # noqa: N802 - reads like a field class
    return MoneyField(**kwargs)


def Rate(**kwargs) -> fields.Decimal:  # noqa: N802
    return fields.Decimal(places=4, as_string=True, allow_nan=False, **kwargs)


def partial(schema_cls: type[ma.Schema]) -> ma.Schema:
    """An instance of ``schema_cls`` for PATCH: every field optional, no defaults filled in."""
    schema = schema_cls(partial=True)
    for field in schema.load_fields.values():
        field.load_default = ma.missing
    return schema


class ListArgs(ma.Schema):
    """Query arguments shared by every list endpoint: paging and sorting."""

    class Meta:
        unknown = ma.RAISE

    page = fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))
    sort = fields.String(
        load_default=None, metadata={"description": "Comma-separated fields; a leading '-' sorts descending."}
    )


def apply_sort(stmt: Select, model: type, sort: str | None, allowed: set[str], default: str = "id") -> Select:
    """Order ``stmt`` by the ``sort`` argument, accepting only ``allowed`` columns (422 otherwise)."""
    keys = [k.strip() for k in (sort or default).split(",") if k.strip()]
    for key in keys:
        name = key.lstrip("-")
        if name not in allowed:
            raise ValidationError({"sort": [f"Cannot sort by '{name}'. Allowed: {', '.join(sorted(allowed))}."]})
        column = getattr(model, getattr(model, "__sort_columns__", {}).get(name, name))
        stmt = stmt.order_by(desc(column) if key.startswith("-") else asc(column))
    return stmt.order_by(model.id)


def paginate(stmt: Select, args: dict) -> tuple[list, dict]:
    """Run one page of ``stmt``; returns the rows and the pagination metadata for the response."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page, per_page = args["page"], args["per_page"]
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return items, {"total": total, "page": page, "per_page": per_page, "pages": -(-total // per_page) if total else 0}


@cache
def page_envelope(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """A response schema ``{"items": [...], "meta": {...}}`` for ``item_schema`` (one class per item schema,
    so that OpenAPI sees one component however many endpoints list it)."""
    name = item_schema.__name__.removesuffix("Schema") + "Page"
    return type(name, (ma.Schema,), {
        "items": fields.List(fields.Nested(item_schema)),
        "meta": fields.Nested(PageMeta),
    })


class PageMeta(ma.Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


def current_user():
    """The user of the current API request (set by :func:`insurecrm.auth.load_api_user`)."""
    return g.user
