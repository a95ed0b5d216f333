"""The imports tests use the policyholders tests' small organisation (``org``) and build their files in memory."""

from __future__ import annotations

import csv
import io

import pytest

from tests.policyholders.conftest import org  # noqa: F401 - the fixture, shared


def csv_bytes(rows: list[list], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def run_import(app):
    """``run_import(kind, content, user, filename="f.csv", confirm=True)``: check the file, then (when the check
    passed and ``confirm``) import it; returns the run."""
    from insurecrm.db import db
    from insurecrm.imports import engine
    from insurecrm.imports.models import ImportStatus

    def run(kind: str, content: bytes, user, *, filename: str = "book.csv", confirm: bool = True, **options):
        created = engine.create_run(kind, filename, io.BytesIO(content), user=user, **options)
        engine.perform(created.id)
        checked = db.session.get(engine.ImportRun, created.id)
        if confirm and checked.status == ImportStatus.CHECKED:
            engine.confirm(checked)
            engine.perform(created.id)
        return db.session.get(engine.ImportRun, created.id)

    return run


def resident_id(born: str, seq: int) -> str:
    """A valid PRC resident ID of someone born on ``born`` (``"1990-03-07"``) in Beijing's Chaoyang district."""
    from stdnum.cn import ric

    body = f"110105{born.replace('-', '')}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # the digit is computed from the others
