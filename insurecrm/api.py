"""The JSON API under ``/api/v1`` (flask-smorest): base schemas and fields, list arguments, error shape.

Input rules hold here once for every endpoint (docs/api.md): integers fit the database's INTEGER and are
never coerced from ``1.5`` or ``true``; text carries no NUL and no lone surrogate; dates and instants lie in a
sane window around today; a body is a JSON object sent as ``application/json``; a path id beyond the
database's range is a 404. The OpenAPI description says the same (see :class:`Api`).
"""

from __future__ import annotations

import json
import numbers
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import marshmallow as ma
from dateutil.relativedelta import relativedelta
from flask import g, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import ValidationError, fields, post_dump
from sqlalchemy import Select, asc, desc, func, select
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.routing import IntegerConverter

from insurecrm import clock
from insurecrm.api_dump import FastDump
from insurecrm.auth import load_api_user
from insurecrm.db import db
from insurecrm.errors import handle_http_exception
from insurecrm.pii import must_pseudonymise, scrub
from insurecrm.validation_messages import catalogue_text

#: the range of the database's INTEGER (PostgreSQL's int4), the type of every id, version and count column
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: the limit of free text (notes, descriptions, summaries: TEXT columns)
LONG_TEXT = ma.validate.Length(max=10_000)
_DIGITS = re.compile(r"[+-]?[0-9]{1,30}")


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in every route: an id the database cannot hold matches no route, so it is a 404 like any
    other id that does not exist (instead of an overflow in the driver)."""

    def __init__(self, map, *args, min=1, max=INT_MAX, **kwargs):  # noqa: A002 - werkzeug's names
        super().__init__(map, *args, min=min, max=max, **kwargs)


@cache
def _schema_instance(schema_class: type[ma.Schema]) -> ma.Schema:
    return schema_class()


class ArgumentsParser(FlaskParser):
    """webargs' parser, stricter about bodies: an operation that takes a body needs a JSON object sent as
    ``application/json`` (no body, a form or text is a 422, not an empty update), and JSON that Python cannot
    read — nested 100,000 deep, a number of 5,000 digits — is a 422 like any other broken JSON."""

    NEEDS_JSON = "Send the body as a JSON object with Content-Type: application/json."

    def _get_schema(self, argmap, req) -> ma.Schema:
        # webargs makes a schema from a schema class at every request (560 calls for a list's arguments); one
        # instance per class serves every request: loading keeps no state in the schema
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _schema_instance(argmap)
        return super()._get_schema(argmap, req)

    def load_json(self, req, schema):
        body = req.get_data(cache=True)
        if not is_json_request(req) or not body.strip():
            abort(422, messages={"json": [self.NEEDS_JSON]})
        try:
            return webargs_core.parse_json(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            abort(422, messages={"json": ["Not valid JSON."]})
        except RecursionError:
            abort(422, messages={"json": ["The JSON is nested too deeply."]})
        except ValueError as exc:  # e.g. an integer beyond Python's digit limit
            abort(422, messages={"json": [f"Not usable JSON: {exc}"]})


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = ArgumentsParser()


def api_blueprint(name: str, import_name: str, *, description: str) -> Blueprint:
    """A blueprint of the API: bearer-token authentication on every endpoint."""
    blp = Blueprint(name, import_name, url_prefix="/api/v1", description=description)
    blp.before_request(_reads_in_autocommit)
    blp.before_request(load_api_user)
    return blp


# -- fields ---------------------------------------------------------------------------------------------

def _validators(validate) -> list:
    if validate is None:
        return []
    return list(validate) if isinstance(validate, list | tuple) else [validate]


class Integer(fields.Integer):
    """An integer the database can hold (INTEGER, unless narrower bounds are given).

    ``strict`` (the default, for JSON bodies): only a JSON integer — ``1.5``, ``true`` and ``"1"`` are refused
    rather than read as 1. Query strings and forms (non-strict) may send digits, and still nothing else.
    """

    def __init__(self, *, minimum: int = INT_MIN, maximum: int = INT_MAX, strict: bool = True, validate=None,
                 **kwargs):
        validators = _validators(validate)
        bounded = any(isinstance(v, ma.validate.Range) and v.min is not None and v.max is not None
                      and v.min >= INT_MIN and v.max <= INT_MAX for v in validators)
        if not bounded:
            validators.append(ma.validate.Range(min=minimum, max=maximum))
        super().__init__(strict=strict, validate=validators, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if not self.strict and isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            return int(value)
        raise self.make_error("invalid", input=value)


def Id(**kwargs) -> Integer:  # noqa: N802 - reads like a field class
    """A record id (or a reference to one): 1 to the database's INTEGER maximum."""
    return Integer(minimum=1, **kwargs)


def Version(**kwargs) -> Integer:  # noqa: N802
    """The optimistic-locking version a client loaded."""
    kwargs.setdefault("metadata", {"description": "The version you loaded; stale → 409."})
    return Integer(minimum=0, **kwargs)


class Text:
    """Validator of every string field (added by :class:`Schema`): no NUL character (PostgreSQL cannot
    store one), no lone surrogate (no database encoding can)."""

    def __call__(self, value: str) -> str:
        if "\x00" in value:
            raise ValidationError(gettext("Must not contain the NUL character."))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(gettext("Must be valid Unicode text (no lone surrogates).")) from None
        return value


TEXT = Text()


def _years(since: date | datetime, years: int):
    return since + relativedelta(years=years)


#: a date or an instant outside its field's window
OUT_OF_WINDOW = catalogue_text(_l("Must be between {earliest} and {latest}."))


class _Window:
    """A date or instant field accepted only within ``past_years`` before and ``future_years`` after today,
    so that nothing stored can break a page, a time-zone conversion or a report later."""

    past_years: int
    future_years: int

    def _window_text(self) -> str:
        if self.past_years and self.future_years:
            return f"Within {self.past_years} years before and {self.future_years} years after today."
        if self.past_years:
            return f"Within the past {self.past_years} years, not in the future."
        return f"Today or within the next {self.future_years} years."

    def _document(self, kwargs: dict) -> None:
        metadata = dict(kwargs.get("metadata") or {})
        metadata["description"] = " ".join(filter(None, [metadata.get("description"), self._window_text()]))
        kwargs["metadata"] = metadata


class Date(_Window, fields.Date):
    """A calendar date within a window around today (defaults: 100 years either way)."""

    default_error_messages = {"out_of_window": OUT_OF_WINDOW}

    def __init__(self, *, past_years: int = 100, future_years: int = 100, **kwargs):
        self.past_years, self.future_years = past_years, future_years
        self._document(kwargs)
        super().__init__(**kwargs)

    def window(self) -> tuple[date, date]:
        today = clock.today()
        return _years(today, -self.past_years), _years(today, self.future_years)

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        earliest, latest = self.window()
        if not earliest <= day <= latest:
            raise self.make_error("out_of_window", earliest=earliest.isoformat(), latest=latest.isoformat())
        return day


class Instant(_Window, fields.AwareDateTime):
    """An instant (a time without a zone is taken as UTC) within a window around now (defaults: 100 years)."""

    default_error_messages = {"out_of_window": OUT_OF_WINDOW}

    def __init__(self, *, past_years: int = 100, future_years: int = 100, **kwargs):
        self.past_years, self.future_years = past_years, future_years
        self._document(kwargs)
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        try:
            instant = super()._deserialize(value, attr, data, **kwargs)
        except OverflowError:  # a local time at the ends of the calendar cannot be moved to UTC
            raise self.make_error("invalid", input=value, obj_type="datetime") from None
        now = clock.now()
        earliest, latest = _years(now, -self.past_years), _years(now, self.future_years)
        if not earliest <= instant <= latest:
            raise self.make_error("out_of_window", earliest=earliest.date().isoformat(),
                                  latest=latest.date().isoformat())
        return instant


def _guard_text(field: fields.Field) -> None:
    """Add :data:`TEXT` to ``field`` and to the string fields inside it (list items, dict keys and values)."""
    if isinstance(field, fields.String) and TEXT not in field.validators:
        field.validators.append(TEXT)
    for inner in (getattr(field, "inner", None), getattr(field, "key_field", None),
                  getattr(field, "value_field", None), *getattr(field, "tuple_fields", ())):
        if inner is not None:
            _guard_text(inner)


def _reads_in_autocommit() -> None:
    """A GET of the API only reads: its queries run without a transaction around them (each sees the latest
    committed data), which saves the ``BEGIN`` and ``ROLLBACK`` round trips of every request."""
    if request.method in ("GET", "HEAD"):
        db.read_without_transaction()


class Schema(FastDump, ma.Schema):
    """Base of every API schema: unknown fields are an error; every string is checked by :class:`Text`;
    personal data is pseudonymised for roles that must not see it (see :mod:`insurecrm.pii`)."""

    #: the record kind used in pseudonyms, e.g. ``"policyholder"``
    pii_kind: str = "record"

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        _guard_text(field_obj)

    @post_dump(pass_collection=True, pass_original=True)
    def _pseudonymise(self, data: dict | list[dict], original: Any, many: bool, **_kwargs) -> dict | list[dict]:
        # once per dump, not per item: a list of readers who see everything pays one check
        if data is not None and must_pseudonymise():
            for item, obj in zip(data, original, strict=True) if many else ((data, original),):
                scrub(item, self.fields, self.pii_kind, getattr(obj, "id", None))
        return data


def _accept_digits(field: fields.Field) -> None:
    for candidate in (field, getattr(field, "inner", None)):
        if isinstance(candidate, fields.Integer):
            candidate.strict = False


class NoFields(Schema):
    """No fields: the body of an operation that takes none is empty or ``{}``."""


def refuse_a_body() -> None:
    """For an operation without fields (a POST that only acts): no body, or ``{}``; anything else (an unknown
    field, a body that is not JSON) is a 422 that says what was wrong, before anything is done."""
    if not request.get_data(cache=True).strip():
        return
    data = request.get_json(silent=True) if request.is_json else None
    if data is None:
        raise ValidationError({"_schema": ["This operation takes no body (or {})."]})
    NoFields().load(data)


class ArgsSchema(Schema):
    """Base of query-string arguments: as :class:`Schema`, with integers read from their digits."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        _accept_digits(field_obj)


class VersionedSchema(Schema):
    """For updates of records with optimistic locking: the client sends the ``version`` it loaded."""

    version = Version(required=True)


class _Bounds:
    """A range check on a decimal string. Not a :class:`marshmallow.validate.Range`, so that apispec does not
    document ``"minimum": "0.00"`` (a string) on a string: the bounds go into the description instead."""

    def __init__(self, rng: ma.validate.Range):
        self.range = rng
        self.lower, self.upper = rng.min, rng.max

    def __call__(self, value):
        return self.range(value)

    def text(self) -> str:
        parts = []
        if self.lower is not None:
            parts.append(f"{'above' if not self.range.min_inclusive else 'at least'} {self.lower}")
        if self.upper is not None:
            parts.append(f"{'below' if not self.range.max_inclusive else 'at most'} {self.upper}")
        return " and ".join(parts)


class DecimalString(fields.Decimal):
    """An exact decimal, sent and returned as a string (``"1200.00"``) so that no float ever touches it.

    More decimals than ``places`` are refused rather than silently rounded (``"100.005"`` is a typo, not a
    price), and so is anything at or beyond ``limit`` (what the column holds). Numbers are read as well.
    """

    default_error_messages = {"too_precise": catalogue_text(_l("Use at most {places} decimal places.")),
                              "too_large": catalogue_text(_l("Must be less than {limit:,}."))}

    def __init__(self, *, places: int, limit: Decimal, validate=None, **kwargs):
        self.limit, self.decimal_places = limit, places
        validators = [_Bounds(v) if isinstance(v, ma.validate.Range) else v for v in _validators(validate)]
        bounds = [v.text() for v in validators if isinstance(v, _Bounds)]
        self.negative = not any(v.lower is not None and v.lower >= 0 for v in validators if isinstance(v, _Bounds))
        metadata = dict(kwargs.pop("metadata", None) or {})
        example = "1200.00" if places == 2 else "0.2000"
        sentence = f"A decimal string with up to {places} decimal places, e.g. \"{example}\""
        sentence += f"; {', '.join(bounds)}." if bounds else "."
        metadata["description"] = " ".join(filter(None, [metadata.get("description"), sentence]))
        super().__init__(places=places, as_string=True, allow_nan=False, validate=validators, metadata=metadata,
                         **kwargs)

    @property
    def pattern(self) -> str:
        digits = len(str(int(self.limit))) - 1
        return f"^{'-?' if self.negative else ''}[0-9]{{1,{digits}}}(\\.[0-9]{{1,{self.decimal_places}}})?$"

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            exact = Decimal(str(value))
            finite = exact.is_finite()
            too_large = finite and abs(exact) >= self.limit
            too_precise = finite and not too_large and exact != exact.quantize(self.places)
        except (ArithmeticError, ValueError, TypeError):
            too_precise = too_large = False  # not a usable number: the Decimal field reports it
        if too_large:
            raise self.make_error("too_large", limit=self.limit)
        if too_precise:
            raise self.make_error("too_precise", places=self.decimal_places)
        return super()._deserialize(value, attr, data, **kwargs)


#: Numeric(14, 2) holds 12 digits before the point
MONEY_LIMIT = Decimal("1000000000000")
#: Numeric(7, 4) holds 3 digits before the point
RATE_LIMIT = Decimal("1000")


def Money(**kwargs) -> DecimalString:  # noqa: N802 - reads like a field class
    """A money amount (Numeric(14, 2))."""
    return DecimalString(places=2, limit=MONEY_LIMIT, **kwargs)


def Rate(**kwargs) -> DecimalString:  # noqa: N802
    """A rate or a percentage (Numeric(7, 4))."""
    return DecimalString(places=4, limit=RATE_LIMIT, **kwargs)


def partial(schema_cls: type[ma.Schema]) -> ma.Schema:
    """An instance of ``schema_cls`` for PATCH: every field optional, no defaults filled in."""
    schema = schema_cls(partial=True)
    for field in schema.load_fields.values():
        field.load_default = ma.missing
    return schema


class ListArgs(ArgsSchema):
    """Query arguments shared by every list endpoint: paging and sorting."""

    page = Integer(load_default=1, minimum=1)
    per_page = Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))
    sort = fields.String(load_default=None, validate=ma.validate.Length(max=200),
                         metadata={"description": "Comma-separated fields; a leading '-' sorts descending."})


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


def paginate(stmt: Select, args: dict, *, rows: bool = False) -> tuple[list, dict]:
    """Run one page of ``stmt``; returns the objects (or, with ``rows``, the rows of a select of columns, which
    the schemas dump alike) and the pagination metadata for the response.

    The count rides in the page's own statement, as a subquery the database runs once (one round trip, not two);
    only a page past the end, which has no row to carry it, counts apart."""
    page, per_page = args["page"], args["per_page"]
    counted = stmt.add_columns(count_of(stmt).correlate(None).scalar_subquery().label("total_of_the_list"))
    page_stmt = counted.limit(per_page).offset((page - 1) * per_page)
    if rows:  # each row keeps the total as its last column (a schema dumps only its fields)
        found = items = db.session.execute(page_stmt).all()
    else:  # unique(): a collection joined-eager-loaded with the page repeats the rows of its object
        found = db.session.execute(page_stmt).unique().all()
        items = [row[0] for row in found]
    if found:
        total = found[0][-1]
    else:
        total, items = db.session.scalar(count_of(stmt)), []
    return items, {"total": total, "page": page, "per_page": per_page, "pages": -(-total // per_page) if total else 0}


def count_of(stmt: Select) -> Select:
    """``SELECT count(*)`` of the rows ``stmt`` gives: over its own FROM and WHERE when it is a plain select (the
    database does not build the rows' columns, a list's tags among them), else over ``stmt`` as a subquery."""
    # SQLAlchemy keeps these clauses without public getters; any of them changes what count(*) would count
    if stmt._group_by_clauses or stmt._distinct or stmt._having_criteria or stmt._limit_clause is not None \
            or stmt._offset_clause is not None:
        return select(func.count()).select_from(stmt.order_by(None).subquery())
    return stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)


@cache
def page_envelope(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """A response schema ``{"items": [...], "meta": {...}}`` for ``item_schema`` (one class per item schema,
    so that OpenAPI sees one component however many endpoints list it)."""
    name = item_schema.__name__.removesuffix("Schema") + "Page"
    return type(name, (ma.Schema,), {
        "items": fields.Nested(item_schema, many=True),  # one dump of the page (its hooks once, not per item)
        "meta": fields.Nested(PageMeta),
    })


class PageMeta(ma.Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


class ErrorSchema(ma.Schema):
    """Every error the API answers: ``error`` names the status; ``message`` says what happened; invalid input
    has ``errors`` instead, by field (a list's items by index)."""

    error = fields.String(required=True, metadata={"example": "Unprocessable Entity"})
    message = fields.String(metadata={"example": "The record was changed by someone else since you loaded it."})
    errors = fields.Dict(keys=fields.String(), metadata={
        "description": "Messages by field: a list of texts, or (for list items and nested records) "
                       "messages by index or sub-field.",
        "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}},
                                           {"type": "object"}]},
        "example": {"name": ["Missing data for required field."]}})


#: status → why an operation may answer it; 422 is documented by flask-smorest where an operation takes input
ERROR_STATUSES = {
    401: "No valid bearer token.",
    403: "Your role may not use this operation.",
    404: "The record does not exist, or is not in your book.",
    409: "The record changed since you loaded it, or a concurrent write conflicts; reload and retry.",
    422: "Invalid input: the messages are by field.",
    429: "Too many attempts; wait a minute.",
}
_PUBLIC_PATHS = {("/api/v1/auth/token", "post"), ("/api/v1/openapi.json", "get")}


def _decimal_strings(self, field, ret, **kwargs) -> dict:
    """apispec attribute function: a :class:`DecimalString` is a string with a pattern, not a number."""
    if isinstance(field, DecimalString):
        return {"type": "string", "format": "decimal", "pattern": field.pattern}
    if isinstance(field, fields.Enum) and "type" not in ret:
        return {"type": "string"}
    return {}


class Api(SmorestApi):
    """flask-smorest's Api, answering errors in the project's JSON shape and documenting them as sent.

    Every operation lists the statuses it can answer (no catch-all ``default``): 401 unless public, 403 and
    429 where they apply, 404 where the path names a record, 409 on writes, 422 where there is input. Public
    operations say so (``security: []``); every other one needs the bearer token.
    """

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def init_app(self, app, *, spec_kwargs=None):
        app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.register_converter(DatabaseIdConverter, _id_param_schema)
        self.ma_plugin.converter.add_attribute_function(_decimal_strings)

    def handle_http_exception(self, error):  # noqa: D401 - flask-smorest hook
        return handle_http_exception(error)

    def register_blueprint(self, blp, *, parameters=None, **options):
        before = set(self.spec._paths)
        super().register_blueprint(blp, parameters=parameters, **options)
        for path in set(self.spec._paths) - before:
            for method, operation in self.spec._paths[path].items():
                if method in {"get", "post", "put", "patch", "delete"}:
                    self._document_errors(path, method, operation)

    def _document_errors(self, path: str, method: str, operation: dict) -> None:
        responses = operation.setdefault("responses", {})
        public = (path, method) in _PUBLIC_PATHS or path.endswith("/openapi.json")
        statuses = set()
        if public:
            operation["security"] = []
        else:
            statuses |= {401, 403}
        if "{" in path:
            statuses.add(404)
        if method in {"post", "put", "patch", "delete"} and not public:
            statuses.add(409)
        if operation.get("parameters") or operation.get("requestBody") or "422" in responses:
            statuses.add(422)
        if (path, method) == ("/api/v1/auth/token", "post"):
            statuses |= {401, 429}  # wrong credentials; the login rate limit
        if (path, method) == ("/api/v1/auth/token", "delete"):
            statuses.discard(403)
        for status in sorted(statuses):
            responses[str(status)] = {
                "description": ERROR_STATUSES[status],
                "content": {"application/json": {"schema": self.spec.components.get_ref("schema", "Error")}},
            }


def _id_param_schema(converter: DatabaseIdConverter) -> dict:
    return {"type": "integer", "minimum": converter.min, "maximum": converter.max}


def current_user():
    """The user of the current API request (set by :func:`insurecrm.auth.load_api_user`)."""
    return g.user
