"""The holiday calendar's admin page (policyholders/campaigns/holiday_views.py): a year's holidays, add one (a date
the calendar has already is refused, saying why), remove one, fill the year with the Chinese public festivals of the
``holidays`` package; audited; admins only."""

from __future__ import annotations

from datetime import date

import holidays as holiday_calendars
import pytest
from sqlalchemy import select

from insurecrm.models import AuditLog, Role
from policyholders.campaigns.holidays import calendar_festivals, holiday_name
from policyholders.campaigns.models import Holiday
from tests.api_client import csrf_token


@pytest.fixture
def admin(make, web):
    client = web(make.user(Role.ADMIN, preferred_language="en"))
    client.token = csrf_token(client)
    return client


def post(client, url: str, **data):
    return client.post(url, data={"csrf_token": client.token, **data})


def calendar(session) -> dict[date, str]:
    session.expire_all()
    return {holiday.day: holiday.name for holiday in session.scalars(select(Holiday).order_by(Holiday.day))}


def test_an_admin_adds_a_holiday_and_a_second_on_its_date_is_refused(admin, session):
    response = post(admin, "/admin/holidays?year=2027", day="2027-10-08", name="  Double Ninth Festival  ")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/holidays?year=2027")
    assert calendar(session) == {date(2027, 10, 8): "Double Ninth Festival"}

    refused = post(admin, "/admin/holidays?year=2027", day="2027-10-08", name="重阳节")
    assert refused.status_code == 422
    assert "The calendar has this date already: Double Ninth Festival." in refused.get_data(as_text=True)
    assert calendar(session) == {date(2027, 10, 8): "Double Ninth Festival"}

    page = admin.get("/admin/holidays?year=2027").get_data(as_text=True)
    assert 'data-day="2027-10-08"' in page and "Double Ninth Festival" in page
    assert 'data-day="2027-10-08"' not in admin.get("/admin/holidays?year=2028").get_data(as_text=True)
    [entry] = session.scalars(select(AuditLog).where(AuditLog.entity_type == "holidays")).all()
    assert entry.action == "create"


@pytest.mark.parametrize("day, name", [("", "A name"), ("2027-02-30", "A name"), ("1999-12-31", "Too early"),
                                       ("2101-01-01", "Too late"), ("2027-03-01", ""), ("2027-03-01", "x" * 65)])
def test_a_holiday_out_of_bounds_is_refused_with_its_message(admin, session, day, name):
    response = post(admin, "/admin/holidays", day=day, name=name)
    assert response.status_code == 422
    assert 'class="field-error"' in response.get_data(as_text=True)
    assert calendar(session) == {}


def test_an_admin_removes_a_holiday(admin, session):
    post(admin, "/admin/holidays", day="2027-03-08", name="Women's Day")
    [holiday_id] = session.scalars(select(Holiday.id)).all()
    response = post(admin, "/admin/holidays/delete", holiday_id=str(holiday_id))
    assert response.status_code == 302 and response.headers["Location"].endswith("year=2027")
    assert calendar(session) == {}
    assert post(admin, "/admin/holidays/delete", holiday_id=str(holiday_id)).status_code == 404
    assert post(admin, "/admin/holidays/delete", holiday_id="99999999999").status_code == 404
    actions = session.scalars(select(AuditLog.action).where(AuditLog.entity_type == "holidays")
                              .order_by(AuditLog.id)).all()
    assert actions == ["create", "delete"]


def test_filling_2027_adds_the_main_day_of_each_festival_once(admin, session):
    post(admin, "/admin/holidays", day="2027-10-01", name="国庆")  # a day the admin named already: kept
    response = post(admin, "/admin/holidays/fill", year="2027")
    assert response.status_code == 302
    filled = calendar(session)
    assert filled[date(2027, 2, 6)] == "Spring Festival"
    assert filled[date(2027, 9, 15)] == "Mid-Autumn Festival"
    assert filled[date(2027, 10, 1)] == "国庆"
    assert set(filled) == {date(2027, 1, 1), date(2027, 2, 6), date(2027, 4, 5), date(2027, 5, 1), date(2027, 6, 9),
                           date(2027, 9, 15), date(2027, 10, 1)}
    # what the library says of those days, not only what we expect of it
    library = holiday_calendars.China(years=2027, language="en_US")
    assert "Spring Festival" in library[date(2027, 2, 6)] and date(2027, 2, 5) in library  # the eve: not filled
    assert "Spring Festival" not in library.get(date(2027, 2, 5), "")
    assert library[date(2027, 9, 15)] == "Mid-Autumn Festival"
    assert all("observed" not in library[day] for day in calendar_festivals(2027))

    post(admin, "/admin/holidays/fill", year="2027")  # again: nothing twice
    assert calendar(session) == filled
    page = admin.get("/admin/holidays?year=2027").get_data(as_text=True)
    assert "Spring Festival" in page and "Mid-Autumn Festival" in page


def test_festivals_on_one_day_are_one_holiday_shown_in_the_readers_language(app, session):
    assert calendar_festivals(2020)[date(2020, 10, 1)] == "Mid-Autumn Festival · National Day"
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert holiday_name("Mid-Autumn Festival · National Day") in (
            "中秋节 · 国庆节", "Mid-Autumn Festival · National Day")  # before the catalogue has them
        assert holiday_name("重阳节") == "重阳节"


@pytest.mark.parametrize("url", ["/admin/holidays?year=1999", "/admin/holidays?year=2101", "/admin/holidays?year=x"])
def test_a_year_outside_the_calendar_is_a_422(admin, url):
    assert admin.get(url).status_code == 422


def test_a_year_to_fill_outside_the_calendar_is_refused(admin, session):
    for year in ("1999", "", "20277"):
        assert post(admin, "/admin/holidays/fill", year=year).status_code == 422
    assert calendar(session) == {}


@pytest.mark.parametrize("role", [role for role in Role if role != Role.ADMIN])
def test_other_roles_are_refused(make, web, session, role):
    client = web(make.user(role))
    token = csrf_token(client)
    assert client.get("/admin/holidays").status_code == 403
    for url, data in (("/admin/holidays", {"day": "2027-03-08", "name": "X"}), ("/admin/holidays/fill",
                                                                               {"year": "2027"})):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403
    assert calendar(session) == {}


def test_the_admin_start_page_links_the_calendar(admin):
    assert "/admin/holidays" in admin.get("/admin").get_data(as_text=True)
