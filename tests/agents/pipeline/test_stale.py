"""Stale opportunities: the daily job tells the owner once per stage entry when an open opportunity stays in its
stage longer than the stage's limit, and the branch manager past twice the limit; the tasks reach their lists."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from agents.models import Activity, Opportunity, OpportunityStatus, OrgUnitKind, Priority, TaskReason
from agents.pipeline.stale import JOB_ID, stale_opportunities
from insurecrm import clock, jobs
from insurecrm.models import Role
from tests.helpers import saved

#: 01:00 in Shanghai on 1 November 2026, still 31 October in UTC: the stay is counted from the local date, 1 November
ENTERED = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen(app):
    with clock.frozen(NOW):
        yield


@pytest.fixture
def office(make):
    company = make.org_unit()
    branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    team = make.org_unit(branch, kind=OrgUnitKind.TEAM)
    agent = make.agent(team, name="Zhou Min")
    #: a limit of 14 days: stale from the 15th day (16 November), the manager from the 29th (30 November)
    stage = make.stage(code="proposal", max_days=14, probability=Decimal("50"))
    unlimited = make.stage(code="verbal", max_days=None, probability=Decimal("80"))
    holder = make.policyholder(owner=agent, name="Sun Li")
    return SimpleNamespace(
        branch=branch, team=team, agent=agent, stage=stage, unlimited=unlimited, holder=holder,
        agent_user=make.user(Role.AGENT, agent_id=agent.id),
        manager=make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id))


def opportunity(make, office, **kw) -> Opportunity:
    values = {"title": "Family cover for Sun Li", "policyholder_id": office.holder.id,
              "owner_agent_id": office.agent.id, "org_unit_id": office.team.id, "stage_id": office.stage.id,
              "stage_entered_at": ENTERED,
              "probability": office.stage.probability, "expected_premium": Decimal("3000.00")}
    return saved(make, Opportunity(**{**values, **kw}))


def stale_tasks(session) -> list[Activity]:
    session.expire_all()
    return session.scalars(select(Activity).where(Activity.reason == TaskReason.STALE_OPPORTUNITY)
                           .order_by(Activity.id)).all()


def run(day: date) -> dict:
    return stale_opportunities(day)


def test_the_owner_is_told_once_when_the_stay_passes_the_limit(make, office, session):
    deal = opportunity(make, office)
    # 1 → 15 November: 14 days, the limit itself (the UTC date, 31 October, would make it 15)
    assert run(date(2026, 11, 15)) == {"stale_tasks": 0, "stale_escalations": 0}
    assert stale_tasks(session) == []
    claim = jobs.run_job(jobs.registered([JOB_ID])[0], date(2026, 11, 16))
    assert claim.counts == {"stale_tasks": 1, "stale_escalations": 0}
    [task] = stale_tasks(session)
    assert (task.agent_id, task.assignee_user_id, task.org_unit_id) == (office.agent.id, None, office.team.id)
    assert (task.opportunity_id, task.policyholder_id, task.contact_name) == (deal.id, office.holder.id, "Sun Li")
    assert (task.due_date, task.priority) == (date(2026, 11, 16), Priority.HIGH)
    assert task.source_key == f"stale_opportunity:opportunity={deal.id}:stage={office.stage.id}:entered=1793466000"
    # reruns, the next days and a late catch-up add nothing for the same stage entry
    assert jobs.run_job(jobs.registered([JOB_ID])[0], date(2026, 11, 16)) is None
    for day in (date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 20)):
        assert run(day) == {"stale_tasks": 0, "stale_escalations": 0}
    assert len(stale_tasks(session)) == 1


def test_the_manager_is_told_past_twice_the_limit(make, office, session):
    deal = opportunity(make, office)
    # 29 November: 28 days, twice the limit itself; the owner's task comes on its own
    assert run(date(2026, 11, 29)) == {"stale_tasks": 1, "stale_escalations": 0}
    assert run(date(2026, 11, 30)) == {"stale_tasks": 0, "stale_escalations": 1}
    assert run(date(2026, 12, 1)) == {"stale_tasks": 0, "stale_escalations": 0}
    owner, escalation = stale_tasks(session)
    assert owner.agent_id == office.agent.id
    assert (escalation.agent_id, escalation.assignee_user_id, escalation.org_unit_id) == (
        None, office.manager.id, office.team.id)
    assert (escalation.opportunity_id, escalation.priority, escalation.due_date) == (
        deal.id, Priority.URGENT, date(2026, 11, 30))
    assert escalation.source_key == owner.source_key + ":manager"


def test_without_a_manager_the_escalation_goes_to_the_units_pool(make, office, session):
    office.manager.active = False
    session.commit()
    opportunity(make, office)
    assert run(date(2026, 12, 1)) == {"stale_tasks": 1, "stale_escalations": 1}
    escalation = stale_tasks(session)[1]
    assert (escalation.agent_id, escalation.assignee_user_id, escalation.org_unit_id) == (None, None, office.team.id)


def test_closed_opportunities_and_stages_without_a_limit_are_never_stale(make, office, session):
    opportunity(make, office, status=OpportunityStatus.WON, closed_at=ENTERED)
    opportunity(make, office, status=OpportunityStatus.LOST, closed_at=ENTERED, won_lost_reason="Price")
    opportunity(make, office, stage_id=office.unlimited.id)
    assert run(date(2026, 12, 31)) == {"stale_tasks": 0, "stale_escalations": 0}
    assert stale_tasks(session) == []


def test_a_new_stage_entry_is_told_of_again(make, office, session):
    deal = opportunity(make, office)
    assert run(date(2026, 11, 16))["stale_tasks"] == 1
    # moved on and back on 20 November (Shanghai): a new stay, stale from 5 December
    deal.stage_entered_at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    session.commit()
    assert run(date(2026, 12, 4))["stale_tasks"] == 0
    assert run(date(2026, 12, 5))["stale_tasks"] == 1
    assert [task.due_date for task in stale_tasks(session)] == [date(2026, 11, 16), date(2026, 12, 5)]


def test_the_tasks_show_on_the_owners_and_the_managers_task_pages(make, web, office, session):
    opportunity(make, office)
    run(date(2026, 12, 1))
    owner, escalation = stale_tasks(session)
    mine = web(office.agent_user).get("/tasks").get_data(as_text=True)
    assert f'id="task-{owner.id}"' in mine and f'id="task-{escalation.id}"' not in mine
    assert "Opportunity stale in its stage" in mine
    theirs = web(office.manager).get("/tasks").get_data(as_text=True)
    assert f'id="task-{escalation.id}"' in theirs and f'id="task-{owner.id}"' not in theirs
