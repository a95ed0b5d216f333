"""National ID numbers and phone numbers: validated where the format is known, stored normalised.

- PRC resident ID (居民身份证): 18 digits, the last a check digit (0-9 or X), with a real area code
  and birth date inside (python-stdnum ``cn.ric``); the birth date must agree with ``date_of_birth``.
- PRC unified social credit code (统一社会信用代码) of an organisation: python-stdnum ``cn.uscc``.
- Passports and Hong Kong/Macau permits: format checks only; the issuing systems are not ours.
- Phones: parsed with ``phonenumbers`` (a number without ``+`` is read in the region
  ``DEFAULT_PHONE_REGION``, "CN" by default) and stored as E.164, e.g. ``+8613800138000``.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import phonenumbers
from flask import current_app, has_app_context
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from marshmallow import ValidationError
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from insurecrm.validation_messages import in_refusal
from policyholders.models import IdType, PartyKind

#: ICAO document numbers are up to 9 characters; some issuers use a few more
PASSPORT = re.compile(r"^[A-Z0-9]{5,12}$")
#: H/M + 8 (or, on older cards, 10) digits: home-return permits of Hong Kong and Macau residents;
#: C + 8 characters: the mainland residents' exit-entry permit for Hong Kong and Macau
HK_MACAU_PERMIT = re.compile(r"^(?:[HM]\d{8}(?:\d{2})?|C[0-9A-Z]\d{7})$")
OTHER_ID = re.compile(r"^[A-Z0-9-]{2,32}$")
#: which ID types fit which kind of party
ID_TYPES_BY_KIND = {
    PartyKind.PERSON: {IdType.PRC_RESIDENT, IdType.PASSPORT, IdType.HK_MACAU_PERMIT, IdType.OTHER},
    PartyKind.ORGANISATION: {IdType.PRC_USCC, IdType.OTHER},
}
FALLBACK_PHONE_REGION = "CN"


def normalise_id_number(value: str) -> str:
    """Upper-case, without spaces: ``"11010519900307123x "`` → ``"11010519900307123X"``."""
    return re.sub(r"\s+", "", value).upper()


def validate_id_number(id_type: IdType, value: str, *, date_of_birth: date | None = None) -> str:
    """The normalised ID number, or ``ValidationError`` on ``id_number`` (or on ``date_of_birth``
    when a resident ID's embedded birth date disagrees with it)."""
    number = normalise_id_number(value)
    if id_type == IdType.PRC_RESIDENT:
        _check_resident_id(number, date_of_birth)
    elif id_type == IdType.PRC_USCC:
        _check_stdnum(uscc.validate, number, _l("Not a valid unified social credit code (18 characters, check digit)."))
    elif id_type == IdType.PASSPORT:
        _check_pattern(PASSPORT, number, _l("A passport number is 5 to 12 letters or digits."))
    elif id_type == IdType.HK_MACAU_PERMIT:
        _check_pattern(HK_MACAU_PERMIT, number, _l("Use H or M and 8 or 10 digits, or C and 8 characters."))
    else:
        _check_pattern(OTHER_ID, number, _l("Use 2 to 32 letters, digits or '-'."))
    return number


def check_id_type_for_kind(id_type: IdType, kind: PartyKind) -> None:
    """Refuse an ID type that does not fit the party: a resident ID for a company, a USCC for a person."""
    if id_type not in ID_TYPES_BY_KIND[kind]:
        raise ValidationError({"id_type": [gettext("An ID of type %(id_type)s does not identify a %(kind)s.",
                                                    id_type=in_refusal(id_type, "id_type"),
                                                    kind=in_refusal(kind, "party_kind"))]})


def _check_resident_id(number: str, date_of_birth: date | None) -> None:
    _check_stdnum(ric.validate, number, _l("Not a valid PRC resident ID (18 digits with a check digit)."))
    if date_of_birth is not None and ric.get_birth_date(number) != date_of_birth:
        raise ValidationError({"date_of_birth": [gettext("Does not match the birth date in the resident ID number.")]})


def _check_stdnum(validate, number: str, message: LazyString) -> None:
    try:
        validate(number)
    except (StdnumError, KeyError):
        # python-stdnum 2.2 raises KeyError('county') for a county code unknown under a known city
        raise ValidationError({"id_number": [str(message)]}) from None


def _check_pattern(pattern: re.Pattern, number: str, message: LazyString) -> None:
    if not pattern.fullmatch(number):
        raise ValidationError({"id_number": [str(message)]})


def default_phone_region() -> str:
    """The region a phone number without ``+`` is read in (``INSURECRM_DEFAULT_PHONE_REGION``)."""
    if has_app_context():
        return current_app.config.get("DEFAULT_PHONE_REGION") or FALLBACK_PHONE_REGION
    return FALLBACK_PHONE_REGION


def normalise_phone(value: str, *, field: str = "phone", region: str | None = None) -> str:
    """The E.164 form of ``value`` (``"138 0013 8000"`` → ``"+8613800138000"``); a string that is not
    a valid number of its region raises ``ValidationError`` on ``field``."""
    e164 = _e164(value, region or default_phone_region())
    if e164 is None:
        raise ValidationError({field: [gettext("Not a valid phone number; give the country code (+44 ...) if not "
                                                "local.")]})
    return e164


@lru_cache(maxsize=8192)
def _e164(value: str, region: str) -> str | None:
    """The E.164 form of ``value`` read in ``region``, ``None`` when it is no valid number: remembered, since an
    import reads each row's numbers three times (the row, its likely duplicates, the record), 0.1 ms each."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
