"""The JSON API under ``/api/v1`` (flask-smorest): base schemas, list arguments, error shape."""

from __future__ import annotations

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


def Money(**kwargs) -> fields.Decimal:  # noqa: N802 - reads like a field class
    """A money amount: Decimal with 2 places, serialised as a string so no float ever touches it."""
    return fields.Decimal(places=2, as_string=True, allow_nan=False, **kwargs)


def Rate(**kwargs) -> fields.Decimal:  # noqa: N802
    return fields.Decimal(places=4, as_string=True, allow_nan=False, **kwargs)


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
        column = getattr(model, name)
        stmt = stmt.order_by(desc(column) if key.startswith("-") else asc(column))
    return stmt.order_by(model.id)


def paginate(stmt: Select, args: dict) -> tuple[list, dict]:
    """Run one page of ``stmt``; returns the rows and the pagination metadata for the response."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page, per_page = args["page"], args["per_page"]
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return items, {"total": total, "page": page, "per_page": per_page, "pages": -(-total // per_page) if total else 0}


def page_envelope(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """A response schema ``{"items": [...], "meta": {...}}`` for ``item_schema``."""
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
