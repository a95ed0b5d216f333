"""Each formatter of the API's faster dump (insurecrm/api_dump.py) returns what marshmallow's own field returns.

A one-field schema dumps each value twice, by its plan and by ``marshmallow.Schema._serialize``; the two results
must be equal in value and in type (``True`` is not ``1``, ``"1.00"`` is not ``Decimal("1.00")``), and a value
marshmallow cannot format must raise the same error both ways. Each case also checks which way the plan took: a
formatter specialised to the field's class, or the field's own ``_serialize`` for a class that overrides it.
No database: the SQLAlchemy ``Row`` comes from an in-memory SQLite engine.
"""

from __future__ import annotations

import decimal
import enum
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import marshmallow as ma
import pytest
import sqlalchemy as sa
from marshmallow import fields

from insurecrm.api import Date, Id, Instant, Integer, Money, Rate, Version
from insurecrm.api_dump import AS_IS, FastDump, _indexable
from policyholders.schemas import MaskedIdNumber, TagList


class Colour(enum.StrEnum):
    RED = "red"
    DARK_BLUE = "dark_blue"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 2


class Pair(enum.Enum):
    LEFT = (1, "l")
    NOTHING = None


class Perm(enum.Flag):
    READ = 1
    WRITE = 2


class Odd(enum.Enum):
    """A member named ``value``: ``Odd.other.value`` is still 2, but not by ``Enum``'s own property."""

    value = 1
    other = 2


class Shown(enum.Enum):
    """A base of its own over ``value``: the plan must read ``.value`` as marshmallow does, not ``_value_``."""

    @property
    def value(self):
        return f"<{self._value_}>"


class ShownColour(Shown):
    GREEN = "green"


class Shout(str):
    def __str__(self) -> str:
        return self.upper()


class Cents(Decimal):
    def __str__(self) -> str:
        return super().__str__() + "0"


class Dozen(int):
    def __int__(self) -> int:
        return 12


class Today(date):
    def isoformat(self) -> str:
        return "today"


class NameField(fields.String):
    """A String with its own ``_serialize``: never bypassed."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"<{value}>"


class Rounded(fields.Integer):
    def _format_num(self, value):
        return round(value)


class Spaced(fields.Decimal):
    def _to_string(self, value):
        return f" {value} "


def _schema(field: fields.Field, **meta) -> ma.Schema:
    """A schema of the one field ``f`` with the plan, and options ``meta`` (e.g. ``datetimeformat``)."""
    return type("One", (FastDump, ma.Schema), {"f": field, "Meta": type("Meta", (), meta)})()


def _typed(data):
    """``data`` with every value as its type and its ``repr``: equal values of other types differ, and NaN is
    the same as NaN (not ``-NaN`` or ``sNaN``)."""
    if isinstance(data, dict):
        return {key: _typed(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_typed(value) for value in data]
    return type(data), repr(data)


def _outcome(dump, obj):
    try:
        return "dumped", _typed(dump(obj))
    except Exception as error:  # noqa: BLE001 - the error itself is what is compared
        return "raised", type(error), str(error)


def _assert_same(schema: ma.Schema, values, *, specialised: bool = True) -> None:
    """Each of ``values`` (as attribute ``f``) dumps the same by the plan and by marshmallow."""
    for value in values:
        obj = SimpleNamespace(f=value)
        fast = _outcome(schema.dump, obj)
        plain = _outcome(lambda o: ma.Schema._serialize(schema, o), obj)
        assert fast == plain, (schema.fields["f"], value)
    _key, attribute, formatter, field, _name = schema._dump_plan[0]
    assert attribute == "f"
    own = formatter is not AS_IS and getattr(formatter, "__self__", None) is field
    assert own is not specialised, f"{type(field).__name__}: {'the field' if own else 'a formatter'}"


STRINGS = [None, "", "abc", "张伟", Shout("loud"), Colour.RED, b"caf\xc3\xa9", 5, Decimal("1.50"), date(2024, 2, 29)]
NUMBERS = [None, 0, 7, -3, 2**70, True, False, Size.LARGE, Dozen(5), "12", " 8 ", 3.9, -0.5, Decimal("4.5"), "abc",
           "1.5", [], float("inf"), float("nan")]
DECIMALS = [None, Decimal("1.005"), Decimal("1.015"), Decimal("-0"), Decimal("-0.00"), Decimal("1E+3"),
            Decimal("123456789.123456"), Cents("2.5"), 5, -7, 0.1, 1.005, "2.5", " 3 ", "abc", True,
            Decimal("NaN"), Decimal("-NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"),
            float("nan"), float("inf")]
INSTANTS = [None, datetime(2024, 1, 2, 3, 4, 5), datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            datetime(2024, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))),
            datetime(2024, 3, 31, 1, 30, tzinfo=ZoneInfo("Europe/Paris")), datetime(1, 1, 1), datetime.max,
            date(2024, 1, 2), "2024-01-02T03:04:05", 5]
DATES = [None, date(2024, 2, 29), date(1, 1, 1), Today(2020, 1, 1), datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
         "2024-01-02", 5]


@pytest.mark.parametrize("field", [fields.String(), fields.String(allow_none=True), fields.Email(), fields.Url()],
                         ids=["String", "String(allow_none)", "Email", "Url"])
def test_strings(field):
    _assert_same(_schema(field), STRINGS)


@pytest.mark.parametrize("field", [
    fields.Integer(), fields.Integer(as_string=True), fields.Integer(strict=True), Integer(), Id(), Version(),
    fields.Float(), fields.Float(as_string=True), fields.Float(allow_nan=True)],
    ids=["Integer", "Integer(as_string)", "Integer(strict)", "api.Integer", "Id", "Version", "Float",
         "Float(as_string)", "Float(allow_nan)"])
def test_numbers(field):
    _assert_same(_schema(field), NUMBERS)


@pytest.mark.parametrize("field", [
    Money(), Rate(), fields.Decimal(), fields.Decimal(as_string=True), fields.Decimal(places=2),
    fields.Decimal(places=2, as_string=True, rounding=decimal.ROUND_UP),
    fields.Decimal(places=1, as_string=True, allow_nan=True), fields.Decimal(allow_nan=True)],
    ids=["Money", "Rate", "Decimal", "Decimal(as_string)", "Decimal(places)", "Decimal(places,ROUND_UP)",
         "Decimal(places,allow_nan)", "Decimal(allow_nan)"])
def test_decimals(field):
    _assert_same(_schema(field), DECIMALS)


def test_decimals_follow_the_current_context():
    """``quantize`` rounds by the thread's context (when no ``rounding`` is given) and fails beyond its
    precision: both ways compute in the same context."""
    schema = _schema(Money())
    with decimal.localcontext(rounding=decimal.ROUND_DOWN):
        _assert_same(schema, [Decimal("1.239"), Decimal("-1.239")])
    with decimal.localcontext(prec=4):
        _assert_same(schema, [Decimal("12.345"), Decimal("123456.7")])


@pytest.mark.parametrize("field", [fields.Boolean(), fields.Boolean(truthy={"yes"}, falsy={"no"}), fields.Raw(),
                                   fields.Field()], ids=["Boolean", "Boolean(truthy,falsy)", "Raw", "Field"])
def test_values_dumped_as_they_are(field):
    """marshmallow 4's Boolean dumps the value unchanged (its truthy and falsy sets serve loading only)."""
    _assert_same(_schema(field), [None, True, False, 0, 1, "yes", "no", "t", 2.5, [1], Colour.RED])


@pytest.mark.parametrize("field, values", [
    (fields.Enum(Colour, by_value=True), [None, Colour.RED, Colour.DARK_BLUE, "red", 1]),
    (fields.Enum(Colour), [None, Colour.RED, Colour.DARK_BLUE, "red"]),
    (fields.Enum(Size, by_value=True), [None, Size.SMALL, Size.LARGE, 2]),
    (fields.Enum(Size, by_value=fields.String()), [None, Size.SMALL, Size.LARGE]),
    (fields.Enum(Size, by_value=fields.Integer), [None, Size.SMALL, 1]),
    (fields.Enum(Size, by_value=fields.Integer(as_string=True)), [None, Size.LARGE]),
    (fields.Enum(Pair, by_value=True), [None, Pair.LEFT, Pair.NOTHING]),
    (fields.Enum(Pair), [None, Pair.LEFT, Pair.NOTHING]),
    (fields.Enum(Perm), [None, Perm.READ, Perm.READ | Perm.WRITE, Perm(0)]),
    (fields.Enum(Perm, by_value=True), [None, Perm.READ, Perm.READ | Perm.WRITE, Perm(0)]),
    (fields.Enum(Odd, by_value=True), [None, Odd.value, Odd.other]),
    (fields.Enum(Odd), [None, Odd.value, Odd.other]),
    (fields.Enum(ShownColour, by_value=True), [None, ShownColour.GREEN]),
    (fields.Enum(ShownColour, by_value=fields.String()), [None, ShownColour.GREEN]),
    (fields.Enum(Colour, by_value=True, allow_none=True), [None, Colour.RED]),
], ids=["StrEnum by value", "StrEnum by name", "IntEnum by value", "by value as String", "by value as Integer",
        "by value as Integer(as_string)", "tuple value", "by name with a None value", "Flag by name",
        "Flag by value", "member named value, by value", "member named value, by name", "own value property",
        "own value property as String", "allow_none"])
def test_enums(field, values):
    _assert_same(_schema(field), values)


def test_enums_of_a_field_with_its_own_serialize_keep_it():
    _assert_same(_schema(fields.Enum(Colour, by_value=NameField())), [None, Colour.RED], specialised=False)


@pytest.mark.parametrize("field", [fields.DateTime(), fields.DateTime(format="iso8601"), fields.AwareDateTime(),
                                   fields.AwareDateTime(default_timezone=UTC), fields.NaiveDateTime(),
                                   fields.NaiveDateTime(timezone=UTC), Instant()],
                         ids=["DateTime", "DateTime(iso8601)", "AwareDateTime", "AwareDateTime(UTC)",
                              "NaiveDateTime", "NaiveDateTime(UTC)", "Instant"])
def test_instants(field):
    """No time zone is added or converted on dumping, aware or naive: the value's own ``isoformat``."""
    _assert_same(_schema(field), INSTANTS)


@pytest.mark.parametrize("field", [fields.Date(), Date(), Date(past_years=130, future_years=0)],
                         ids=["Date", "api.Date", "api.Date(window)"])
def test_dates(field):
    """``date.isoformat`` itself: a datetime gives its date, a subclass's own ``isoformat`` is not called."""
    _assert_same(_schema(field), DATES)


def test_times():
    _assert_same(_schema(fields.Time()), [None, time(3, 4, 5), time(3, 4, 5, 6, tzinfo=UTC), "03:04"])


@pytest.mark.parametrize("field, meta", [
    (fields.DateTime(format="rfc"), {}), (fields.DateTime(format="timestamp"), {}),
    (fields.DateTime(format="%Y-%m-%d %H"), {}), (fields.AwareDateTime(format="timestamp_ms"), {}),
    (fields.DateTime(), {"datetimeformat": "rfc"}), (fields.Date(format="%d/%m/%Y"), {}),
    (fields.Date(), {"dateformat": "%Y"}),
], ids=["rfc", "timestamp", "strftime", "timestamp_ms", "schema's rfc", "date strftime", "schema's date format"])
def test_other_formats_keep_the_fields_serialize(field, meta):
    values = [None, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)]
    if isinstance(field, fields.DateTime):
        values.append(datetime(2024, 1, 2, 3, 4, 5))
    _assert_same(_schema(field, **meta), values, specialised=False)


@pytest.mark.parametrize("field, values", [
    (MaskedIdNumber(allow_none=True), [None, "110105198001011239", "AB1"]),
    (TagList(), [None, [SimpleNamespace(tag="b"), SimpleNamespace(tag="a")]]),
    (NameField(), [None, "x"]),
    (Rounded(), [None, 2.5, 3.5]),
    (Rounded(as_string=True), [None, 2.5]),
    (Spaced(places=2, as_string=True), [None, Decimal("1.5")]),
    (fields.UUID(), [None]),
    (fields.List(fields.String()), [None, ["a", 1]]),
], ids=["MaskedIdNumber", "TagList", "String with _serialize", "Integer with _format_num",
        "Integer with _format_num, as_string", "Decimal with _to_string", "UUID", "List"])
def test_overriding_classes_keep_their_serialize(field, values):
    _assert_same(_schema(field), values, specialised=False)


def test_a_missing_attribute_takes_the_dump_default():
    schema = _schema(fields.Integer(dump_default="7"))
    assert schema.dump(SimpleNamespace()) == ma.Schema._serialize(schema, SimpleNamespace()) == {"f": 7}
    schema = _schema(fields.Enum(Colour, by_value=True, dump_default=lambda: Colour.RED))
    assert schema.dump(SimpleNamespace()) == ma.Schema._serialize(schema, SimpleNamespace()) == {"f": "red"}
    schema = _schema(fields.String())
    assert schema.dump(SimpleNamespace()) == ma.Schema._serialize(schema, SimpleNamespace()) == {}


class RowSchema(FastDump, ma.Schema):
    id = Id()
    name = fields.String()
    count = fields.Integer()  # also a method of tuples: the column's value wins, both ways
    colour = fields.Enum(Colour, by_value=True)
    born = Date(allow_none=True)
    amount = Money()
    absent = fields.String(dump_default="none")


@pytest.fixture(scope="module")
def rows():
    engine = sa.create_engine("sqlite://")
    query = sa.select(sa.literal(1).label("id"), sa.literal("张伟").label("name"), sa.literal(3).label("count"),
                      sa.literal(Colour.RED, sa.Enum(Colour)).label("colour"), sa.literal(None, sa.Date).label("born"),
                      sa.literal(Decimal("12.5"), sa.Numeric(14, 2)).label("amount"))
    with engine.connect() as connection:
        result = connection.execute(query).all()
    engine.dispose()
    return result


def test_rows_take_the_plan_and_dump_as_marshmallow_does(rows):
    """marshmallow tries ``row["name"]`` first, which raises ``TypeError`` on a Row, then reads the attribute:
    the plan reads the attribute directly, with the same answer; ``row._mapping`` stays a mapping."""
    row = rows[0]
    assert isinstance(row, sa.engine.Row)
    assert not _indexable(row) and _indexable(row._mapping) and _indexable({"id": 1})
    with pytest.raises(TypeError):
        row["name"]
    schema = RowSchema()
    fast = schema.dump(row)
    assert _typed(fast) == _typed(ma.Schema._serialize(schema, row))
    assert _typed(schema.dump(row._mapping)) == _typed(ma.Schema._serialize(schema, row._mapping))
    assert fast == {"id": 1, "name": "张伟", "count": 3, "colour": "red", "born": None, "amount": "12.50",
                    "absent": "none"}
    mixed = [row, row._mapping, dict(row._mapping), SimpleNamespace(**row._mapping)]
    many = RowSchema(many=True)
    assert _typed(many.dump(mixed)) == _typed(ma.Schema._serialize(many, mixed, many=True))


def test_many_of_none_is_one_empty_object():
    many = RowSchema(many=True)
    assert many.dump(None) == ma.Schema._serialize(many, None, many=True)
