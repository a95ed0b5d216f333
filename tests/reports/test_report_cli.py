"""``insurecrm report``: the same files as the page's downloads, in a user's scope, refused filters writing nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask.cli import ScriptInfo
from openpyxl import load_workbook
from pypdf import PdfReader

from insurecrm import clock
from insurecrm.cli import main
from insurecrm.db import db
from insurecrm.models import Role
from policyholders.models import Gender


@pytest.fixture
def run(app):
    def invoke(*args):
        with clock.frozen(datetime(2026, 12, 6, 4, 0, tzinfo=UTC)):
            return app.test_cli_runner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))

    return invoke


@pytest.fixture
def book(make):
    branch_a, branch_b = make.org_unit(name="Branch A"), make.org_unit(name="Branch B")
    for branch, region, premium in ((branch_a, "Shanghai", "1000.00"), (branch_b, "Beijing", "2400.00")):
        holder = make.policyholder(owner=make.agent(branch), region=region, gender=Gender.MALE)
        make.policy(holder, effective_date=date(2025, 1, 1), expiry_date=date(2027, 1, 1), premium=Decimal(premium))
    make.user(Role.ADMIN, username="root")
    make.user(Role.BRANCH_MANAGER, username="manager.a", org_unit_id=branch_a.id)
    db.session.commit()


def test_csv_for_the_company_and_for_a_manager(run, book, tmp_path):
    target = tmp_path / "by-region.csv"
    result = run("report", "breakdowns", "--format", "csv", "--set", "by=region", "-o", str(target))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [row[:2] for row in rows] == [["Region", "Policyholders"], ["Beijing", "1"], ["Shanghai", "1"]]
    result = run("report", "breakdowns", "--format", "csv", "--set", "by=region", "--as", "manager.a",
                 "-o", str(target))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["Shanghai"]


def test_xlsx_and_pdf_in_chinese(run, book, tmp_path):
    workbook_path, pdf_path = tmp_path / "book.xlsx", tmp_path / "book.pdf"
    assert run("report", "breakdowns", "--format", "xlsx", "-o", str(workbook_path)).exit_code == 0
    sheet = load_workbook(workbook_path).worksheets[1]
    assert sheet.cell(row=2, column=4).number_format == "#,##0.00"
    result = run("report", "breakdowns", "--format", "pdf", "--language", "zh", "--set", "by=region",
                 "-o", str(pdf_path))
    assert result.exit_code == 0, result.output
    text = " ".join(page.extract_text() for page in PdfReader(pdf_path).pages)
    assert "Beijing" in text and "地区" in text


def test_bad_filters_write_nothing(run, book, tmp_path):
    target = tmp_path / "never.csv"
    result = run("report", "breakdowns", "--format", "csv", "--set", "by=shoe", "--start", "2026-13-01",
                 "-o", str(target))
    assert result.exit_code == 2 and "by:" in result.output and "start:" in result.output
    assert not target.exists() and list(tmp_path.iterdir()) == []
    assert run("report", "nothing", "--format", "csv", "-o", str(target)).exit_code == 2
    assert run("report", "breakdowns", "--format", "csv", "--as", "ghost", "-o", str(target)).exit_code == 2


def test_reports_are_listed(run, book):
    result = run("reports")
    assert result.exit_code == 0 and "breakdowns" in result.output
