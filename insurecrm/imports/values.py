"""Cell values as people type them in either language, turned into what the API's schemas load.

A spreadsheet saved by a Chinese office and one saved by an English one write the same date, amount or choice
differently: ``2024-03-05``, ``2024/3/5``, ``2024年3月5日``, ``20240305`` or a date cell; ``¥1,234.50``,
``１２３４.５``, ``1.2万``; ``是``, ``Y``, ``true``. The functions here accept those forms and give back the plain
form the API takes (an ISO date, a decimal string, a boolean, a code), so that every value then goes through the
very schema and service the API uses. A value they cannot read raises :class:`ValueError` with a message for the
import's report.

A date written with the day and the month both first (``3/5/2024``) is read only when it cannot be mistaken —
one of the two numbers is above 12, or both are equal —; otherwise the report asks for the year first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

#: the year first: 2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日, 2024-03-05 00:00:00 (a date time's date)
YEAR_FIRST = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
#: the year last: 5/3/2024, 05-03-2024, 5.3.2024
YEAR_LAST = re.compile(r"(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4})")
CURRENCY = re.compile(r"^(?:RMB|CNY|¥|\$|USD|HKD)\s*|\s*(?:元|RMB|CNY)$", re.IGNORECASE)
TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "是", "有", "同意", "√", "✓"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "否", "无", "不同意", "×", "✗"})
LIST_SEPARATORS = re.compile(r"\s*[;；,，、|]\s*")

DATE_MESSAGE = _l("Not a date: write it as 2024-03-05 (or 2024/3/5, 2024年3月5日).")
AMBIGUOUS_DATE = _l("%(value)s could be read two ways: write it with the year first, as 2024-03-05.")
NUMBER_MESSAGE = _l("Not a number.")
BOOLEAN_MESSAGE = _l("Write yes or no (是 or 否).")
CHOICE_MESSAGE = _l("Not one of: %(choices)s.")
LOST_DIGITS = _l("The spreadsheet stored this as a number and lost its last digits: format the column as text "
                 "and type it again.")


def normalise(text: str) -> str:
    """Full-width characters as their plain forms (``１２３`` → ``123``, ``（`` → ``(``), outer spaces removed."""
    return unicodedata.normalize("NFKC", text).strip()


def cell_text(value) -> str | None:
    """A cell as text: ``None`` for an empty cell; a whole number stored as a float by a spreadsheet
    (``13800138000.0``) without its ``.0``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = normalise(str(value))
    return text or None


def parse_code(value) -> str:
    """A number that is a code (an ID number, a policy number): as text. A spreadsheet that stored such a number
    as a number kept 15 digits at most: an 18-digit resident ID comes back with its last digits lost, which is
    refused rather than imported wrong."""
    if isinstance(value, float) and abs(value) >= 1e15:
        raise ValueError(str(LOST_DIGITS))
    return cell_text(value) or ""


def parse_date(value) -> str:
    """An ISO date (``2024-03-05``) from a date cell or any form of :data:`YEAR_FIRST`, :data:`COMPACT` or an
    unmistakable :data:`YEAR_LAST`."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = cell_text(value) or ""
    if match := YEAR_FIRST.fullmatch(text) or COMPACT.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := YEAR_LAST.fullmatch(text):
        first, second, year = (int(part) for part in match.groups())
        if first <= 12 and second <= 12 and first != second:
            raise ValueError(str(AMBIGUOUS_DATE) % {"value": text})
        day, month = (first, second) if first > 12 or first == second else (second, first)
    else:
        raise ValueError(str(DATE_MESSAGE))
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        raise ValueError(str(DATE_MESSAGE)) from None


def parse_decimal(value) -> str:
    """A decimal string (``"1234.50"``) from a number cell or text such as ``¥1,234.50``, ``1 234.5``,
    ``１２３４.５`` or ``1.2万`` (ten thousands)."""
    if isinstance(value, bool):
        raise ValueError(str(NUMBER_MESSAGE))
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    text = CURRENCY.sub("", cell_text(value) or "")
    text = re.sub(r"[,\s']", "", text)
    factor = 1
    if text.endswith("万"):
        text, factor = text[:-1], 10_000
    try:
        number = Decimal(text) * factor
    except InvalidOperation:
        raise ValueError(str(NUMBER_MESSAGE)) from None
    if not number.is_finite():
        raise ValueError(str(NUMBER_MESSAGE))
    return str(number)


def parse_boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    text = (cell_text(value) or "").lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(str(BOOLEAN_MESSAGE))


def parse_list(value) -> list[str]:
    """Items separated by ``;``, ``,``, ``、`` or ``|`` (full-width forms too), empty items dropped."""
    return [item for item in LIST_SEPARATORS.split(cell_text(value) or "") if item]


class Choices:
    """The codes of a stored choice (an enumeration) as a file may write them: the code itself, or its label in
    English or in Chinese (``female``, ``Female``, ``女``), without regard to case or spaces."""

    def __init__(self, labels: Mapping[str, object], *, aliases: Mapping[str, str] | None = None) -> None:
        self.codes = list(labels)
        self.by_text: dict[str, str] = {}
        for code in self.codes:
            self.by_text[self._key(code)] = code
        for language in ("en", "zh"):
            with force_locale(language):
                for code, text in labels.items():
                    self.by_text.setdefault(self._key(str(text)), code)
        for text, code in (aliases or {}).items():
            self.by_text.setdefault(self._key(text), code)

    @staticmethod
    def _key(text: str) -> str:
        return re.sub(r"[\s_\-]+", "", normalise(text).lower())

    def __call__(self, value) -> str:
        code = self.by_text.get(self._key(cell_text(value) or ""))
        if code is None:
            raise ValueError(str(CHOICE_MESSAGE) % {"choices": ", ".join(self.codes)})
        return code

