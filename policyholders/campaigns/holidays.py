"""The holiday calendar that holiday-care campaigns run on (:class:`Holiday`): kept by admins, a year at a time.

An admin adds a date with its name, removes one, or fills a year from the calendar: the main day of each Chinese
public festival of that year, as the ``holidays`` package (``holidays.China``) gives them — the first day of each
festival's days off, never its observed (补假) days, swapped working days or the eve of the Spring Festival.

**Names.** A day filled from the calendar is stored with a stable English name (``Spring Festival``,
``Mid-Autumn Festival`` …) and shown in the reader's language (:func:`holiday_name`); two festivals on one day
(Mid-Autumn and National Day in 2020) are one holiday named ``Mid-Autumn Festival · National Day``. A name an admin
types is stored and shown as typed. Every change is audited (``Holiday`` is an audited model).
"""

from __future__ import annotations

from datetime import date

import holidays as holiday_calendars
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, pre_load, validate, validates
from sqlalchemy import extract, select

from insurecrm.api import Date, Schema
from insurecrm.db import db
from policyholders.campaigns.models import Holiday

#: the years a calendar is kept for (the ``holidays`` package computes China's festivals up to 2100)
FIRST_YEAR, LAST_YEAR = 2000, 2100
SEPARATOR = " · "
#: the festivals filled from the calendar: the ``holidays`` package's English name → the name stored, and its label
FESTIVALS: dict[str, tuple[str, object]] = {
    "New Year's Day": ("New Year's Day", _l("New Year's Day")),
    "Chinese New Year (Spring Festival)": ("Spring Festival", _l("Spring Festival")),
    "Tomb-Sweeping Day": ("Qingming Festival", _l("Qingming Festival")),
    "Labor Day": ("Labour Day", _l("Labour Day")),
    "Dragon Boat Festival": ("Dragon Boat Festival", _l("Dragon Boat Festival")),
    "Mid-Autumn Festival": ("Mid-Autumn Festival", _l("Mid-Autumn Festival")),
    "National Day": ("National Day", _l("National Day")),
}
_LABELS = dict(FESTIVALS.values())


class HolidaySchema(Schema):
    """A day of the calendar: its date (within the calendar's years) and its name (1 to 64 characters)."""

    day = Date(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))

    @pre_load
    def _strip(self, data, **_kwargs):
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            data = {**data, "name": data["name"].strip()}
        return data

    @validates("day")
    def _in_the_calendar(self, value: date, **_kwargs) -> None:
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise ValidationError(gettext("The calendar is kept for the years %(first)d to %(last)d.",
                                          first=FIRST_YEAR, last=LAST_YEAR))


def holiday_name(name: str) -> str:
    """``name`` for the reader: the festivals filled from the calendar in the reader's language, any other name as
    it was typed."""
    return SEPARATOR.join(str(_LABELS.get(part, part)) for part in name.split(SEPARATOR))


def holidays_of(year: int) -> list[Holiday]:
    """The holidays of ``year``, by date."""
    return list(db.session.scalars(select(Holiday).where(extract("year", Holiday.day) == year).order_by(Holiday.day)))


def add_holiday(data: dict) -> Holiday:
    """Add the day ``data`` (a loaded :class:`HolidaySchema`). Refuses (``ValidationError`` on ``day``) a date the
    calendar has already, saying under which name. Flushes (audited)."""
    taken = db.session.scalars(select(Holiday).where(Holiday.day == data["day"])).first()
    if taken is not None:
        raise ValidationError({"day": [gettext("The calendar has this date already: %(name)s.",
                                               name=holiday_name(taken.name))]})
    holiday = Holiday(day=data["day"], name=data["name"])
    db.session.add(holiday)
    db.session.flush()
    return holiday


def remove_holiday(holiday: Holiday) -> None:
    """Remove ``holiday`` from the calendar: holiday-care campaigns no longer run on it (runs already made stay).
    Flushes (audited)."""
    db.session.delete(holiday)
    db.session.flush()


def calendar_festivals(year: int) -> dict[date, str]:
    """The main day of each festival of :data:`FESTIVALS` in ``year`` (China's public holidays from the
    ``holidays`` package), with the name to store: the first day of each festival's days off."""
    first_days: dict[str, date] = {}
    calendar = holiday_calendars.China(years=year, language="en_US")
    for day, names in sorted(calendar.items()):
        for library_name in names.split("; "):
            festival = FESTIVALS.get(library_name)
            if festival is not None and festival[0] not in first_days:
                first_days[festival[0]] = day
    by_day: dict[date, list[str]] = {}
    for name, day in first_days.items():
        by_day.setdefault(day, []).append(name)
    return {day: SEPARATOR.join(names) for day, names in sorted(by_day.items())}


def fill_year(year: int) -> list[Holiday]:
    """Add to the calendar the festivals of ``year`` (:func:`calendar_festivals`) on dates it does not have yet —
    a date already there, whatever its name, is left as it is; the holidays added. Refuses (``ValidationError``) a
    year outside the calendar's. Flushes (audited)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError({"year": [gettext("The calendar is kept for the years %(first)d to %(last)d.",
                                                first=FIRST_YEAR, last=LAST_YEAR)]})
    have = {holiday.day for holiday in holidays_of(year)}
    added = [Holiday(day=day, name=name) for day, name in calendar_festivals(year).items() if day not in have]
    db.session.add_all(added)
    db.session.flush()
    return added
