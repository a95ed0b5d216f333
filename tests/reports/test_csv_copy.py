"""A report table's CSV from PostgreSQL's COPY is the very text of the Python export (reports/csv_copy.py), and it
is used only where it can be."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Date, Integer, Numeric, String, column, select, values

from insurecrm.db import db
from insurecrm.models import Role
from reports import exports
from reports.contribution import ContributionArgs, contribution
from reports.csv_copy import copy_lines
from reports.tables import Column, Table
from tests.reports.test_contribution import TODAY, book  # noqa: F401 - the hand-built book of the report's tests

NAMES = ["Plain", "Comma, Ltd", 'Say "hi"', "Two\nlines", "Carriage\rreturn", "=SUM(A1)", "-minus", "+plus", "@at",
         "\ttab", "", None, "张三", "back\\slash", "semi;colon", " spaced "]
AMOUNTS = ["1.005", "-0.001", "-0.005", "0", "-12.345", "123456789.995", "0.0049999", "-0.0000001", "2.5", None,
           "-1", "7", "0.125", "-0.125", "99.994999", "3"]


def typed_table(copies: int = 1, names: list | None = None) -> Table:
    """The names and amounts, ``copies`` times (COPY's rows come in chunks of 2,000)."""
    names = NAMES if names is None else names
    rows = values(column("id", Integer), column("name", String), column("amount", Numeric), column("day", Date),
                  column("note", String), name="v").data([
                      (n + 1, name, None if amount is None else Decimal(amount), date(2026, 1, 1 + n % 28),
                       None if n % 3 else name)
                      for n, (name, amount) in enumerate(zip(names * copies, AMOUNTS * copies, strict=True))])
    statement = select(rows.c.id.label("holder"), rows.c.name.label("holder_name"), rows.c.amount.label("money"),
                       rows.c.amount.label("rate"), rows.c.amount.label("decimal"), rows.c.id.label("count"),
                       rows.c.day.label("day"), rows.c.note.label("note")).order_by(rows.c.id.desc())
    return Table("t", "T", [Column("holder", "Holder", "policyholder", name_key="holder_name"),
                            Column("money", "Money", "money"), Column("rate", "Rate", "rate"),
                            Column("decimal", "Decimal", "decimal"), Column("count", "Count", "int"),
                            Column("day", "Day", "date"), Column("note", "Note", "text")], statement)


def python_csv(table: Table, monkeypatch, *, pseudonymise: bool = False) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(exports, "copy_lines", lambda *_args, **_kwargs: None)
        return b"".join(exports.csv_chunks(table, pseudonymise=pseudonymise)).decode()


def test_copy_writes_the_bytes_of_the_python_export(app, monkeypatch):
    table = typed_table()
    if db.dialect != "postgresql":
        assert copy_lines(table, pseudonymise=False) is None
        return
    assert copy_lines(table, pseudonymise=False) is not None
    copied = b"".join(exports.csv_chunks(table, pseudonymise=False)).decode()
    assert copied == python_csv(table, monkeypatch)
    assert '"Comma, Ltd"' in copied and "-0.00" in copied and "'=SUM(A1)" in copied  # the cases are there
    # more rows than a chunk of COPY's, with and without a line break inside a field
    for names in (NAMES, [name.replace("\n", " ") if name else name for name in NAMES]):
        many = typed_table(200, names)
        assert b"".join(exports.csv_chunks(many, pseudonymise=False)).decode() == python_csv(many, monkeypatch)


@pytest.mark.postgresql_only  # COPY is PostgreSQL's
def test_the_contribution_export_is_the_same_by_copy(make, book, monkeypatch):  # noqa: F811
    for role in (Role.ADMIN, Role.BRANCH_MANAGER):
        user = make.user(role, org_unit_id=book["mine"].id) if role == Role.BRANCH_MANAGER else make.user(role)
        result = contribution(user, ContributionArgs().load({}), TODAY)
        for table in result.tables:
            assert copy_lines(table, pseudonymise=False) is not None
            assert b"".join(exports.csv_chunks(table, pseudonymise=False)).decode() == python_csv(table, monkeypatch)


def test_pseudonyms_and_labels_are_written_in_python(make, book):  # noqa: F811
    result = contribution(make.user(Role.ACTUARY), ContributionArgs().load({}), TODAY)
    assert copy_lines(result.table("policyholders"), pseudonymise=True) is None
    labelled = Table("t", "T", [Column("channel", "Channel", "label:sales_channel")],
                     select(column("channel", String).label("channel")).select_from(values(
                         column("channel", String), name="v").data([("agency",)])))
    assert copy_lines(labelled, pseudonymise=False) is None


@pytest.mark.postgresql_only  # COPY is PostgreSQL's
def test_every_report_table_by_copy_is_the_python_export(make, book, monkeypatch):  # noqa: F811
    """Every table of every report, for an admin (names shown): the same text whichever path writes it."""
    from reports import modules  # noqa: F401 - registers the reports
    from reports.catalogue import REPORTS

    admin, copied = make.user(Role.ADMIN), 0
    for report in REPORTS.values():
        result = report.build(admin, report.args().load({}), TODAY)
        for table in result.tables:
            if copy_lines(table, pseudonymise=False) is not None:
                copied += 1
                text = b"".join(exports.csv_chunks(table, pseudonymise=False)).decode()
                assert text == python_csv(table, monkeypatch), (report.name, table.key)
    assert copied >= 5
