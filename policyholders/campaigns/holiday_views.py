"""The admin page of the holiday calendar (``/admin/holidays?year=2027``): a year's holidays, add a date with its
name, remove one, or fill the year from the calendar (the Chinese public festivals). Admins only; the rules live
in :mod:`policyholders.campaigns.holidays`, and every change is audited."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from marshmallow import ValidationError

from insurecrm import clock
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.i18n import day as day_text
from insurecrm.models import Role
from insurecrm.web import id_or_404, load_form, page_roles, query_int
from policyholders.campaigns import holidays as services
from policyholders.campaigns.models import Holiday

bp = Blueprint("holidays_admin", __name__, url_prefix="/admin", template_folder="templates")
WEB_BLUEPRINTS = (bp,)
admin_only = page_roles(Role.ADMIN)


def _year(value: int | None) -> int:
    """The year asked for (this year when none); a 422 page for a year outside the calendar's."""
    year = clock.today().year if value is None else value
    if not services.FIRST_YEAR <= year <= services.LAST_YEAR:
        raise ValidationError({"year": [_("The calendar is kept for the years %(first)d to %(last)d.",
                                          first=services.FIRST_YEAR, last=services.LAST_YEAR)]})
    return year


@bp.get("/holidays")
@admin_only
def holidays():
    """The holidays of ``?year=`` (this year by default), with the forms to add, remove and fill."""
    return _page(_year(query_int("year")))


@bp.post("/holidays")
@admin_only
def add():
    """Add a date with its name; the page of its year again with the messages (422) when refused."""
    try:
        holiday = services.add_holiday(load_form(services.HolidaySchema()))
    except ValidationError as exc:
        db.session.rollback()
        year = _year(query_int("year"))
        return _page(year, errors=flatten_messages(exc.normalized_messages()), form=request.form, status=422)
    db.session.commit()
    flash(_("%(name)s added on %(day)s.", name=services.holiday_name(holiday.name), day=day_text(holiday.day)),
          "success")
    return redirect(url_for(".holidays", year=holiday.day.year))


@bp.post("/holidays/delete")
@admin_only
def remove():
    """Remove the holiday ``holiday_id`` (a 404 for none)."""
    holiday = db.session.get(Holiday, id_or_404("holiday_id", request.form) or 0) or abort(404)
    year, name = holiday.day.year, services.holiday_name(holiday.name)
    services.remove_holiday(holiday)
    db.session.commit()
    flash(_("%(name)s removed.", name=name), "success")
    return redirect(url_for(".holidays", year=year))


@bp.post("/holidays/fill")
@admin_only
def fill():
    """Fill the year ``year`` (form) from the calendar; dates already there are left as they are."""
    year = _year(_form_year())
    added = services.fill_year(year)
    db.session.commit()
    if added:
        flash(ngettext("%(num)d holiday added from the calendar.", "%(num)d holidays added from the calendar.",
                       len(added)), "success")
    else:
        flash(_("The calendar had nothing to add: every festival of %(year)d is there.", year=year), "info")
    return redirect(url_for(".holidays", year=year))


def _form_year() -> int | None:
    text = request.form.get("year", "").strip()
    if not text.isdigit() or len(text) > 4:
        raise ValidationError({"year": [_("Give a year, such as %(year)d.", year=clock.today().year)]})
    return int(text)


def _page(year: int, *, errors: dict | None = None, form=None, status: int = 200):
    """The year's page; ``missing``: how many festivals of the calendar filling the year would add."""
    days = services.holidays_of(year)
    have = {holiday.day for holiday in days}
    missing = sum(1 for day in services.calendar_festivals(year) if day not in have)
    return render_template("campaigns/holidays.html", year=year, days=days, name_of=services.holiday_name,
                           errors=errors or {}, form=form or {}, missing=missing, first_year=services.FIRST_YEAR,
                           last_year=services.LAST_YEAR), status
