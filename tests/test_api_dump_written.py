"""The functions the API's faster dump writes from a schema's plan (insurecrm/api_dump.py, ``_written``) answer
what the plan itself (``_dump``) and marshmallow answer: the same keys in the same order, each value of the same
type and ``repr`` — for every API schema, from objects read by attribute and from SQLAlchemy Rows.

Each schema class of the application dumps objects of representative values (the usual type of each field, other
types that take a formatter's slow path, all ``None``, and attributes missing so that ``dump_default`` applies),
and Rows of those values with the columns in another order, an extra column and some columns absent. A value that
cannot be dumped must raise the same error every way.
"""

from __future__ import annotations

import enum
import random
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import fields
from sqlalchemy.engine import Row
from sqlalchemy.engine.result import result_tuple

from insurecrm.api_dump import FastDump, _dump, _plan, _written
from policyholders.schemas import PolicyholderSchema

WRITTEN = "<insurecrm.api_dump written"


def _schema_classes() -> list[type]:
    found, todo = set(), [FastDump]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


def _value(field: fields.Field, variant: int):
    """A value for ``field``: variant 0 its usual type, 1 another value of it, 2 a value of another type that a
    formatter takes (or refuses) its slow way, 3 ``None``."""
    if variant == 3:
        return None
    if isinstance(field, fields.Enum):
        members = list(field.enum)
        return (members[0], members[-1], members[-1].value)[variant]
    if isinstance(field, fields.Boolean):
        return (True, False, 0)[variant]
    if isinstance(field, fields.Integer):
        return (42, 7, True)[variant]
    if isinstance(field, fields.Float):
        return (2.5, -0.0, 3)[variant]
    if isinstance(field, fields.Decimal):
        return (Decimal("1234.5"), Decimal("0.005"), 7)[variant]
    if isinstance(field, fields.NaiveDateTime):
        return (datetime(2024, 1, 2, 3, 4, 5), datetime(2024, 6, 1, 8, 0, 0, 12), date(2024, 1, 2))[variant]
    if isinstance(field, fields.DateTime):
        return (datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                datetime(2024, 3, 31, 1, 30, tzinfo=ZoneInfo("Asia/Shanghai")), datetime(2024, 1, 2))[variant]
    if isinstance(field, fields.Date):
        return (date(2024, 2, 29), date(1, 1, 1), datetime(2024, 1, 2, 3, 4, tzinfo=UTC))[variant]
    if isinstance(field, fields.Time):
        return (time(3, 4, 5), time(23, 59, tzinfo=UTC), "03:04")[variant]
    if isinstance(field, fields.String):
        return ("张伟", "110105198001011239", 5)[variant]
    if isinstance(field, fields.List):
        return (["b", "a"], [], ("x",))[variant]
    if isinstance(field, fields.Dict):
        return ({"a": 1}, {}, None)[variant]
    return None


def _objects(schema: ma.Schema) -> list[SimpleNamespace]:
    """Objects with every attribute the schema reads, in each variant, and one with every other one missing."""
    attributes = {field.attribute or name: field for name, field in schema.dump_fields.items()}
    objects = [SimpleNamespace(**{attr: _value(field, variant) for attr, field in attributes.items()})
               for variant in range(4)]
    objects.append(SimpleNamespace(**{attr: _value(field, 0)
                                      for i, (attr, field) in enumerate(attributes.items()) if i % 2}))
    return objects


def _rows(obj: SimpleNamespace, seed: int) -> list[Row]:
    """``obj``'s values as a Row: the columns shuffled, with an extra last one; and the same without every third."""
    names = list(vars(obj))
    random.Random(seed).shuffle(names)
    full = result_tuple([*names, "total_of_the_list"])(tuple(getattr(obj, name) for name in names) + (99,))
    fewer = [name for i, name in enumerate(names) if i % 3]
    return [full, result_tuple(fewer)(tuple(getattr(obj, name) for name in fewer))]


def _typed(data):
    """``data`` with each value as its type and ``repr``, the keys of a dict in their order."""
    if isinstance(data, dict):
        return [(key, _typed(value)) for key, value in data.items()]
    if isinstance(data, list | tuple):
        return [_typed(value) for value in data]
    return type(data), repr(data)


def _outcome(dump, obj):
    try:
        return "dumped", _typed(dump(obj))
    except Exception as error:  # noqa: BLE001 - the error itself is what is compared
        return "raised", type(error), str(error)


def test_every_api_schema_dumps_the_same_by_its_written_functions(app):
    classes = [cls for cls in _schema_classes() if issubclass(cls, ma.Schema)]
    assert len(classes) > 100 and PolicyholderSchema in classes
    compared = written = dumped = 0
    for cls in classes:
        schema = cls()
        plan = _plan(schema)
        dump_object = _written(schema, plan)
        assert dump_object is not None and dump_object.__code__.co_filename.startswith(WRITTEN), cls
        marshmallow, by_plan = partial(ma.Schema._serialize, schema), partial(_dump, schema, plan)
        read = {attribute for _key, attribute, *_ in plan if attribute is not None}
        for index, obj in enumerate(_objects(schema)):
            expected = _outcome(marshmallow, obj)
            assert _outcome(by_plan, obj) == expected, (cls, index)
            assert _outcome(dump_object, obj) == expected, (cls, index)
            dumped += expected[0] == "dumped"
            for row in _rows(obj, seed=index):
                dump_row = _written(schema, plan, row._fields)
                expected = _outcome(by_plan, row)
                if read <= set(row._fields):  # without the column, marshmallow reads a Row's method count, index...
                    assert _outcome(marshmallow, row) == expected, (cls, index, row._fields)
                assert _outcome(dump_row, row) == expected, (cls, index, row._fields)
                compared += 1
        written += 1
    assert written == len(classes) and compared >= 10 * len(classes) and dumped >= 4 * len(classes)


class Shade(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


class Sample(FastDump, ma.Schema):
    """Every step of the written code: as is, same type, member value, iso, a call, the field's own serialize,
    an attribute that is not an identifier, a data key, and defaults (constant, callable, none)."""

    id = fields.Integer()
    name = fields.String(data_key="full name")
    shade = fields.Enum(Shade, by_value=True)
    flag = fields.Boolean()
    born = fields.Date()
    amount = fields.Decimal(places=2, as_string=True)
    odd = fields.String(attribute="not-an-identifier")
    shown = fields.Method("show")
    level = fields.Integer(dump_default=3)
    made = fields.String(dump_default=lambda: "made")
    none = fields.String()

    def show(self, obj):
        return f"<{getattr(obj, 'id', '?')}>"


def _sample(i: int, **missing) -> SimpleNamespace:
    values = {"id": i, "name": f"n{i}", "shade": Shade.DARK if i % 2 else Shade.LIGHT, "flag": bool(i % 2),
              "born": date(2000, 1, 1 + i), "amount": Decimal(i) / 3, "not-an-identifier": i, "level": i,
              "made": None, "none": None}
    for name in missing:
        del values[name]
    return SimpleNamespace(**values)


def test_the_written_code_keeps_keys_order_values_and_defaults():
    schema = Sample()
    objects = [_sample(1), _sample(2, level=True, made=True, none=True), _sample(3, id=True, shade=True)]
    plain = ma.Schema._serialize(schema, objects, many=True)
    assert list(plain[0]) == ["id", "full name", "shade", "flag", "born", "amount", "odd", "shown", "level", "made",
                              "none"]
    assert plain[1]["level"] == 3 and plain[1]["made"] == "made" and "none" not in plain[1]
    assert "id" not in plain[2] and "shade" not in plain[2] and plain[2]["shown"] == "<?>"
    assert _typed(schema._serialize(objects, many=True)) == _typed(plain)  # the plan writes its code here
    assert schema._dumper.objects.__code__.co_filename.startswith(WRITTEN)
    assert _typed(schema._serialize(objects, many=True)) == _typed(plain)  # by the written code
    assert _typed(schema._serialize(objects[2])) == _typed(plain[2])


def test_lists_of_rows_of_several_layouts_objects_and_mappings():
    """Rows of two results (two layouts), interleaved with an object, a mapping and a Row's mapping: each item
    dumps as marshmallow dumps it, by the function of its own kind and layout."""
    schema = PolicyholderSchema(many=True)
    obj = SimpleNamespace(**{name: _value(field, 0) for name, field in schema.dump_fields.items()})
    first, second = (_rows(obj, seed)[0] for seed in (1, 2))
    assert first._fields != second._fields
    items = [first, first, second, obj, first, dict(vars(obj)), second._mapping, _rows(obj, 3)[1], second]
    plain = ma.Schema._serialize(schema, items, many=True)
    for _ in range(2):  # the first list writes the functions, the second uses them
        assert _typed(schema._serialize(items, many=True)) == _typed(plain)
    assert set(schema._dumper.layouts) == {first._fields, second._fields, _rows(obj, 3)[1]._fields}
    assert all(dump.__code__.co_filename.startswith(WRITTEN) for dump in schema._dumper.layouts.values())
    assert _typed(schema._serialize(iter(items), many=True)) == _typed(plain)  # any iterable, read once
