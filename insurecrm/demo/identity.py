"""Valid-looking identity data: PRC resident IDs, unified social credit codes and mobile numbers.

A resident ID is a real region code (valid in the birth year, as python-stdnum checks it), the birth
date, a sequence number (odd for men, even for women) and the check digit from ``stdnum.cn.ric``.
"""

from __future__ import annotations

import random
from datetime import date
from functools import cache

from stdnum import numdb
from stdnum.cn import ric, uscc

from insurecrm.demo.reference import MOBILE_PREFIXES

FALLBACK_REGION_CODE = "110101"  # 北京市东城区: valid in every year
#: 10^8 and this multiplier are coprime, so ``serial → serial × M mod 10^8`` never repeats
_PHONE_MULTIPLIER = 48_271
_PHONE_OFFSET = 31_415_926


@cache
def _county_codes(city_prefix: str) -> tuple[tuple[str, int, int], ...]:
    """(code, first year, last year) of every county-level code under a city, from stdnum's table."""
    table = numdb.get("cn/loc")
    codes = []
    for suffix in range(1, 100):
        code = f"{city_prefix}{suffix:02d}"
        info = {key: value for _part, props in table.info(code) for key, value in props.items()}
        for county in info.get("county", "").split(","):
            if not county or county.endswith("市辖区"):
                continue
            first, last = 0, 9999
            if county.startswith("["):
                span, _name = county[1:].split("]")
                start, end = span.split("-")
                first, last = int(start or 0), int(end or 9999)
            codes.append((code, first, last))
    return tuple(codes)


@cache
def region_codes(city_prefix: str, year: int) -> tuple[str, ...]:
    """The region codes of a city that were in use in ``year`` (an ID's code must fit its birth year)."""
    return tuple(sorted({code for code, first, last in _county_codes(city_prefix) if first <= year <= last}))


def resident_id(rng: random.Random, city_prefix: str, birth: date, male: bool, used: set[str]) -> str:
    """A valid, unused 18-digit PRC resident ID for a person born in ``city_prefix`` on ``birth``."""
    codes = region_codes(city_prefix, birth.year) or (FALLBACK_REGION_CODE,)
    code = rng.choice(codes)
    sequence = rng.randrange(500) * 2 + (1 if male else 0)
    body = f"{code}{birth:%Y%m%d}{sequence:03d}"
    for _attempt in range(500):
        if body not in used:
            break
        # same region and birthday already taken: the next sequence number of the same sex
        sequence = (sequence + 2) % 1000
        body = f"{code}{birth:%Y%m%d}{sequence:03d}"
    used.add(body)
    # calc_check_digit reads the first 17 characters of an 18-character number
    return body + ric.calc_check_digit(body + "0")


def credit_code(region_code: str, serial: int) -> str:
    """A unified social credit code (统一社会信用代码) of an enterprise registered in ``region_code``."""
    body = f"91{region_code}{serial:09d}"
    return body + uscc.calc_check_digit(body)


def mobile_number(rng: random.Random, serial: int) -> str:
    """A Chinese mobile number in E.164, unique for each ``serial`` below 10^8."""
    tail = (serial * _PHONE_MULTIPLIER + _PHONE_OFFSET) % 100_000_000
    return f"+86{rng.choice(MOBILE_PREFIXES)}{tail:08d}"


def passport_number(serial: int) -> str:
    """A passport number in the 9-digit US format, unique for each ``serial`` below 10^9."""
    return f"{(serial * 7_919 + 500_000_000) % 1_000_000_000:09d}"
