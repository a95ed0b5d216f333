"""National ID numbers and phone numbers: validation and normalisation."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from marshmallow import ValidationError

from policyholders.identity import check_id_type_for_kind, normalise_id_number, normalise_phone, validate_id_number
from policyholders.models import IdType, PartyKind
from tests.policyholders.common import RIC_1990, USCC


def errors_of(excinfo) -> dict:
    return excinfo.value.normalized_messages()


def test_id_numbers_are_upper_cased_without_spaces():
    assert normalise_id_number(" e1234 5678 ") == "E12345678"
    assert normalise_id_number("11010519900307123x") == "11010519900307123X"


def test_a_resident_id_with_its_check_digit_is_accepted_and_normalised():
    spaced = f"{RIC_1990[:6]} {RIC_1990[6:14]} {RIC_1990[14:]}"
    assert validate_id_number(IdType.PRC_RESIDENT, spaced) == RIC_1990
    assert validate_id_number(IdType.PRC_RESIDENT, RIC_1990, date_of_birth=date(1990, 3, 7)) == RIC_1990


@pytest.mark.parametrize("number", [
    RIC_1990[:-1] + "0",  # wrong check digit
    RIC_1990[:-1],  # 17 digits
    "110105199013071239",  # month 13
    "ABCDEFGHIJKLMNOPQR",
    "440199199003071235",  # right check digit, county unknown under a known city (stdnum raises KeyError)
])
def test_an_invalid_resident_id_is_refused_on_id_number(number):
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(IdType.PRC_RESIDENT, number)
    assert set(errors_of(excinfo)) == {"id_number"}


def test_a_resident_id_must_agree_with_the_date_of_birth():
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(IdType.PRC_RESIDENT, RIC_1990, date_of_birth=date(1990, 3, 8))
    assert set(errors_of(excinfo)) == {"date_of_birth"}


def test_a_social_credit_code_is_checked():
    assert validate_id_number(IdType.PRC_USCC, USCC.lower()) == USCC
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(IdType.PRC_USCC, USCC[:-1] + "M")
    assert set(errors_of(excinfo)) == {"id_number"}


@pytest.mark.parametrize(("id_type", "number", "valid"), [
    (IdType.PASSPORT, "E12345678", True),
    (IdType.PASSPORT, "123 456 789", True),
    (IdType.PASSPORT, "E1", False),
    (IdType.PASSPORT, "E1234567/8", False),
    (IdType.HK_MACAU_PERMIT, "H12345678", True),
    (IdType.HK_MACAU_PERMIT, "M1234567890", True),
    (IdType.HK_MACAU_PERMIT, "CA1234567", True),
    (IdType.HK_MACAU_PERMIT, "X12345678", False),
    (IdType.HK_MACAU_PERMIT, "H1234", False),
    (IdType.OTHER, "AB-123", True),
    (IdType.OTHER, "#", False),
])
def test_passports_and_permits_get_format_checks(id_type, number, valid):
    if valid:
        assert validate_id_number(id_type, number) == normalise_id_number(number)
    else:
        with pytest.raises(ValidationError):
            validate_id_number(id_type, number)


def test_id_types_must_fit_the_kind_of_party():
    check_id_type_for_kind(IdType.PRC_RESIDENT, PartyKind.PERSON)
    check_id_type_for_kind(IdType.PRC_USCC, PartyKind.ORGANISATION)
    for id_type, kind in ((IdType.PRC_USCC, PartyKind.PERSON), (IdType.PRC_RESIDENT, PartyKind.ORGANISATION)):
        with pytest.raises(ValidationError) as excinfo:
            check_id_type_for_kind(id_type, kind)
        assert set(errors_of(excinfo)) == {"id_type"}


@pytest.mark.parametrize(("raw", "e164"), [
    ("138 0013 8000", "+8613800138000"),
    ("13800138000", "+8613800138000"),
    ("010 6552 9988", "+861065529988"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+44 7911 123456", "+447911123456"),
])
def test_phones_are_normalised_to_e164(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("garbage", ["abc", "123", "+44 12", "138 0013 8000 12345", "call me"])
def test_garbage_phones_are_refused_on_their_field(garbage):
    with pytest.raises(ValidationError) as excinfo:
        normalise_phone(garbage, field="phone_alt")
    assert set(errors_of(excinfo)) == {"phone_alt"}


def test_the_default_region_comes_from_the_configuration():
    app = Flask(__name__)
    app.config["DEFAULT_PHONE_REGION"] = "GB"
    with app.app_context():
        assert normalise_phone("020 7946 0958") == "+442079460958"
        assert normalise_phone("+86 138 0013 8000") == "+8613800138000"
