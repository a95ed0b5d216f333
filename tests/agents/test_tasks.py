"""Tasks reach their person: the jobs' tasks land on the list of an agent or a manager, who completes them with an
outcome (API and page); a call back plans the follow-up; the call lands on the policyholder's timeline."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from agents.models import Activity, ActivityKind, ActivityStatus, OrgUnitKind, TaskOutcome, TaskReason
from insurecrm import clock, jobs
from insurecrm.models import AuditLog, Role
from policies.models import RenewalCase, RenewalStatus
from policyholders.models import Interaction
from tests.api_client import csrf_token
from tests.helpers import counted_queries, saved

#: 10:00 on 1 December 2026 in Shanghai
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def office(make):
    """A branch with a manager and two agents, the first with a policyholder whose renewal case is open; another
    branch with its own manager."""
    company = make.org_unit(kind=OrgUnitKind.COMPANY)
    branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    other_branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    agent, colleague = make.agent(branch), make.agent(branch)
    holder = make.policyholder(owner=agent, name="Wang Fang")
    policy = make.policy(holder, make.product(renewable=True), expiry_date=TODAY + timedelta(days=10),
                         effective_date=TODAY - timedelta(days=355))
    case = saved(make, RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=TODAY - timedelta(50),
                                   assigned_agent_id=agent.id, org_unit_id=branch.id))
    return SimpleNamespace(
        branch=branch, agent=agent, colleague=colleague, holder=holder, policy=policy, case=case,
        agent_user=make.user(Role.AGENT, agent_id=agent.id),
        colleague_user=make.user(Role.AGENT, agent_id=colleague.id),
        manager=make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id),
        other_manager=make.user(Role.BRANCH_MANAGER, org_unit_id=other_branch.id))


def task(make, office, *, due: date = TODAY, reason=TaskReason.RENEWAL_CALL, agent=True, assignee=None, **kw):
    defaults = {"policyholder_id": office.holder.id, "policy_id": office.policy.id,
                "renewal_case_id": office.case.id, "contact_name": office.holder.name,
                "subject": f"Renewal call {office.policy.number}", "source_key": None}
    return saved(make, Activity(
        agent_id=office.agent.id if agent else None, assignee_user_id=assignee.id if assignee else None,
        org_unit_id=office.branch.id, kind=ActivityKind.CALL, planned_start=NOW, due_date=due, reason=reason,
        **{**defaults, **kw}))


def complete(api, user, task_id, **body):
    return api(user).post(f"/api/v1/tasks/{task_id}/complete", json=body)


# -- the jobs' tasks reach a person ---------------------------------------------------------------------------

def test_the_jobs_tasks_land_on_the_list_of_the_agent_and_of_the_manager(api, make, office, session):
    holder = make.policyholder(owner=office.agent, consent_email=False, consent_sms=False, name="Li Na")
    policy = make.policy(holder, make.product(renewable=True), expiry_date=TODAY + timedelta(days=7),
                         effective_date=TODAY - timedelta(days=358))
    saved(make, RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=TODAY - timedelta(53),
                            assigned_agent_id=office.agent.id, org_unit_id=office.branch.id))
    for job in ("policies.remind_renewals", "policies.escalate_renewals"):
        jobs.run_job(jobs.registered([job])[0], TODAY)

    mine = api(office.agent_user).get("/api/v1/tasks").json["items"]  # neither policyholder consented to messages
    assert {(t["reason"], t["policy_id"]) for t in mine} == {("renewal_call", policy.id),
                                                            ("renewal_call", office.policy.id)}
    assert {t["due_date"] for t in mine} == {TODAY.isoformat()}
    assert {t["contact_name"] for t in mine} == {"Li Na", "Wang Fang"}
    assert api(office.colleague_user).get("/api/v1/tasks").json["items"] == []

    escalations = api(office.manager).get("/api/v1/tasks?assignee=mine").json["items"]
    assert {(t["reason"], t["policy_id"], t["assignee_user_id"]) for t in escalations} == {
        ("renewal_escalation", policy.id, office.manager.id),
        ("renewal_escalation", office.policy.id, office.manager.id)}
    assert api(office.other_manager).get("/api/v1/tasks?assignee=all").json["items"] == []


def test_the_list_is_earliest_due_first_and_filters_by_reason_and_due(api, make, office):
    later = task(make, office, due=TODAY + timedelta(days=3))
    overdue = task(make, office, due=TODAY - timedelta(days=2), reason=TaskReason.NEW_POLICY_CALLBACK)
    today = task(make, office)
    done = task(make, office, due=TODAY - timedelta(days=5), reason=TaskReason.KEY_CUSTOMER_CALL,
                status=ActivityStatus.DONE)
    client = api(office.agent_user)
    assert [t["id"] for t in client.get("/api/v1/tasks").json["items"]] == [overdue.id, today.id, later.id]
    assert [t["id"] for t in client.get("/api/v1/tasks?due=overdue").json["items"]] == [overdue.id]
    assert [t["id"] for t in client.get("/api/v1/tasks?due=today").json["items"]] == [today.id]
    assert [t["id"] for t in client.get("/api/v1/tasks?reason=new_policy_callback").json["items"]] == [overdue.id]
    assert client.get(f"/api/v1/tasks/{done.id}").json["status"] == "done"
    refused = client.get("/api/v1/tasks?due=yesterday&reason=gossip")
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"due", "reason"}


def test_an_activity_that_is_not_a_task_is_not_one_for_the_api(api, make, office):
    plain = saved(make, Activity(agent_id=office.agent.id, org_unit_id=office.branch.id, kind=ActivityKind.VISIT,
                                 subject="Visit", planned_start=NOW))
    assert api(office.agent_user).get(f"/api/v1/tasks/{plain.id}").status_code == 404
    assert complete(api, office.agent_user, plain.id, outcome="reached", note="Fine").status_code == 404


# -- completing -----------------------------------------------------------------------------------------------

def test_reached_logs_the_call_and_marks_the_renewal_case_contacted(api, make, office, session):
    call = task(make, office)
    response = complete(api, office.agent_user, call.id, outcome="reached", note="Will renew at the same cover")
    assert response.status_code == 200, response.json
    assert response.json["task"]["status"] == "done" and response.json["follow_up"] is None
    session.expire_all()
    assert (call.status, call.task_outcome, call.outcome) == (
        ActivityStatus.DONE, TaskOutcome.REACHED, "Will renew at the same cover")
    assert call.completed_by_user_id == office.agent_user.id and call.actual_end is not None
    case = session.get(RenewalCase, office.case.id)
    assert case.status == RenewalStatus.CONTACTED and case.first_contacted_at is not None
    [logged] = session.scalars(select(Interaction).where(Interaction.policyholder_id == office.holder.id)).all()
    assert logged.outcome.startswith("Reached") and "Will renew" in logged.outcome
    assert (logged.agent_id, logged.user_id, logged.policy_id) == (office.agent.id, office.agent_user.id,
                                                                    office.policy.id)
    assert session.scalar(select(AuditLog).where(AuditLog.entity_type == "activities", AuditLog.entity_id == call.id,
                                                 AuditLog.action == "update"))


def test_no_answer_with_a_date_plans_the_follow_up_and_leaves_the_case_uncontacted(api, make, office, session):
    call = task(make, office)
    call_back = TODAY + timedelta(days=2)
    response = complete(api, office.agent_user, call.id, outcome="no_answer", call_back_on=call_back.isoformat())
    assert response.status_code == 200, response.json
    follow_up = session.get(Activity, response.json["follow_up"]["id"])
    assert (follow_up.due_date, follow_up.status, follow_up.follow_up_of_id) == (
        call_back, ActivityStatus.PLANNED, call.id)
    assert (follow_up.reason, follow_up.agent_id, follow_up.renewal_case_id, follow_up.policyholder_id) == (
        TaskReason.RENEWAL_CALL, office.agent.id, office.case.id, office.holder.id)
    assert follow_up.source_key == f"follow_up:activity={call.id}"
    assert follow_up.planned_start == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    session.expire_all()
    case = session.get(RenewalCase, office.case.id)
    assert case.status == RenewalStatus.OPEN and case.first_contacted_at is None
    [logged] = session.scalars(select(Interaction).where(Interaction.policyholder_id == office.holder.id)).all()
    assert logged.outcome == f"No answer — call back on {call_back.isoformat()}"
    listed = [t["id"] for t in api(office.agent_user).get("/api/v1/tasks").json["items"]]
    assert listed == [follow_up.id]


def test_call_back_needs_a_day_from_today_to_a_year_ahead(api, make, office, session, count):
    call = task(make, office)
    before = count(Activity), count(Interaction)
    for body, field in (({"outcome": "call_back"}, "call_back_on"),
                        ({"outcome": "call_back", "call_back_on": "2026-11-30"}, "call_back_on"),
                        ({"outcome": "call_back", "call_back_on": "2028-01-01"}, "call_back_on"),
                        ({"outcome": "reached"}, "note"),
                        ({"outcome": "reached", "note": "ok", "call_back_on": "2026-12-05"}, "call_back_on"),
                        ({"outcome": "maybe"}, "outcome"),
                        ({"outcome": "no_answer", "note": "x" * 256}, "note"),
                        ({"outcome": "no_answer", "call_back_on": "someday"}, "call_back_on")):
        response = complete(api, office.agent_user, call.id, **body)
        assert response.status_code == 422, body
        assert field in response.json["errors"], (body, response.json)
    assert (count(Activity), count(Interaction)) == before
    session.expire_all()
    assert session.get(Activity, call.id).status == ActivityStatus.PLANNED


def test_a_task_is_completed_once(api, make, office):
    call = task(make, office)
    assert complete(api, office.agent_user, call.id, outcome="no_answer").status_code == 200
    again = complete(api, office.agent_user, call.id, outcome="no_answer", call_back_on="2026-12-02")
    assert again.status_code == 422 and "status" in again.json["errors"]


def test_nobody_else_sees_or_completes_a_task(api, make, office, session):
    call = task(make, office)
    for user in (office.colleague_user, office.other_manager):
        assert api(user).get(f"/api/v1/tasks/{call.id}").status_code == 404
        assert complete(api, user, call.id, outcome="no_answer").status_code == 404
    for role in (Role.ADMIN, Role.ACTUARY):
        assert complete(api, make.user(role), call.id, outcome="no_answer").status_code == 403
    session.expire_all()
    assert session.get(Activity, call.id).status == ActivityStatus.PLANNED


def test_the_manager_works_escalations_and_the_pool(api, make, office, session):
    escalation = task(make, office, reason=TaskReason.RENEWAL_ESCALATION, agent=False, assignee=office.manager)
    pooled = task(make, office, reason=TaskReason.KEY_CUSTOMER_CALL, agent=False, renewal_case_id=None)
    agents = task(make, office, reason=TaskReason.NEW_POLICY_CALLBACK)
    client = api(office.manager)
    assert {t["id"] for t in client.get("/api/v1/tasks").json["items"]} == {escalation.id, pooled.id, agents.id}
    assert [t["id"] for t in client.get("/api/v1/tasks?assignee=mine").json["items"]] == [escalation.id]
    assert [t["id"] for t in client.get("/api/v1/tasks?assignee=pool").json["items"]] == [pooled.id]
    assert {t["id"] for t in client.get("/api/v1/tasks?assignee=mine_and_pool").json["items"]} == {
        escalation.id, pooled.id}
    assert api(office.agent_user).get(f"/api/v1/tasks/{escalation.id}").status_code == 404
    assert complete(api, office.manager, escalation.id, outcome="reached", note="Renewing").status_code == 200
    session.expire_all()
    assert session.get(RenewalCase, office.case.id).status == RenewalStatus.CONTACTED


def test_a_manager_sees_an_escalation_assigned_by_name_outside_their_subtree(api, make, office):
    """The escalation job names the manager of the nearest unit above; should units move, the name still holds."""
    escalation = task(make, office, reason=TaskReason.RENEWAL_ESCALATION, agent=False, assignee=office.other_manager)
    assert api(office.other_manager).get(f"/api/v1/tasks/{escalation.id}").status_code == 200


def test_tasks_follow_their_renewal_case_when_a_manager_reassigns_it(make, office, session):
    from policies import renewals

    call = task(make, office)
    escalation = task(make, office, reason=TaskReason.RENEWAL_ESCALATION, agent=False, assignee=office.manager)
    renewals.reassign([office.case.id], office.colleague.id, actor=office.manager)
    session.expire_all()
    assert session.get(Activity, call.id).agent_id == office.colleague.id
    assert session.get(Activity, escalation.id).assignee_user_id == office.manager.id


# -- pages ------------------------------------------------------------------------------------------------------

def test_the_tasks_page_lists_due_reason_and_policyholder_and_completes_with_a_call_back(web, make, office, session):
    overdue = task(make, office, due=TODAY - timedelta(days=2))
    client = web(office.agent_user)
    html = client.get("/tasks").get_data(as_text=True)
    assert "Renewal reminder call (no reachable channel)" in html and "2 days overdue" in html
    assert f'href="/policyholders/{office.holder.id}"' in html and "Wang Fang" in html
    assert office.policy.number in html

    refused = client.post(f"/tasks/{overdue.id}/complete",
                          data={"csrf_token": csrf_token(client), "outcome": "call_back"})
    assert refused.status_code == 422
    assert re.search(f'id="task-{overdue.id}-call_back_on-error">Choose the day to call back',
                     refused.get_data(as_text=True))
    done = client.post(f"/tasks/{overdue.id}/complete", data={
        "csrf_token": csrf_token(client), "outcome": "no_answer", "call_back_on": "2026-12-04", "next": "/tasks"})
    assert done.status_code == 302 and done.headers["Location"] == "/tasks"
    html = client.get("/tasks").get_data(as_text=True)
    assert "follow-up" in html and "Dec 4, 2026" in html and "days overdue" not in html


def test_a_managers_tasks_page_starts_with_their_own_and_the_pool(web, make, office):
    escalation = task(make, office, reason=TaskReason.RENEWAL_ESCALATION, agent=False, assignee=office.manager)
    agents = task(make, office)
    client = web(office.manager)
    html = client.get("/tasks").get_data(as_text=True)
    assert f'data-task="{escalation.id}"' in html and f'data-task="{agents.id}"' not in html
    assert "Renewal escalation: not contacted" in html and "hand the case to an agent" in html
    assert f'data-task="{agents.id}"' in client.get("/tasks?assignee=all").get_data(as_text=True)
    assert client.get("/tasks?due=someday").status_code == 422


def test_my_day_lists_tasks_due_today_or_overdue_to_complete_there(web, make, office):
    today, overdue = task(make, office, due=TODAY), task(make, office, due=TODAY - timedelta(days=1))
    tomorrow = task(make, office, due=TODAY + timedelta(days=1))
    html = web(office.agent_user).get("/my-day").get_data(as_text=True)
    assert f'data-task="{today.id}"' in html and f'data-task="{overdue.id}"' in html
    assert f'data-task="{tomorrow.id}"' not in html
    assert "<strong>2</strong> tasks due" in html and "Complete task" in html
    zh = web(make.user(Role.AGENT, agent_id=office.agent.id, preferred_language="zh")).get("/my-day")
    assert "续保提醒电话（无可用联系渠道）" in zh.get_data(as_text=True)


def test_pages_run_a_fixed_number_of_queries(web, make, office):
    client = web(office.agent_user)
    measured = []
    for added in (0, 1, 5):  # none, one, several: the same statements
        for n in range(added):
            task(make, office, due=TODAY - timedelta(days=n))
        for page in ("/tasks", "/my-day"):
            with counted_queries() as statements:
                assert client.get(page).status_code == 200
            measured.append((page, len(statements)))
    assert measured[:2] == measured[2:4] == measured[4:]


def test_the_dashboard_counts_overdue_tasks_by_agent(web, make, office):
    task(make, office, due=TODAY - timedelta(days=1))
    task(make, office, due=TODAY - timedelta(days=3), reason=TaskReason.NEW_POLICY_CALLBACK)
    task(make, office, due=TODAY, reason=TaskReason.KEY_CUSTOMER_CALL)  # due today: not overdue
    task(make, office, due=TODAY - timedelta(days=1), reason=TaskReason.RENEWAL_ESCALATION, agent=False,
         assignee=office.manager)
    html = web(office.manager).get("/dashboard").get_data(as_text=True)
    assert re.search(r'id="overdue-tasks"><strong>3</strong> overdue tasks', html)
    assert "1 assigned to managers, 0 in the units' pool" in html
    row = re.search(f'dashboard/agents/{office.agent.id}".*?</tr>', html, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', row)[-1] == "2"
    assert re.search(r'id="overdue-tasks"><strong>0</strong>',
                     web(office.other_manager).get("/dashboard").get_data(as_text=True))


def test_completed_tasks_leave_the_count(make, office, session):
    from reports.services import overdue_tasks

    task(make, office, due=TODAY - timedelta(days=1), status=ActivityStatus.DONE)
    assert overdue_tasks(office.manager, TODAY).total == 0
    assert session.scalar(select(func.count(Activity.id))) == 1
