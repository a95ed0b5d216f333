"""The agenda pages (day, week, the manager's team agenda), the activity pages (plan, reschedule, complete, cancel)
and the calendar files, read back with the icalendar package."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from agents.models import Activity, ActivityKind, ActivityStatus, TaskReason
from insurecrm import clock
from tests.agents.pipeline.test_activities import NOW, TODAY, build_office, planned
from tests.api_client import csrf_token
from tests.helpers import counted_queries


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def office(make):
    return build_office(make)


def sections(html: str) -> dict[str, list[int]]:
    """The activity ids listed in each section of an agenda page, by the section's id."""
    found: dict[str, list[int]] = {}
    for section_id, body in re.findall(r'<section class="card" id="([\w-]+)".*?>(.*?)</section>', html, re.S):
        found[section_id] = [int(n) for n in re.findall(r'data-activity="(\d+)"', body)]
    return found


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` on ``day`` in Shanghai (UTC+8) as a UTC instant."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


# -- the agenda ---------------------------------------------------------------------------------------

def test_the_week_agenda_lists_each_day_s_activities_and_tasks(web, office, make):
    # the week of Tuesday 1 December 2026 runs from Monday 30 November to Sunday 6 December
    monday = planned(make, office, at(date(2026, 11, 30), 9), subject="Monday visit")
    early_wednesday = planned(make, office, at(date(2026, 12, 2), 7, 30), subject="Early Wednesday call")
    task = planned(make, office, at(date(2026, 12, 2), 9), reason=TaskReason.NEW_POLICY_CALLBACK,
                   due_date=date(2026, 12, 2), source_key="t:1", kind=ActivityKind.CALLBACK)
    done = planned(make, office, at(date(2026, 12, 4), 15), status=ActivityStatus.DONE,
                   actual_start=at(date(2026, 12, 1), 8), actual_end=at(date(2026, 12, 1), 9), outcome="ok")
    cancelled = planned(make, office, at(date(2026, 12, 3), 10), status=ActivityStatus.CANCELLED)
    next_week = planned(make, office, at(date(2026, 12, 7), 0, 0))
    colleagues = planned(make, office, at(date(2026, 12, 2), 10), agent_id=office.colleague.id)
    response = web(office.agent_user).get("/agenda?view=week&date=2026-12-01")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # a done activity is listed on the day it happened; a cancelled one not at all
    assert sections(html) == {"day-2026-11-30": [monday.id], "day-2026-12-01": [done.id],
                              "day-2026-12-02": [early_wednesday.id, task.id], "day-2026-12-03": [],
                              "day-2026-12-04": [], "day-2026-12-05": [], "day-2026-12-06": []}
    listed = [n for ids in sections(html).values() for n in ids]
    assert not {next_week.id, colleagues.id, cancelled.id} & set(listed)
    assert f'href="/activities/{monday.id}"' in html and f'href="/activities/{task.id}"' in html
    # previous and next weeks
    assert 'href="/agenda?view=week&amp;date=2026-11-23"' in html
    assert 'href="/agenda?view=week&amp;date=2026-12-07"' in html
    following = web(office.agent_user).get("/agenda?view=week&date=2026-12-07").get_data(as_text=True)
    assert sections(following)["day-2026-12-07"] == [next_week.id]


def test_the_day_agenda_and_its_neighbours(web, office, make):
    today = planned(make, office, at(TODAY, 14), subject="Afternoon visit")
    planned(make, office, at(TODAY + timedelta(days=1), 14))
    html = web(office.agent_user).get("/agenda?view=day").get_data(as_text=True)
    assert sections(html) == {"day-2026-12-01": [today.id]}
    assert "2:00\u202fPM–3:00\u202fPM" in html  # the local time (06:00 UTC), in English
    assert 'href="/agenda?view=day&amp;date=2026-11-30"' in html
    assert 'href="/agenda?view=day&amp;date=2026-12-02"' in html


@pytest.mark.parametrize("query", ["view=month", "date=2026-13-01", "date=yesterday"])
def test_a_bad_period_is_a_422_page_not_an_error(web, office, query):
    response = web(office.agent_user).get(f"/agenda?{query}")
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)


def test_the_team_agenda_groups_the_branch_s_activities_by_agent(web, office, make):
    mine = planned(make, office, at(TODAY, 9))
    theirs = planned(make, office, at(TODAY, 11), agent_id=office.colleague.id)
    foreign = planned(make, office, at(TODAY, 11), agent_id=office.stranger.id, org_unit_id=office.other_branch.id)
    html = web(office.manager).get("/agenda/team?view=day").get_data(as_text=True)
    assert sections(html) == {f"agent-{office.agent.id}": [mine.id], f"agent-{office.colleague.id}": [theirs.id]}
    assert "Li Lei" in html and "Han Meimei" in html
    assert foreign.id not in [n for ids in sections(html).values() for n in ids]
    assert web(office.agent_user).get("/agenda/team").status_code == 403


def test_the_agenda_runs_the_same_queries_for_one_activity_or_thirty(web, office, make):
    client = web(office.agent_user)
    planned(make, office, at(TODAY, 9), policyholder_id=office.holder.id)
    with counted_queries() as few:
        assert client.get("/agenda").status_code == 200
    for n in range(30):
        planned(make, office, at(TODAY + timedelta(days=n % 5), 9 + n % 8), policyholder_id=office.holder.id)
    with counted_queries() as many:
        assert client.get("/agenda").status_code == 200
    assert len(few) == len(many)


# -- the activity pages ---------------------------------------------------------------------------------

def form(client, data: dict) -> dict:
    return {"csrf_token": csrf_token(client), **data}


def test_planning_a_weekly_activity_from_a_policyholder_on_the_page(web, office, session):
    client = web(office.agent_user)
    page = client.get(f"/activities/new?policyholder_id={office.holder.id}")
    assert page.status_code == 200 and "Wang Fang" in page.get_data(as_text=True)
    response = client.post(f"/activities/new?policyholder_id={office.holder.id}", data=form(client, {
        "policyholder_id": office.holder.id, "kind": "visit", "priority": "high", "subject": "Weekly review",
        "planned_start": "2026-12-03T10:00", "planned_end": "2026-12-03T11:00", "recurrence": "weekly",
        "recurrence_count": "3", "cost": "30.00"}))
    assert response.status_code == 302
    rows = session.scalars(select(Activity).where(Activity.subject == "Weekly review")
                           .order_by(Activity.series_position)).all()
    # typed on the insurer's clock: 10:00 in Shanghai is 02:00 UTC
    assert [row.planned_start for row in rows] == [datetime(2026, 12, day, 2, tzinfo=UTC) for day in (3, 10, 17)]
    assert {row.policyholder_id for row in rows} == {office.holder.id}
    assert {row.cost for row in rows} == {Decimal("30.00")}
    assert response.headers["Location"].endswith(f"/activities/{rows[0].id}")
    detail = client.get(f"/activities/{rows[0].id}").get_data(as_text=True)
    assert "occurrence 1 of 3" in detail


def test_a_refused_form_is_shown_again_with_its_messages_and_nothing_written(web, office, session):
    client = web(office.agent_user)
    before = session.scalar(select(func.count()).select_from(Activity))
    response = client.post("/activities/new", data=form(client, {
        "kind": "visit", "subject": "Backwards", "planned_start": "2026-12-03T10:00",
        "planned_end": "2026-12-03T09:00"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="activity-planned_end-error"' in html and 'value="Backwards"' in html
    assert session.scalar(select(func.count()).select_from(Activity)) == before


def test_the_policyholder_is_chosen_from_a_search_of_the_book(web, office, make, session):
    make.policyholder(owner=office.stranger, name="Wang Foreign")
    client = web(office.agent_user)
    html = client.get("/activities/new?q=Wang").get_data(as_text=True)
    assert re.findall(r'name="policyholder_id" value="(\d+)"', html) == [str(office.holder.id)]
    response = client.post("/activities/new", data=form(client, {
        "q": "Wang", "policyholder_id": office.holder.id, "kind": "call", "subject": "Call Mrs Wang",
        "planned_start": "2026-12-02T09:00"}))
    assert response.status_code == 302
    assert session.scalar(select(Activity.policyholder_id).where(Activity.subject == "Call Mrs Wang")) == \
        office.holder.id


def test_a_foreign_policyholder_in_the_link_is_a_404(web, office):
    assert web(office.agent_user).get(f"/activities/new?policyholder_id={office.foreign_holder.id}").status_code == 404


def test_rescheduling_this_and_the_following_on_the_page(web, office, session):
    client = web(office.agent_user)
    client.post("/activities/new", data=form(client, {
        "kind": "call", "subject": "Weekly call", "planned_start": "2026-12-03T10:00", "recurrence": "weekly",
        "recurrence_count": "3"}))
    series = session.scalars(select(Activity).where(Activity.subject == "Weekly call")
                             .order_by(Activity.series_position)).all()
    edit = client.get(f"/activities/{series[1].id}/edit").get_data(as_text=True)
    assert 'value="2026-12-10T10:00"' in edit
    response = client.post(f"/activities/{series[1].id}/edit", data=form(client, {
        "kind": "call", "priority": "normal", "subject": "Weekly call", "planned_start": "2026-12-10T15:30",
        "planned_end": "", "apply_to": "following"}))
    assert response.status_code == 302
    session.expire_all()
    assert [session.get(Activity, row.id).planned_start for row in series] == [
        datetime(2026, 12, 3, 2, tzinfo=UTC), datetime(2026, 12, 10, 7, 30, tzinfo=UTC),
        datetime(2026, 12, 17, 7, 30, tzinfo=UTC)]


def test_completing_on_the_page_with_an_outcome_and_an_evaluation(web, office, make, session):
    activity = planned(make, office, NOW - timedelta(hours=3))
    client = web(office.agent_user)
    refused = client.post(f"/activities/{activity.id}/complete", data=form(client, {"evaluation": "Good"}))
    assert refused.status_code == 422
    assert 'id="complete-outcome-error"' in refused.get_data(as_text=True)
    response = client.post(f"/activities/{activity.id}/complete", data=form(client, {
        "outcome": "Agreed to a quote", "evaluation": "Prepared, punctual", "actual_start": "2026-12-01T07:00",
        "actual_end": "2026-12-01T08:15"}))
    assert response.status_code == 302
    session.expire_all()
    done = session.get(Activity, activity.id)
    assert done.status == ActivityStatus.DONE
    assert (done.actual_start, done.actual_end) == (datetime(2026, 11, 30, 23, tzinfo=UTC),
                                                    datetime(2026, 12, 1, 0, 15, tzinfo=UTC))
    html = client.get(f"/activities/{activity.id}").get_data(as_text=True)
    assert "Agreed to a quote" in html and "Prepared, punctual" in html
    assert 'id="complete-activity"' not in html  # no more forms once done


def test_cancelling_on_the_page(web, office, make, session):
    activity = planned(make, office, NOW + timedelta(days=1))
    client = web(office.agent_user)
    assert client.post(f"/activities/{activity.id}/cancel", data=form(client, {"reason": "Holiday"})).status_code == 302
    session.expire_all()
    assert (session.get(Activity, activity.id).status, session.get(Activity, activity.id).outcome) == (
        ActivityStatus.CANCELLED, "Holiday")
    again = client.post(f"/activities/{activity.id}/cancel", data=form(client, {}))
    assert again.status_code == 422
    edit = client.get(f"/activities/{activity.id}/edit").get_data(as_text=True)
    assert "it can no longer be changed" in edit and 'id="edit-activity"' not in edit


def test_a_manager_plans_for_an_agent_of_the_branch_on_the_page(web, office, session):
    client = web(office.manager)
    page = client.get("/activities/new").get_data(as_text=True)
    assert f'<option value="{office.colleague.id}"' in page and f'<option value="{office.stranger.id}"' not in page
    response = client.post("/activities/new", data=form(client, {
        "agent_id": office.colleague.id, "kind": "meeting", "subject": "Coaching",
        "planned_start": "2026-12-04T16:00"}))
    assert response.status_code == 302
    row = session.scalar(select(Activity).where(Activity.subject == "Coaching"))
    assert (row.agent_id, row.org_unit_id) == (office.colleague.id, office.branch.id)


def test_another_agent_s_activity_is_a_404_and_admins_only_read(web, office, make):
    activity = planned(make, office, NOW + timedelta(days=1))
    colleague = web(office.colleague_user)
    assert colleague.get(f"/activities/{activity.id}").status_code == 404
    assert colleague.post(f"/activities/{activity.id}/cancel", data=form(colleague, {})).status_code == 404
    admin = web(office.admin)
    page = admin.get(f"/activities/{activity.id}")
    assert page.status_code == 200 and 'id="cancel-activity"' not in page.get_data(as_text=True)
    assert admin.get(f"/activities/{activity.id}/edit").status_code == 403
    assert web(office.actuary).get(f"/activities/{activity.id}").status_code == 403


# -- calendar files ---------------------------------------------------------------------------------------

def test_the_agenda_calendar_file_holds_the_planned_activities_with_stable_uids(web, office, make, session):
    client = web(office.agent_user)
    client.post("/activities/new", data=form(client, {
        "kind": "visit", "subject": "Weekly visit", "planned_start": "2026-12-03T10:00",
        "planned_end": "2026-12-03T10:45", "recurrence": "weekly", "recurrence_count": "3"}))
    series = session.scalars(select(Activity).where(Activity.subject == "Weekly visit")
                             .order_by(Activity.series_position)).all()
    too_old = planned(make, office, NOW - timedelta(days=31))
    too_far = planned(make, office, NOW + timedelta(days=367))
    done = planned(make, office, NOW - timedelta(days=2), status=ActivityStatus.DONE)
    theirs = planned(make, office, NOW + timedelta(days=2), agent_id=office.colleague.id)
    kept_old = planned(make, office, NOW - timedelta(days=29), subject="Last month")

    response = client.get("/agenda.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = {str(event["uid"]): event for event in calendar.walk("VEVENT")}
    assert set(events) == {f"activity-{row.id}@insurecrm" for row in [*series, kept_old]}
    assert not {f"activity-{row.id}@insurecrm" for row in (too_old, too_far, done, theirs)} & set(events)
    # each occurrence its own event, in UTC: 10:00–10:45 in Shanghai is 02:00–02:45 UTC
    assert [(events[f"activity-{row.id}@insurecrm"].decoded("dtstart"),
             events[f"activity-{row.id}@insurecrm"].decoded("dtend")) for row in series] == [
        (datetime(2026, 12, day, 2, tzinfo=UTC), datetime(2026, 12, day, 2, 45, tzinfo=UTC)) for day in (3, 10, 17)]
    assert str(events[f"activity-{series[0].id}@insurecrm"]["summary"]) == "Weekly visit"
    assert b"DTSTART:20261203T020000Z" in response.data
    # the same activity, moved, keeps its UID: calendars update it
    client.post(f"/activities/{series[0].id}/edit", data=form(client, {
        "kind": "visit", "priority": "normal", "subject": "Weekly visit", "planned_start": "2026-12-03T16:00",
        "planned_end": "2026-12-03T16:45"}))
    moved = Calendar.from_ical(client.get(f"/activities/{series[0].id}.ics").data)
    (event,) = moved.walk("VEVENT")
    assert str(event["uid"]) == f"activity-{series[0].id}@insurecrm"
    assert event.decoded("dtstart") == datetime(2026, 12, 3, 8, tzinfo=UTC)


def test_another_agent_s_calendar_file_is_a_404(web, office, make):
    activity = planned(make, office, NOW + timedelta(days=1))
    assert web(office.colleague_user).get(f"/activities/{activity.id}.ics").status_code == 404
    assert web(office.manager).get(f"/activities/{activity.id}.ics").status_code == 200


def test_a_manager_s_own_agenda_holds_what_they_planned_for_themselves_and_their_escalations(web, office, make):
    own = planned(make, office, at(TODAY, 15), agent_id=None, assignee_user_id=office.manager.id, subject="Review")
    escalation = planned(make, office, at(TODAY, 9), agent_id=None, assignee_user_id=office.manager.id,
                         reason=TaskReason.RENEWAL_ESCALATION, due_date=TODAY, source_key="esc:1")
    agents = planned(make, office, at(TODAY, 10))  # the agent's: in the team agenda, not the manager's own
    html = web(office.manager).get("/agenda?view=day").get_data(as_text=True)
    assert sections(html) == {"day-2026-12-01": [escalation.id, own.id]}
    team = web(office.manager).get("/agenda/team?view=day").get_data(as_text=True)
    assert sections(team)[f"agent-{office.agent.id}"] == [agents.id]
    detail = web(office.manager).get(f"/activities/{escalation.id}").get_data(as_text=True)
    assert "complete it on the Tasks page" in detail and 'id="complete-activity"' not in detail


@pytest.mark.parametrize("path", ["/agenda", "/agenda?view=day", "/activities/new"])
def test_the_pages_speak_chinese(web, office, make, path):
    planned(make, office, at(TODAY, 9), subject="拜访")
    client = web(office.agent_user)
    with client.session_transaction() as session:
        session["lang"] = "zh"
    response = client.get(path)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in response.get_data(as_text=True)
