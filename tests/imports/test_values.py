"""Cells as people type them in either language (insurecrm/imports/values.py): dates, amounts, yes/no, choices and
lists come out as the API takes them, and what cannot be read says why."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from insurecrm.imports.values import (
    Choices,
    cell_text,
    parse_boolean,
    parse_code,
    parse_date,
    parse_decimal,
    parse_list,
)
from insurecrm.labels import LABELS


@pytest.mark.parametrize("text", ["2024-03-05", "2024/3/5", "2024.3.5", "2024年3月5日", "2024 年 3 月 5 日", "20240305",
                                  "２０２４－０３－０５", "2024-03-05 00:00:00", "2024/03/05"])
def test_year_first_dates_in_every_common_form(text):
    assert parse_date(text) == "2024-03-05"


def test_date_cells_and_unmistakable_day_first_dates():
    assert parse_date(date(2024, 3, 5)) == "2024-03-05"
    assert parse_date(datetime(2024, 3, 5, 0, 0)) == "2024-03-05"
    assert parse_date("25/12/2024") == "2024-12-25"  # 25 cannot be a month
    assert parse_date("12/25/2024") == "2024-12-25"
    assert parse_date("7.7.2024") == "2024-07-07"


@pytest.mark.parametrize("text", ["3/5/2024", "05-03-2024"])
def test_a_date_that_reads_two_ways_is_refused(text):
    with pytest.raises(ValueError, match="two ways"):
        parse_date(text)


@pytest.mark.parametrize("text", ["2024-02-30", "2024-13-01", "yesterday", "2024", "12345678901", "0000-01-01"])
def test_what_is_not_a_date_is_refused(text):
    with pytest.raises(ValueError, match="Not a date"):
        parse_date(text)


@pytest.mark.parametrize(("value", "expected"), [
    ("1234.50", "1234.50"), ("¥1,234.50", "1234.50"), ("￥1,234.50", "1234.50"), ("RMB 1 234.5", "1234.5"),
    ("１２３４.５", "1234.5"), ("1.2万", "12000.0"), ("1200元", "1200"), (1200, "1200"), (1200.5, "1200.5"),
    ("-12.5", "-12.5"), (Decimal("3.10"), "3.10")])
def test_amounts_in_either_locale(value, expected):
    assert parse_decimal(value) == expected


@pytest.mark.parametrize("value", ["twelve", "1,2,3.4.5", "NaN", "Infinity", True, ""])
def test_what_is_not_a_number_is_refused(value):
    with pytest.raises(ValueError, match="Not a number"):
        parse_decimal(value)


def test_yes_and_no_in_both_languages():
    assert [parse_boolean(v) for v in ("是", "Y", "yes", "TRUE", "1", True, "同意")] == [True] * 7
    assert [parse_boolean(v) for v in ("否", "n", "No", "false", "0", False, "不同意")] == [False] * 7
    with pytest.raises(ValueError, match="yes or no"):
        parse_boolean("maybe")


def test_choices_by_code_or_by_label_in_either_language(app):
    with app.test_request_context():
        gender = Choices(LABELS["gender"], aliases={"男": "male"})
        assert [gender(v) for v in ("female", "Female", " FEMALE ", "女", "男", "Male")] == [
            "female", "female", "female", "female", "male", "male"]
        id_type = Choices(LABELS["id_type"])
        assert id_type("居民身份证") == id_type("PRC resident ID") == id_type("prc_resident") == "prc_resident"
        with pytest.raises(ValueError, match="Not one of: female, male, other"):
            gender("unknown")


def test_lists_cells_and_numbers_stored_as_floats():
    assert parse_list("vip; 高端客户，family、 x |y") == ["vip", "高端客户", "family", "x", "y"]
    assert parse_list(" ;; ") == []
    assert cell_text(13800138000.0) == "13800138000"
    assert cell_text("  ") is None and cell_text(None) is None
    assert cell_text("ＡＢＣ　１２３") == "ABC 123"


def test_a_code_a_spreadsheet_stored_as_a_number_without_its_last_digits_is_refused():
    assert parse_code(13800138000) == "13800138000"
    assert parse_code(13800138000.0) == "13800138000"
    assert parse_code("110105199003071239") == "110105199003071239"
    with pytest.raises(ValueError, match="lost its last digits"):
        parse_code(float(110105199003071239))  # Excel's 1.10105199003071E+17
