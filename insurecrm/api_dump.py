"""A faster ``Schema.dump`` for the API's objects, with marshmallow's own results.

Marshmallow pulls every value of every object through five calls (``Field.serialize`` → ``Field.get_value`` →
``Schema.get_attribute`` → ``utils.get_value`` → ``getattr``) and then one to three more to format it
(``Enum._serialize`` → ``Raw._serialize``, ``Number._serialize`` → ``_format_num``): a list of 20 policyholders
of 32 fields makes some 7,000 calls per request. What those calls decide depends only on the schema's fields,
so :class:`FastDump` decides it once per schema instance — a *plan*: for each field whose class keeps
marshmallow's ``serialize`` and ``get_value``, read the attribute with ``getattr``, then format the value

* with a formatter specialised to the field's exact class (:func:`_formatter`) when that class keeps the
  serialisation of a marshmallow type whose result is known — String (and Email, Url), Integer and Float,
  Decimal, Boolean and Raw (as they are: marshmallow 4 does not convert a dumped boolean), Enum (by name, or
  by value with a field that has a formatter itself), and Date, DateTime, AwareDateTime, NaiveDateTime and Time
  in the ``iso`` format. Each reproduces that class's ``_serialize`` line for line with the field's own
  settings (``as_string``, ``places``, ``rounding``, ``allow_nan``, ``by_value``, the very function of its
  ``SERIALIZATION_FUNCS``), ``None`` included, and is checked value by value against marshmallow in
  ``tests/test_api_dump_formats.py``;
* with the field's own ``_serialize`` otherwise — a class that overrides ``_serialize``, ``_format_num`` or
  ``_to_string`` (``MaskedIdNumber``, ``TagList``, ``Nested``, ``List`` ...) or another format.

Any other field, and any object that is a mapping or otherwise indexable, goes the way marshmallow goes
(``utils.get_value`` tries ``obj[key]`` before the attribute) — except a SQLAlchemy ``Row`` (of a Core
``select``): indexing a ``Row`` with a field's name always raises ``TypeError``, upon which marshmallow reads
the attribute, so reading the attribute directly gives the same answer, and a view that dumps Rows takes the
plan as ORM objects do. ``tests/demo/test_api_dump.py`` checks that both paths give the same answer for
every read of the API.

Measured on ``PolicyholderSchema(many=True)`` over 20 policyholders (best of 7): marshmallow alone 838 µs;
the plan with every value through its field's ``_serialize`` 433 µs; with the formatters 314 µs (2,300 calls).
The same 20 as ``Row`` objects: 1,589 µs before (marshmallow's path), 586 µs now, of which some 0.43 µs per
value is the ``Row``'s own ``__getattr__``.

**Written code.** Walking the plan still costs, per value, a tuple unpacked, a read through ``getattr`` or a
``Row``'s ``_asdict()`` (4.6 µs a Row of 36 columns), a formatter called, a dict item stored. So from a schema
instance's second dump (or first list) on, the plan is written out as Python code (:func:`_written`,
:func:`_binder`), one function per instance for objects and one per layout of Rows (``Row._fields``), each the
plan's loop unrolled into straight-line code: ``v3 = obj.name`` for an attribute that is a plain identifier
(``getattr`` with the name as a constant otherwise), or for a Row all its values unpacked at once by position
(``c0, c1, _, c3, ... = row``); the simplest formatters inlined from what they declare (``inline``) — the value as
it is, ``v if type(v) is str or v is None else _string(v)`` (Integer and Float alike), an enum member's
``_value_`` when the plan found it safe, ``None`` or the ``iso`` function — and any other formatter, a field's own
``serialize`` and the ``dump_default`` of a missing value called as ``_dump`` calls them; the result one dict
display in the plan's order. The code is compiled once per *shape* of plan (how each field is read and
formatted; no key, name or value of the data is ever written into it) and each instance binds its own fields,
keys and formatters to it as closure values. ``tests/test_api_dump_written.py`` compares the written functions
with ``_dump`` and marshmallow, key order and value types included, for every schema of the API.

Same measure (the list dumped, best of 12 in one process): 20 Rows of the list's select (36 columns, tags as a
list of strings, the count as the last column) 267 → 130 µs; 20 ORM objects 342 → 266 µs, of which some 130 µs
are SQLAlchemy's own attribute reads and 55 µs ``datetime.isoformat`` of two aware datetimes and a date. Unpacking a
Row at once rather than indexing it (``row[i]``) saves 1 %; looping over a list's items inside the written code instead
of calling it per item saved 3 % more on Rows, and was left out. Binding an instance's functions costs 15 µs (a
shape's first compilation 2 ms).
"""

from __future__ import annotations

import decimal
import enum
import itertools
import keyword
import linecache
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache, partial
from types import FunctionType
from typing import Any

import marshmallow as ma
from marshmallow import fields
from marshmallow.utils import ensure_text_type, missing
from sqlalchemy.engine import Row

_GENERIC_SERIALIZE = fields.Field.serialize
_GENERIC_GET_VALUE = fields.Field.get_value

#: a formatter: the field's ``_serialize`` with the same arguments, or a function of the value (and the
#: arguments it ignores) that returns what that ``_serialize`` returns
Formatter = Callable[[Any, str, Any], Any]

#: in a plan, "dump the value as it is" (``Field._serialize``, which Boolean and Raw keep): no call at all
AS_IS = None


class FastDump:
    """Mixin of a marshmallow schema: ``_serialize`` follows a plan made once per schema instance.

    The plan and the functions written from it are kept in the instance's ``__dict__`` (``_dump_plan``,
    ``_dumper``): a schema's fields are bound when it is made and the API does not change them afterwards.
    """

    def _serialize(self, obj: Any, *, many: bool = False):
        dumper = self.__dict__.get("_dumper")
        if dumper is None:
            dumper = self._dumper = _Dumper(self)
        if many and obj is not None:
            return dumper.many(obj)
        return dumper.one(obj)


class _Dumper:
    """How one schema instance dumps: marshmallow's way for a mapping or another indexable object; otherwise by
    functions written from its plan (:func:`_written`) — one for objects read by attribute, one per layout
    (``Row._fields``) of the Rows met — except its first dump of one object, which goes by the plan itself
    (:func:`_dump`): an instance made for one dump (a form's values) writes nothing."""

    __slots__ = ("schema", "plan", "generic", "by_plan", "objects", "layouts", "seen")

    #: Row layouts kept per schema instance (one per statement whose rows it dumps)
    LAYOUTS = 16

    def __init__(self, schema: ma.Schema) -> None:
        self.schema = schema
        self.plan = schema._dump_plan = _plan(schema)
        self.generic = super(FastDump, schema)._serialize
        self.by_plan = partial(_dump, schema, self.plan)
        self.objects: Callable[[Any], dict] | None = None
        self.layouts: dict[tuple[str, ...], Callable[[Any], dict]] = {}
        self.seen = False

    def one(self, obj: Any) -> dict:
        if _indexable(obj):
            return self.generic(obj, many=False)
        if not self.seen:
            self.seen = True
            return self.by_plan(obj)
        if isinstance(obj, Row):
            return self.row_dumper(obj)(obj)
        return (self.objects or self.object_dumper())(obj)

    def many(self, items: Iterable[Any]) -> list[dict]:
        self.seen = True
        objects, one = self.objects, self.one
        dumped = []
        append = dumped.append
        result = dump_row = None
        for item in items:
            cls = type(item)
            if cls is Row:
                # the Rows of one result share its metadata (SQLAlchemy's ``Row._parent``), hence one layout; a
                # Row of another result finds its own by its public ``Row._fields``
                if item._parent is not result:
                    result, dump_row = item._parent, self.row_dumper(item)
                append(dump_row(item))
            elif cls in _PLAIN_CLASSES and item.__class__ is cls:
                if objects is None:
                    objects = self.object_dumper()
                append(objects(item))
            else:
                append(one(item))
        return dumped

    def object_dumper(self) -> Callable[[Any], dict]:
        """The function that dumps an object read by attribute, written at the first such object."""
        if self.objects is None:
            self.objects = _written(self.schema, self.plan) or self.by_plan
        return self.objects

    def row_dumper(self, row: Row) -> Callable[[Any], dict]:
        """The function that dumps the Rows of ``row``'s layout, written at the layout's first Row; the plan itself
        for a subclass of Row, or a layout whose names repeat or do not name every column."""
        if type(row) is not Row:
            return self.by_plan
        columns = row._fields
        dump = self.layouts.get(columns)
        if dump is None:
            if len(columns) != len(row) or len(set(columns)) != len(columns):
                dump = self.by_plan  # by name, as Row._asdict() reads them
            else:
                dump = _written(self.schema, self.plan, columns) or self.by_plan
            if len(self.layouts) >= self.LAYOUTS:
                self.layouts.clear()
            self.layouts[columns] = dump
        return dump


#: the classes met whose instances are read by attribute (neither a mapping nor indexable, nor a ``Row``): what
#: decides it depends on the class alone, and the checks (an ABC's ``isinstance``, a failing ``hasattr``) cost
#: some 0.35 µs
_PLAIN_CLASSES: set[type] = set()


def _indexable(obj: Any) -> bool:
    """Whether marshmallow would look ``obj``'s values up by ``obj[key]`` first (a mapping or any object with
    ``__getitem__``), which a SQLAlchemy ``Row`` answers the same as by attribute (see the module's docstring).

    An object whose ``__class__`` is not its type (a proxy) is checked each time, as ``isinstance`` reads both.
    """
    cls = type(obj)
    if cls in _PLAIN_CLASSES and obj.__class__ is cls:
        return False
    row = isinstance(obj, Row)
    indexable = isinstance(obj, Mapping) or (hasattr(cls, "__getitem__") and not row)
    if not indexable and not row and obj.__class__ is cls:
        _PLAIN_CLASSES.add(cls)
    return indexable


def _dump(schema: ma.Schema, plan: list[tuple], obj: Any) -> dict:
    """One object dumped by the plan: what ``ma.Schema._serialize(obj)`` gives, key for key in the same order."""
    result = schema.dict_class()
    # a Row's values by name from one dict (a Row's own attribute look-up costs four times as much)
    read = obj._asdict().get if isinstance(obj, Row) else partial(getattr, obj)
    for key, attribute, formatter, field, attr_name in plan:
        if attribute is None:  # a field with its own way of getting its value
            value = field.serialize(attr_name, obj, accessor=schema.get_attribute)
            if value is not missing:
                result[key] = value
            continue
        value = read(attribute, missing)
        if value is missing:
            default = field.dump_default
            value = default() if callable(default) else default
            if value is missing:
                continue
        if formatter is not AS_IS:
            value = formatter(value, attr_name, obj)
            if value is missing:  # only a field's own _serialize may answer that
                continue
        result[key] = value
    return result


def _dumped_default(field: fields.Field, formatter: Formatter | None, attr_name: str, obj: Any) -> Any:
    """A field without a value: its ``dump_default`` (called if callable), formatted — ``missing``: no key."""
    default = field.dump_default
    value = default() if callable(default) else default
    if value is missing or formatter is AS_IS:
        return value
    return formatter(value, attr_name, obj)


def _written(schema: ma.Schema, plan: list[tuple], columns: tuple[str, ...] | None = None
             ) -> Callable[[Any], dict] | None:
    """A function written from ``plan`` that dumps one object as ``_dump(schema, plan, obj)`` does: an object read
    by attribute, or (``columns``: its ``Row._fields``) a Row read by position; ``None`` when the schema's
    ``dict_class`` is not ``dict`` (the plan itself serves then).

    The code depends only on the plan's *shape* — how each field is read and formatted — and is compiled once per
    shape (:func:`_binder`); what varies from one schema to another (keys, fields, formatters, attribute names that
    are not plain identifiers) reaches it as values of its closure.
    """
    if schema.dict_class is not dict:
        return None
    positions = None if columns is None else {name: i for i, name in enumerate(columns)}
    constants = [missing, _dumped_default, schema.get_attribute]  # in the order of _binder's names
    shape = []
    for key, attribute, formatter, field, attr_name in plan:
        constants += (key, field, attr_name, formatter)
        if attribute is None:  # the field's own serialize
            read = None
        elif positions is not None:
            read = positions.get(attribute, -1)  # -1: not a column of the Row
        elif attribute.isascii() and attribute.isidentifier() and not keyword.iskeyword(attribute):
            read = attribute  # written as obj.<attribute>
        else:
            read = ""  # getattr(obj, attribute<k>, missing)
            constants.append(attribute)
        step, fast = _step(formatter)
        if step in _FAST_STEPS:
            constants.append(fast)
        shape.append((read, step))
    return _binder(None if columns is None else len(columns), tuple(shape))(constants)


def _step(formatter: Formatter | None) -> tuple[str, Any]:
    """How the written code formats a value: ``as_is``; the fast path a specialised formatter declares in its
    ``inline`` attribute (``same_type``, ``member_value``, ``none_or_call``) with its constant; or ``call``."""
    if formatter is AS_IS:
        return "as_is", None
    inline = formatter.__dict__.get("inline") if isinstance(formatter, FunctionType) else None
    return inline or ("call", None)


#: the steps with a constant of their own (``fast<k>``)
_FAST_STEPS = ("same_type", "member_value", "none_or_call")

#: shapes written so far, for the names of their code in tracebacks
_WRITTEN = itertools.count(1)


@lru_cache(maxsize=256)
def _binder(width: int | None, shape: tuple[tuple[int | str | None, str], ...]) -> Callable[..., Callable]:
    """The compiled code of a plan's shape: ``bind(constants)`` returns ``dump(obj)``, the plan unrolled.

    ``width``: ``None`` for objects read by attribute, else the number of a Row's columns; ``shape``: for each field
    in order, how its value is read — ``None`` by the field's own ``serialize``, a column's position (``-1``: none),
    an attribute that is a plain identifier (``obj.name``), or ``""`` (``getattr`` with the name as a constant) —
    and its step (:func:`_step`). Each value goes into the local ``v<k>``; a field without one takes its
    ``dump_default`` as in ``_dump``; the result is one dict display in the plan's order, or, when some value is
    ``missing`` (``skipped``), the same without those keys. Nothing but these integers, identifiers and step
    names is written into the code.
    """
    body = ["skipped = False"]
    if width is not None:  # a Row's values, unpacked at once (c<i>: column i; _ the columns no field reads)
        used = {read for read, _how in shape if type(read) is int and read >= 0}
        if used:
            body.append(", ".join(f"c{i}" if i in used else "_" for i in range(width)) + ", = obj")
    for k, (read, step) in enumerate(shape):
        v = f"v{k}"
        skip = [f"if {v} is missing:", "    skipped = True"]
        if read is None:
            body += [f"{v} = field{k}.serialize(name{k}, obj, accessor=get_attribute)", *skip]
            continue
        default = [f"{v} = dumped_default(field{k}, format{k}, name{k}, obj)", *skip]
        if read == -1:
            body += default
            continue
        if type(read) is int:
            body.append(f"{v} = c{read}")
        elif read:
            body += ["try:", f"    {v} = obj.{read}", "except AttributeError:", f"    {v} = missing"]
        else:
            body.append(f"{v} = getattr(obj, attribute{k}, missing)")
        formatted = {
            "as_is": [],
            "same_type": [f"{v} = {v} if type({v}) is fast{k} or {v} is None else format{k}({v}, name{k}, obj)"],
            "member_value": [f"{v} = {v}._value_ if type({v}) is fast{k} else format{k}({v}, name{k}, obj)", *skip],
            "none_or_call": [f"if {v} is not None:", f"    {v} = fast{k}({v})", *_indented(skip)],
            "call": [f"{v} = format{k}({v}, name{k}, obj)", *skip],
        }[step]
        body += [f"if {v} is missing:", *_indented(default)]
        if formatted:
            body += ["else:", *_indented(formatted)]
    keys, values = (", ".join(f"{name}{k}" for k in range(len(shape))) for name in ("key", "v"))
    if shape:
        body += ["if skipped:",
                 f"    return {{key: value for key, value in zip(({keys},), ({values},)) if value is not missing}}",
                 "return {" + ", ".join(f"key{k}: v{k}" for k in range(len(shape))) + "}"]
    else:
        body.append("return {}")
    names = ["missing", "dumped_default", "get_attribute"]  # in the order of _written's constants
    for k, (read, step) in enumerate(shape):
        names += [f"key{k}", f"field{k}", f"name{k}", f"format{k}"]
        names += [f"attribute{k}"] if read == "" else []
        names += [f"fast{k}"] if step in _FAST_STEPS else []
    # the constants as one list, unpacked into the closure's names (a call of 130 keyword arguments costs 150 µs)
    source = "\n".join(["def bind(constants):", f"    {', '.join(names)}, = constants", "    def dump(obj):",
                        *_indented(body, "        "), "    return dump", ""])
    filename = f"<insurecrm.api_dump written {next(_WRITTEN)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # its lines in tracebacks
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - code of the shape's integers and identifiers
    return namespace["bind"]


def _indented(lines: list[str], indent: str = "    ") -> list[str]:
    return [indent + line for line in lines]


def _plan(schema: ma.Schema) -> list[tuple[str, str | None, Formatter | None, fields.Field, str]]:
    """(output key, attribute to read or ``None``, formatter, field, field name) for each dumped field, in
    order; attribute ``None``: the field's own ``serialize``, formatter ``AS_IS``: the value as it is."""
    plain_accessor = type(schema).get_attribute is ma.Schema.get_attribute
    plan = []
    for attr_name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else attr_name
        attribute = field.attribute if field.attribute is not None else attr_name
        plain = (plain_accessor and type(field).serialize is _GENERIC_SERIALIZE
                 and type(field).get_value is _GENERIC_GET_VALUE and field._CHECK_ATTRIBUTE and "." not in attribute)
        if plain:
            formatter = _formatter(field)
            plan.append((key, attribute, field._serialize if formatter is False else formatter, field, attr_name))
        else:
            plan.append((key, None, None, field, attr_name))
    return plan


def _formatter(field: fields.Field) -> Formatter | None | bool:
    """The formatter specialised to ``field``'s exact class and settings, ``AS_IS`` (``None``) when its
    ``_serialize`` returns the value itself, or ``False`` when none is known (the field's ``_serialize`` then).

    A class qualifies only when it keeps marshmallow's methods of the serialisation it stands for, so a subclass
    with its own ``_serialize`` (or ``_format_num``, ``_to_string``) is never bypassed.
    """
    cls = type(field)
    serialize = cls._serialize
    if serialize is fields.Field._serialize:  # Field, Raw, Boolean: marshmallow 4 returns the value unchanged
        return AS_IS
    if serialize is fields.String._serialize:  # String, Email, Url
        return _string
    if serialize is fields.Number._serialize:
        if cls._format_num is fields.Number._format_num and cls._to_string is fields.Number._to_string:
            return _number(field.num_type, field.as_string)
        if cls._format_num is fields.Decimal._format_num and cls._to_string is fields.Decimal._to_string:
            return _decimal(field.places, field.rounding, field.allow_nan, field.as_string)
        return False
    if serialize is fields.Enum._serialize:
        return _enum(field)
    if serialize is fields.DateTime._serialize:  # _TemporalField's: Date, DateTime, Aware/NaiveDateTime, Time
        data_format = field.format or field.DEFAULT_FORMAT
        function = field.SERIALIZATION_FUNCS.get(data_format) if data_format in ("iso", "iso8601") else None
        return False if function is None else _temporal(function)
    return False


def _string(value: Any, attr: Any = None, obj: Any = None) -> str | None:
    """``fields.String._serialize``: ``None``, or ``utils.ensure_text_type`` (a ``str`` is its own text)."""
    if value is None:
        return None
    if type(value) is str:
        return value
    return ensure_text_type(value)


_string.inline = ("same_type", str)  # written as: v if type(v) is str or v is None else _string(v)


def _number(num_type: type, as_string: bool) -> Formatter:
    """``fields.Number._serialize`` with ``Number._format_num`` and ``Number._to_string`` (Integer, Float)."""
    if as_string:
        def number_string(value: Any, attr: Any = None, obj: Any = None) -> str | None:
            return None if value is None else str(num_type(value))
        return number_string

    def number(value: Any, attr: Any = None, obj: Any = None) -> Any:
        return None if value is None else num_type(value)
    if num_type in (int, float):  # int(v) is v for an int, float(v) for a float
        number.inline = ("same_type", num_type)
    return number


def _decimal(places: decimal.Decimal | None, rounding: str | None, allow_nan: bool, as_string: bool) -> Formatter:
    """``fields.Number._serialize`` with ``Decimal._format_num`` and ``Decimal._to_string`` (e.g. ``Money``)."""
    def decimal_number(value: Any, attr: Any = None, obj: Any = None) -> Any:
        if value is None:
            return None
        num = decimal.Decimal(str(value))
        if allow_nan and num.is_nan():
            num = decimal.Decimal("NaN")
        elif places is not None and num.is_finite():
            num = num.quantize(places, rounding=rounding)
        return format(num, "f") if as_string else num
    return decimal_number


def _enum(field: fields.Enum) -> Formatter | bool:
    """``fields.Enum._serialize``: the member's name, or its value, formatted by the field's inner field —
    when that one has a formatter itself.

    A member of the field's own enum class is read by its ``_value_`` (``_name_``), what ``member.value``
    (``.name``) returns through two Python calls of ``enum.property``, when the class keeps ``Enum``'s ``value``
    (``name``) — no member or subclass of that name; any other value is read as marshmallow reads it.
    """
    inner = _formatter(field.field)
    if inner is False:
        return False
    if field.by_value:
        members = field.enum if _keeps_enum_property(field.enum, "value") else None  # None: never a value's type
        if inner is AS_IS:  # by_value=True: Raw
            def by_value(value: Any, attr: Any = None, obj: Any = None) -> Any:
                if value is None:
                    return None
                return value._value_ if type(value) is members else value.value
            if members is not None:  # written as: v._value_ if type(v) is members else by_value(v)
                by_value.inline = ("member_value", members)
            return by_value

        def by_formatted_value(value: Any, attr: Any = None, obj: Any = None) -> Any:
            if value is None:
                return None
            return inner(value._value_ if type(value) is members else value.value, attr, obj)
        return by_formatted_value

    members = field.enum if _keeps_enum_property(field.enum, "name") else None
    if inner is _string:  # by name: String
        def by_name(value: Any, attr: Any = None, obj: Any = None) -> Any:
            if value is None:
                return None
            name = value._name_ if type(value) is members else value.name
            return name if type(name) is str else _string(name)  # a Flag's alias-less member: None
        return by_name

    def by_formatted_name(value: Any, attr: Any = None, obj: Any = None) -> Any:
        if value is None:
            return None
        return inner(value._name_ if type(value) is members else value.name, attr, obj)
    return by_formatted_name


def _keeps_enum_property(enum_cls: type, public: str) -> bool:
    """Whether ``member.value`` (``public``) of ``enum_cls`` is ``Enum``'s own, which returns ``_value_``."""
    for cls in enum_cls.__mro__:
        if public in cls.__dict__:
            return cls.__dict__[public] is enum.Enum.__dict__[public]
    return False


def _temporal(function: Callable[[Any], str]) -> Formatter:
    """``_TemporalField._serialize`` in an ``iso`` format: the very function of the field's
    ``SERIALIZATION_FUNCS`` (``date.isoformat`` of a date field gives the date of a datetime, as marshmallow's)."""
    def temporal(value: Any, attr: Any = None, obj: Any = None) -> str | None:
        return None if value is None else function(value)
    temporal.inline = ("none_or_call", function)
    return temporal
