"""A report table's CSV rows written by PostgreSQL's ``COPY … TO STDOUT``: the very bytes of
:func:`reports.exports.csv_chunks`' Python path, at the speed of the database.

Formatting each cell in Python (:func:`reports.tables.cell`, then the ``csv`` module) costs several times the query
on a table of hundreds of thousands of rows (docs/benchmarks.md, "Report figures"). Here each column is formatted in
the ``SELECT`` as ``cell`` formats it: money, decimals and rates rounded half up to their places (a negative amount
that rounds to zero keeps its sign, as ``Decimal`` does: ``-0.00``), whole numbers, ISO dates, a person's name, a
text starting like a formula behind a quote, an empty text as nothing, NULL as nothing; PostgreSQL's CSV quotes a
field exactly when Python's does (a comma, a double quote, a line break), and each line ends with LF as the
export's ``csv`` writer is told to end them.

Only for what the database can write alike: on PostgreSQL, for a reader who sees names (a pseudonym is an HMAC made
in Python), for columns of those kinds (a coded value's label is translated in Python) and a statement that renders
with its parameters inline. Anything else: ``None``, and the caller formats in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    Numeric,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    nulls_first,
    nulls_last,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import CompileError
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from insurecrm.db import db
from reports.tables import PERSON_KINDS, Column, Table

#: the places each number kind is rounded to (reports.tables.cell)
PLACES = {"money": 2, "decimal": 4, "rate": 6}
#: the modifiers of an ORDER BY clause, and how each is put back on a column
ORDERING = {operators.desc_op: lambda key: key.desc(), operators.asc_op: lambda key: key.asc(),
            operators.nulls_first_op: nulls_first, operators.nulls_last_op: nulls_last}
#: what a text cell may not start with unquoted (reports.exports.FORMULA_START)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def copy_lines(table: Table, *, pseudonymise: bool, rows: int = 2000) -> Iterator[tuple[bytes, int]] | None:
    """The rows of ``table`` as CSV (UTF-8, LF) from ``COPY``, in chunks of whole lines: ``(chunk, lines)``, up to
    ``rows`` lines a chunk; ``None`` when ``COPY`` cannot write them as :func:`reports.exports.csv_chunks` does (see
    the module's docstring)."""
    if db.dialect != "postgresql" or (pseudonymise and any(c.kind in PERSON_KINDS for c in table.columns)):
        return None
    statement = _formatting(table)
    if statement is None:
        return None
    try:
        # inline, no placeholder: a dialect whose parameter style does not double ``%`` (COPY is sent as is)
        sql = str(statement.compile(dialect=postgresql.dialect(paramstyle="named"),
                                    compile_kwargs={"literal_binds": True}))
    except (CompileError, NotImplementedError):
        # SQLAlchemy's own refusals to render a value inline (a type without a literal form raises
        # NotImplementedError): such a table is written by the Python path instead, which handles every value
        return None
    return _copied(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')", rows)


def _copied(copy_sql: str, rows: int) -> Iterator[tuple[bytes, int]]:
    """The rows ``COPY`` sends (one message a row), joined a chunk at a time as they come: Python's work per row is
    the least it can be (the rows are hundreds of thousands)."""
    connection = db.session.connection().connection.driver_connection
    batch: list = []
    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for data in copy:
            batch.append(data)
            if len(batch) == rows:
                yield b"".join(batch), rows
                batch.clear()
    yield b"".join(batch), len(batch)


def _formatting(table: Table) -> Select | None:
    """The table's statement with each column formatted (:func:`_formatted`), in its order: the statement as a
    subquery that also selects its sort keys, ordered by them again outside — PostgreSQL sees the subquery's rows
    already in that order (no second sort) and formats each row once, after the sort, on values computed once."""
    statement = table.statement
    if statement._distinct:  # the sort keys added would change what is distinct
        return None
    keys, directions = [], []
    for clause in statement._order_by_clauses:
        modifiers = []
        while isinstance(clause, UnaryExpression) and clause.modifier in ORDERING:
            modifiers.append(clause.modifier)
            clause = clause.element
        if clause.__visit_name__ in ("textclause", "label_reference", "textual_label_reference"):
            return None
        keys.append(clause)
        directions.append(modifiers)
    rows = statement.add_columns(*(key.label(f"sort_key_{n}") for n, key in enumerate(keys))).subquery("export")
    formatted = [_formatted(column, rows.c) for column in table.columns]
    if any(expression is None for expression in formatted):
        return None
    order = []
    for n, modifiers in enumerate(directions):
        key = rows.c[f"sort_key_{n}"]
        for modifier in reversed(modifiers):
            key = ORDERING[modifier](key)
        order.append(key)
    return select(*(expression.label(f"c{n}") for n, expression in enumerate(formatted))).order_by(*order)


def _formatted(column: Column, values):
    """``column`` written as :func:`reports.tables.cell` and the ``csv`` module write it, as SQL over the columns
    ``values``; ``None`` when it cannot be."""
    value = values[column.key]
    kind = column.kind
    if kind in PERSON_KINDS:
        if column.name_key is None:
            return cast(value, Text)
        return case((value.is_(None), null()), else_=_text(values[column.name_key]))
    if kind in PLACES:
        # what rounds (half up) to zero from below keeps its sign: above minus half the last place, below zero
        shown = cast(func.round(cast(value, Numeric), PLACES[kind]), Text)
        half = literal(Decimal(5).scaleb(-PLACES[kind] - 1), Numeric)
        return case((and_(value < 0, value > -half), literal("-", String) + shown), else_=shown)
    if kind == "int":
        return cast(func.trunc(cast(value, Numeric)), BigInteger)
    if kind == "date":
        return func.to_char(cast(value, Date), "YYYY-MM-DD")
    if kind == "text" and isinstance(value.type, String):
        return _text(value)
    return None


def _text(value):
    """A text as the export writes it: behind a quote when a spreadsheet would run it, nothing for an empty one."""
    text = cast(value, Text)
    return case((func.left(text, 1).in_(FORMULA_START), literal("'", Text) + text), else_=func.nullif(text, ""))
