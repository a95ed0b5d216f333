"""Activities (销售活动) through the API: planned with every field, recurring series expanded by the recurrence rule,
rescheduled (one occurrence or the following), completed with an outcome and an evaluation, cancelled; scope and
roles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from agents.models import Activity, ActivityKind, ActivityStatus, Opportunity, OrgUnitKind, Priority, TaskReason
from insurecrm import clock
from insurecrm.models import AuditLog, Role
from tests.helpers import saved

#: 10:00 on Tuesday 1 December 2026 in Shanghai (the tests' insurer zone, UTC+8, no daylight saving)
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def office(make):
    return build_office(make)


def build_office(make) -> SimpleNamespace:
    """Branch A with a manager, an agent (with a policyholder and an opportunity) and a colleague; branch B with an
    agent of its own and its policyholder."""
    company = make.org_unit(kind=OrgUnitKind.COMPANY)
    branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    other_branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    agent, colleague, stranger = make.agent(branch, name="Li Lei"), make.agent(branch, name="Han Meimei"), \
        make.agent(other_branch)
    holder = make.policyholder(owner=agent, name="Wang Fang")
    other_holder = make.policyholder(owner=agent, name="Zhao Min")
    foreign_holder = make.policyholder(owner=stranger, name="Foreign Holder")
    stage = make.stage(position=1)
    opportunity = saved(make, Opportunity(title="Family cover", policyholder_id=holder.id, owner_agent_id=agent.id,
                                          org_unit_id=branch.id, stage_id=stage.id, probability=stage.probability))
    foreign_opportunity = saved(make, Opportunity(title="Not yours", policyholder_id=foreign_holder.id,
                                                  owner_agent_id=stranger.id, org_unit_id=other_branch.id,
                                                  stage_id=stage.id, probability=stage.probability))
    return SimpleNamespace(
        branch=branch, other_branch=other_branch, agent=agent, colleague=colleague, stranger=stranger,
        holder=holder, other_holder=other_holder, foreign_holder=foreign_holder, opportunity=opportunity,
        foreign_opportunity=foreign_opportunity,
        agent_user=make.user(Role.AGENT, agent_id=agent.id),
        colleague_user=make.user(Role.AGENT, agent_id=colleague.id),
        manager=make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id),
        other_manager=make.user(Role.BRANCH_MANAGER, org_unit_id=other_branch.id),
        admin=make.user(Role.ADMIN), actuary=make.user(Role.ACTUARY))


def planned(make, office, start: datetime, **kw) -> Activity:
    """A single planned activity of the office's agent."""
    fields = {"agent_id": office.agent.id, "org_unit_id": office.branch.id, "kind": ActivityKind.VISIT,
              "subject": "Visit", "planned_start": start, "planned_end": start + timedelta(hours=1)}
    return saved(make, Activity(**{**fields, **kw}))


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Activity))


# -- planning -------------------------------------------------------------------------------------------

def test_an_activity_is_planned_with_every_field_of_the_spec(api, office, session):
    body = {"kind": "visit", "priority": "high", "subject": "Review the family's cover",
            "description": "Bring the health rider brochure", "planned_start": "2026-12-03T02:00:00Z",
            "planned_end": "2026-12-03T03:30:00Z", "policyholder_id": office.holder.id, "contact_name": "Mrs Wang",
            "opportunity_id": office.opportunity.id, "cost": "120.50"}
    response = api(office.agent_user).post("/api/v1/activities", json=body)
    assert response.status_code == 201, response.json
    activity = response.json["activity"]
    assert response.json["series"] == []
    assert {key: activity[key] for key in body} == {**body, "planned_start": "2026-12-03T02:00:00+00:00",
                                                   "planned_end": "2026-12-03T03:30:00+00:00"}
    assert activity["status"] == "planned" and activity["recurrence"] == "none" and activity["series_id"] is None
    assert activity["agent_id"] == office.agent.id and activity["org_unit_id"] == office.branch.id
    stored = session.get(Activity, activity["id"])
    assert stored.cost == Decimal("120.50")
    assert session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.entity_type == "activities", AuditLog.entity_id == stored.id)) == 1
    assert api(office.agent_user).get(f"/api/v1/activities/{stored.id}").json == activity


def test_the_opportunitys_policyholder_is_taken_when_only_the_opportunity_is_given(api, office):
    response = api(office.agent_user).post("/api/v1/activities", json={
        "kind": "call", "subject": "Follow up", "planned_start": "2026-12-02T01:00:00Z",
        "opportunity_id": office.opportunity.id})
    assert response.status_code == 201
    assert response.json["activity"]["policyholder_id"] == office.holder.id


@pytest.mark.parametrize(("change", "field"), [
    ({"planned_end": "2026-12-03T01:59:00Z"}, "planned_end"),  # a minute before the start
    ({"planned_end": "2027-01-04T02:00:00Z"}, "planned_end"),  # 32 days long
    ({"cost": "-1.00"}, "cost"),
    ({"cost": "1.005"}, "cost"),
    ({"subject": ""}, "subject"),
    ({"subject": "x" * 201}, "subject"),
    ({"kind": "party"}, "kind"),
    ({"priority": "whenever"}, "priority"),
    ({"contact_name": "x" * 121}, "contact_name"),
    ({"recurrence": "weekly"}, "recurrence_until"),  # neither an end date nor a count
    ({"recurrence": "weekly", "recurrence_count": 3, "recurrence_until": "2026-12-31"}, "recurrence_until"),
    ({"recurrence": "daily", "recurrence_until": "2027-06-01"}, "recurrence_until"),  # 181 occurrences
    ({"recurrence": "daily", "recurrence_count": 101}, "recurrence_count"),
    ({"recurrence": "weekly", "recurrence_until": "2026-12-02"}, "recurrence_until"),  # before the start (03)
    ({"recurrence_count": 3}, "recurrence"),  # a count, but no recurrence
    ({"recurrence": "weekly", "recurrence_count": 2, "status": "done", "outcome": "x"}, "recurrence"),
])
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_written(api, office, session, change, field):
    before = count(session)
    body = {"kind": "visit", "subject": "Visit", "planned_start": "2026-12-03T02:00:00Z",
            "planned_end": "2026-12-03T03:00:00Z", **change}
    response = api(office.agent_user).post("/api/v1/activities", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"], response.json
    assert count(session) == before


@pytest.mark.parametrize(("link", "field"), [("foreign_holder", "policyholder_id"),
                                              ("foreign_opportunity", "opportunity_id")])
def test_a_policyholder_or_opportunity_outside_the_book_is_refused(api, office, session, link, field):
    before = count(session)
    response = api(office.agent_user).post("/api/v1/activities", json={
        "kind": "call", "subject": "Call", "planned_start": "2026-12-02T01:00:00Z",
        field: getattr(office, link).id})
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert count(session) == before


def test_an_opportunity_of_another_policyholder_is_refused(api, office):
    response = api(office.agent_user).post("/api/v1/activities", json={
        "kind": "call", "subject": "Call", "planned_start": "2026-12-02T01:00:00Z",
        "policyholder_id": office.other_holder.id, "opportunity_id": office.opportunity.id})
    assert response.status_code == 422
    assert "opportunity_id" in response.json["errors"]


def test_who_plans_for_whom(api, office):
    body = {"kind": "meeting", "subject": "Team meeting", "planned_start": "2026-12-02T01:00:00Z"}
    # an agent plans only their own
    refused = api(office.agent_user).post("/api/v1/activities", json={**body, "agent_id": office.colleague.id})
    assert refused.status_code == 422 and "agent_id" in refused.json["errors"]
    # a manager plans for an agent of the branch, not of another branch
    for_agent = api(office.manager).post("/api/v1/activities", json={**body, "agent_id": office.colleague.id})
    assert for_agent.status_code == 201
    assert for_agent.json["activity"]["agent_id"] == office.colleague.id
    assert for_agent.json["activity"]["org_unit_id"] == office.branch.id
    outside = api(office.manager).post("/api/v1/activities", json={**body, "agent_id": office.stranger.id})
    assert outside.status_code == 422 and "agent_id" in outside.json["errors"]
    # without an agent, the manager's own activity, in the manager's unit
    own = api(office.manager).post("/api/v1/activities", json=body)
    assert own.status_code == 201
    assert own.json["activity"]["assignee_user_id"] == office.manager.id
    assert own.json["activity"]["agent_id"] is None
    # the colleague sees the one planned for them; the agent does not
    activity_id = for_agent.json["activity"]["id"]
    assert api(office.colleague_user).get(f"/api/v1/activities/{activity_id}").status_code == 200
    assert api(office.agent_user).get(f"/api/v1/activities/{activity_id}").status_code == 404
    assert api(office.other_manager).get(f"/api/v1/activities/{activity_id}").status_code == 404


def test_admins_read_and_actuaries_are_refused(api, office, make):
    activity = planned(make, office, NOW + timedelta(days=1))
    assert api(office.admin).get(f"/api/v1/activities/{activity.id}").status_code == 200
    assert api(office.admin).post("/api/v1/activities", json={
        "kind": "call", "subject": "Call", "planned_start": "2026-12-02T01:00:00Z"}).status_code == 403
    assert api(office.admin).post(f"/api/v1/activities/{activity.id}/cancel", json={}).status_code == 403
    assert api(office.actuary).get(f"/api/v1/activities/{activity.id}").status_code == 403
    assert api(office.actuary).get("/api/v1/activities").status_code == 403


def test_an_activity_logged_as_done_at_once(api, office):
    response = api(office.agent_user).post("/api/v1/activities", json={
        "kind": "visit", "subject": "Walk-in", "planned_start": "2026-11-30T06:00:00Z",
        "planned_end": "2026-11-30T07:00:00Z", "status": "done", "outcome": "Interested in motor cover",
        "evaluation": "Warm lead"})
    assert response.status_code == 201, response.json
    activity = response.json["activity"]
    assert activity["status"] == "done"
    assert (activity["actual_start"], activity["actual_end"]) == ("2026-11-30T06:00:00+00:00",
                                                                  "2026-11-30T07:00:00+00:00")
    assert (activity["outcome"], activity["evaluation"]) == ("Interested in motor cover", "Warm lead")


# -- recurring series -----------------------------------------------------------------------------------

def test_a_weekly_activity_is_planned_as_its_occurrences_up_to_a_date(api, office, session):
    # Thursday 3 December 2026, 10:00 in Shanghai, weekly until 31 December: 3, 10, 17, 24 and 31 December
    response = api(office.agent_user).post("/api/v1/activities", json={
        "kind": "visit", "subject": "Weekly visit", "planned_start": "2026-12-03T02:00:00Z",
        "planned_end": "2026-12-03T02:45:00Z", "recurrence": "weekly", "recurrence_until": "2026-12-31"})
    assert response.status_code == 201, response.json
    series = [response.json["activity"], *response.json["series"]]
    assert [item["planned_start"] for item in series] == [
        f"2026-12-{day:02d}T02:00:00+00:00" for day in (3, 10, 17, 24, 31)]
    assert [item["planned_end"] for item in series] == [
        f"2026-12-{day:02d}T02:45:00+00:00" for day in (3, 10, 17, 24, 31)]
    first = series[0]["id"]
    assert [(item["series_id"], item["series_position"]) for item in series] == [(first, n) for n in range(1, 6)]
    assert {item["recurrence_until"] for item in series} == {"2026-12-31"}
    listed = api(office.agent_user).get(f"/api/v1/activities?series_id={first}").json
    assert listed["meta"]["total"] == 5


def test_a_count_bounds_the_series_and_monthly_keeps_the_day(api, office):
    # monthly from 15 January 2027, three times: 15 January, 15 February, 15 March
    response = api(office.agent_user).post("/api/v1/activities", json={
        "kind": "call", "subject": "Monthly call", "planned_start": "2027-01-15T01:00:00Z",
        "recurrence": "monthly", "recurrence_count": 3})
    series = [response.json["activity"], *response.json["series"]]
    assert [item["planned_start"][:10] for item in series] == ["2027-01-15", "2027-02-15", "2027-03-15"]
    assert {item["recurrence_until"] for item in series} == {"2027-03-15"}


def test_occurrences_keep_the_local_time_across_a_change_of_daylight_saving(api, office, app, monkeypatch):
    monkeypatch.setitem(app.config, "TIMEZONE", "Europe/Berlin")
    # Monday 19 October 2026, 10:00 in Berlin (CEST, UTC+2); summer time ends on Sunday 25 October: the next
    # Mondays at 10:00 are CET, UTC+1
    response = api(office.agent_user).post("/api/v1/activities", json={
        "kind": "meeting", "subject": "Monday meeting", "planned_start": "2026-10-19T08:00:00Z",
        "recurrence": "weekly", "recurrence_count": 3})
    series = [response.json["activity"], *response.json["series"]]
    assert [item["planned_start"] for item in series] == [
        "2026-10-19T08:00:00+00:00", "2026-10-26T09:00:00+00:00", "2026-11-02T09:00:00+00:00"]


def weekly_series(api, office, count: int = 4) -> list[dict]:
    """Thursdays 3, 10, 17, 24 December 2026 at 10:00–11:00 in Shanghai."""
    response = api(office.agent_user).post("/api/v1/activities", json={
        "kind": "visit", "subject": "Weekly visit", "planned_start": "2026-12-03T02:00:00Z",
        "planned_end": "2026-12-03T03:00:00Z", "recurrence": "weekly", "recurrence_count": count})
    return [response.json["activity"], *response.json["series"]]


def test_rescheduling_this_and_the_following_occurrences(api, office, session):
    series = weekly_series(api, office)
    client = api(office.agent_user)
    # the fourth is done already: it stays where it happened
    assert client.post(f"/api/v1/activities/{series[3]['id']}/complete", json={
        "outcome": "Met early", "actual_start": "2026-11-30T02:00:00Z",
        "actual_end": "2026-11-30T02:30:00Z"}).status_code == 200
    # the second moves a day and an hour later (Friday 11 December, 11:00) and lasts 30 minutes
    response = client.patch(f"/api/v1/activities/{series[1]['id']}", json={
        "planned_start": "2026-12-11T03:00:00Z", "planned_end": "2026-12-11T03:30:00Z", "apply_to": "following",
        "priority": "urgent"})
    assert response.status_code == 200, response.json
    assert [item["id"] for item in response.json["series"]] == [series[2]["id"]]
    starts = {item["id"]: (item["planned_start"], item["planned_end"], item["priority"]) for item in
              client.get(f"/api/v1/activities?series_id={series[0]['id']}").json["items"]}
    assert starts == {
        series[0]["id"]: ("2026-12-03T02:00:00+00:00", "2026-12-03T03:00:00+00:00", "normal"),
        series[1]["id"]: ("2026-12-11T03:00:00+00:00", "2026-12-11T03:30:00+00:00", "urgent"),
        series[2]["id"]: ("2026-12-18T03:00:00+00:00", "2026-12-18T03:30:00+00:00", "urgent"),
        series[3]["id"]: ("2026-12-24T02:00:00+00:00", "2026-12-24T03:00:00+00:00", "normal"),
    }


def test_rescheduling_one_occurrence_keeps_its_duration_and_leaves_the_others(api, office):
    series = weekly_series(api, office, 3)
    client = api(office.agent_user)
    response = client.patch(f"/api/v1/activities/{series[0]['id']}", json={"planned_start": "2026-12-04T06:00:00Z"})
    assert response.status_code == 200
    assert (response.json["activity"]["planned_start"], response.json["activity"]["planned_end"]) == (
        "2026-12-04T06:00:00+00:00", "2026-12-04T07:00:00+00:00")
    assert response.json["series"] == []
    assert client.get(f"/api/v1/activities/{series[1]['id']}").json["planned_start"] == "2026-12-10T02:00:00+00:00"


def test_cancelling_this_and_the_following_occurrences(api, office):
    series = weekly_series(api, office)
    client = api(office.agent_user)
    response = client.post(f"/api/v1/activities/{series[2]['id']}/cancel",
                           json={"reason": "Client moved away", "apply_to": "following"})
    assert response.status_code == 200
    statuses = {item["id"]: (item["status"], item["outcome"]) for item in
                client.get(f"/api/v1/activities?series_id={series[0]['id']}").json["items"]}
    assert statuses == {series[0]["id"]: ("planned", None), series[1]["id"]: ("planned", None),
                        series[2]["id"]: ("cancelled", "Client moved away"),
                        series[3]["id"]: ("cancelled", "Client moved away")}
    # once cancelled, it cannot be rescheduled, completed or cancelled again
    for method, path, body in (("PATCH", "", {"planned_start": "2026-12-20T02:00:00Z"}),
                               ("POST", "/complete", {"outcome": "x"}), ("POST", "/cancel", {})):
        refused = client._call(method, f"/api/v1/activities/{series[3]['id']}{path}", json=body)
        assert refused.status_code == 422 and "status" in refused.json["errors"], (method, path)


# -- completing -----------------------------------------------------------------------------------------

def test_completing_with_an_outcome_and_an_evaluation_at_now_by_default(api, office, make, session):
    activity = planned(make, office, NOW - timedelta(hours=2), cost=Decimal("50.00"))
    client = api(office.agent_user)
    response = client.post(f"/api/v1/activities/{activity.id}/complete", json={
        "outcome": "Signed the proposal form", "evaluation": "Well prepared; the client trusts us",
        "cost": "80.00"})
    assert response.status_code == 200, response.json
    done = response.json
    assert done["status"] == "done"
    assert done["actual_start"] == done["actual_end"] == "2026-12-01T02:00:00+00:00"  # NOW
    assert (done["outcome"], done["evaluation"], done["cost"]) == (
        "Signed the proposal form", "Well prepared; the client trusts us", "80.00")
    assert done["completed_by_user_id"] == office.agent_user.id
    again = client.post(f"/api/v1/activities/{activity.id}/complete", json={"outcome": "Twice"})
    assert again.status_code == 422 and "status" in again.json["errors"]
    assert session.get(Activity, activity.id).outcome == "Signed the proposal form"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "outcome"),
    ({"outcome": "   "}, "outcome"),
    ({"outcome": "x", "actual_start": "2026-12-01T02:30:00Z"}, "actual_start"),  # in the future
    ({"outcome": "x", "actual_start": "2026-12-01T01:00:00Z", "actual_end": "2026-12-01T00:59:00Z"}, "actual_end"),
    ({"outcome": "x", "cost": "-5"}, "cost"),
])
def test_a_refused_completion_changes_nothing(api, office, make, session, body, field):
    activity = planned(make, office, NOW - timedelta(hours=2))
    response = api(office.agent_user).post(f"/api/v1/activities/{activity.id}/complete", json=body)
    assert response.status_code == 422 and field in response.json["errors"], response.json
    session.expire_all()
    assert session.get(Activity, activity.id).status == ActivityStatus.PLANNED


def test_tasks_show_among_activities_but_are_worked_on_the_tasks_page(api, office, make):
    task = planned(make, office, NOW, reason=TaskReason.RENEWAL_CALL, due_date=TODAY, source_key="test:task",
                   kind=ActivityKind.CALL)
    client = api(office.agent_user)
    listed = client.get("/api/v1/activities?date_from=2026-12-01&date_to=2026-12-01").json["items"]
    assert [(item["id"], item["reason"]) for item in listed] == [(task.id, "renewal_call")]
    assert client.get("/api/v1/activities?tasks=false&date_from=2026-12-01&date_to=2026-12-01").json["items"] == []
    refused = client.post(f"/api/v1/activities/{task.id}/complete", json={"outcome": "Reached"})
    assert refused.status_code == 422 and "status" in refused.json["errors"]


def test_the_list_filters_by_days_agent_status_and_opportunity(api, office, make):
    # Shanghai days: 2 December 07:59 local is still 1 December 23:59 UTC
    early = planned(make, office, datetime(2026, 12, 1, 23, 59, tzinfo=UTC))
    later = planned(make, office, datetime(2026, 12, 2, 16, 0, tzinfo=UTC), opportunity_id=office.opportunity.id)
    colleagues = planned(make, office, datetime(2026, 12, 2, 2, 0, tzinfo=UTC), agent_id=office.colleague.id)
    manager = api(office.manager)

    def ids(query: str) -> list[int]:
        response = manager.get(f"/api/v1/activities?{query}")
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    # 2 December in Shanghai: from 1 December 16:00 UTC to 2 December 16:00 UTC (excluded)
    assert ids("date_from=2026-12-02&date_to=2026-12-02") == [early.id, colleagues.id]
    assert ids("date_from=2026-12-03") == [later.id]
    assert ids(f"agent_id={office.colleague.id}") == [colleagues.id]
    assert ids(f"opportunity_id={office.opportunity.id}") == [later.id]
    assert ids("status=done") == []
    assert manager.get("/api/v1/activities?date_from=2026-12-03&date_to=2026-12-02").status_code == 422
    # the agent's list is their own
    assert [item["id"] for item in api(office.agent_user).get("/api/v1/activities").json["items"]] == [
        early.id, later.id]


def test_a_patch_changes_only_what_it_names_and_checks_the_links(api, office, make, session):
    activity = planned(make, office, NOW + timedelta(days=1), priority=Priority.HIGH, cost=Decimal("10.00"))
    client = api(office.agent_user)
    response = client.patch(f"/api/v1/activities/{activity.id}", json={"subject": "  Visit the Wangs  "})
    assert response.status_code == 200
    changed = response.json["activity"]
    assert (changed["subject"], changed["priority"], changed["cost"]) == ("Visit the Wangs", "high", "10.00")
    assert (changed["planned_start"], changed["planned_end"]) == ("2026-12-02T02:00:00+00:00",
                                                                  "2026-12-02T03:00:00+00:00")
    refused = client.patch(f"/api/v1/activities/{activity.id}", json={"policyholder_id": office.foreign_holder.id})
    assert refused.status_code == 422 and "policyholder_id" in refused.json["errors"]
    backwards = client.patch(f"/api/v1/activities/{activity.id}", json={"planned_end": "2026-12-02T01:00:00Z"})
    assert backwards.status_code == 422 and "planned_end" in backwards.json["errors"]
    session.expire_all()
    assert session.get(Activity, activity.id).policyholder_id is None
    linked = client.patch(f"/api/v1/activities/{activity.id}", json={"opportunity_id": office.opportunity.id})
    assert linked.json["activity"]["policyholder_id"] == office.holder.id
