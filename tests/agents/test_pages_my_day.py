"""The agent's day (/my-day): what is due, in the insurer's time zone, within the agent's book only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from agents.models import Activity, ActivityKind, ActivityStatus, AgentChannel
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role
from policies.models import RenewalCase, RenewalStatus
from policyholders.models import (
    Interaction,
    InteractionChannel,
    ServiceCategory,
    ServiceKind,
    ServiceRequest,
    ServiceStatus,
)
from tests.helpers import counted_queries, saved

#: 02:00 on 29 December 2026 in Shanghai (18:00 UTC the day before): the week runs over the year end
NOW = datetime(2026, 12, 28, 18, 0, tzinfo=UTC)
TODAY = date(2026, 12, 29)


@pytest.fixture
def desk(make):
    """An agent with a login and a policyholder, and another agent's policyholder."""
    agent = make.agent()
    other = make.agent()
    return SimpleNamespace(agent=agent, user=make.user(Role.AGENT, agent_id=agent.id),
                           holder=make.policyholder(owner=agent, name="Wang Fang"),
                           theirs=make.policyholder(owner=other, name="Zhao Lei"), other=other)


def renewal(make, policy, agent, due: date, status=RenewalStatus.OPEN) -> RenewalCase:
    return saved(make, RenewalCase(policy_id=policy.id, due_date=due, opened_on=due - timedelta(days=60),
                                   assigned_agent_id=agent.id, org_unit_id=agent.org_unit_id, status=status))


def activity(make, agent, start: datetime, subject: str, holder=None, status=ActivityStatus.PLANNED) -> Activity:
    return saved(make, Activity(agent_id=agent.id, org_unit_id=agent.org_unit_id, kind=ActivityKind.CALL,
                                subject=subject, planned_start=start, status=status,
                                policyholder_id=holder.id if holder else None))


def service_request(make, holder, due: datetime, subject: str, status=ServiceStatus.OPEN, agent=None):
    return saved(make, ServiceRequest(policyholder_id=holder.id, kind=ServiceKind.COMPLAINT,
                                      category=ServiceCategory.PAYMENT, subject=subject, due_at=due,
                                      opened_at=due - timedelta(days=5), status=status,
                                      assigned_agent_id=agent.id if agent else holder.owner_agent_id))


def interaction(make, holder, at: datetime, summary: str) -> Interaction:
    return saved(make, Interaction(policyholder_id=holder.id, agent_id=holder.owner_agent_id,
                                   channel=InteractionChannel.PHONE, summary=summary, occurred_at=at))


def counts(html: str) -> dict[str, int]:
    return {label: int(number) for number, label in re.findall(r"<strong>(\d+)</strong> ([a-z ]+)</a>", html)}


def my_day(client) -> str:
    with clock.frozen(NOW):
        response = client.get("/my-day")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_renewals_due_in_60_days_are_listed_with_days_left(web, make, desk):
    due_soon = make.policy(policyholder=desk.holder, number="P-SOON")
    later = make.policy(policyholder=desk.holder, number="P-LATER")
    done = make.policy(policyholder=desk.holder, number="P-DONE")
    theirs = make.policy(policyholder=desk.theirs, number="P-THEIRS")
    renewal(make, due_soon, desk.agent, TODAY + timedelta(days=10), RenewalStatus.CONTACTED)
    renewal(make, later, desk.agent, TODAY + timedelta(days=61))
    renewal(make, done, desk.agent, TODAY + timedelta(days=5), RenewalStatus.RENEWED)
    renewal(make, theirs, desk.other, TODAY + timedelta(days=5))
    html = my_day(web(desk.user))
    assert "P-SOON" in html and "in 10 days" in html and f'href="/policies/{due_soon.id}"' in html
    assert "Wang Fang" in html and f'href="/policyholders/{desk.holder.id}"' in html
    assert "¥1,200.00" in html  # the annualised premium
    assert not {"P-LATER", "P-DONE", "P-THEIRS", "Zhao Lei"} & set(re.findall(r"P-[A-Z]+|Zhao Lei", html))
    assert counts(html)["renewals due"] == 1


def test_a_renewal_past_its_due_date_stays_on_the_day_as_overdue(web, make, desk):
    expired = make.policy(policyholder=desk.holder, number="P-EXPIRED")
    renewal(make, expired, desk.agent, TODAY - timedelta(days=3), RenewalStatus.QUOTED)
    html = my_day(web(desk.user))
    assert "P-EXPIRED" in html and "3 days overdue" in html
    assert counts(html)["renewals due"] == 1


def test_activities_of_today_and_overdue_follow_the_local_day(web, make, desk):
    # Shanghai's 29 December began at 16:00 UTC on the 28th
    activity(make, desk.agent, datetime(2026, 12, 28, 17, 0, tzinfo=UTC), "Call about the renewal", desk.holder)
    activity(make, desk.agent, datetime(2026, 12, 28, 15, 0, tzinfo=UTC), "Missed visit")
    activity(make, desk.agent, datetime(2026, 12, 29, 16, 30, tzinfo=UTC), "Tomorrow's meeting")
    activity(make, desk.agent, datetime(2026, 12, 28, 17, 0, tzinfo=UTC), "Done call", status=ActivityStatus.DONE)
    activity(make, desk.other, datetime(2026, 12, 28, 17, 0, tzinfo=UTC), "Someone else's call")
    html = my_day(web(desk.user))
    assert "Call about the renewal" in html and "Missed visit" in html
    assert not {"Tomorrow's meeting", "Done call", "Someone else's call"} & set(
        re.findall(r"Tomorrow's meeting|Done call|Someone else's call", html.replace("&#39;", "'")))
    assert (counts(html)["activities today"], counts(html)["overdue activities"]) == (1, 1)


def test_service_requests_due_within_three_days_or_overdue(web, make, desk):
    soon = service_request(make, desk.holder, NOW + timedelta(days=1), "Refund still missing")
    late = service_request(make, desk.holder, NOW - timedelta(days=1), "Wrong address")
    service_request(make, desk.holder, NOW + timedelta(days=5), "Not yet due")
    service_request(make, desk.holder, NOW - timedelta(days=1), "Already fixed", status=ServiceStatus.RESOLVED)
    service_request(make, desk.theirs, NOW, "Another book")
    html = my_day(web(desk.user))
    assert f'href="/service-requests/{soon.id}"' in html and f'href="/service-requests/{late.id}"' in html
    assert "Overdue" in html
    assert "Not yet due" not in html and "Already fixed" not in html and "Another book" not in html
    assert counts(html)["service requests due"] == 2


def test_birthdays_this_week_run_over_the_year_end(web, make, desk):
    named = {"Born today": date(1980, 12, 29), "Born 4 January": date(1991, 1, 4),
             "Born 5 January": date(1975, 1, 5), "Born 28 December": date(1988, 12, 28)}
    for name, born in named.items():
        make.policyholder(owner=desk.agent, name=name, date_of_birth=born)
    make.policyholder(owner=desk.other, name="Not mine", date_of_birth=TODAY)
    html = my_day(web(desk.user))
    assert "Born today" in html and "Born 4 January" in html and "Jan 4, 2027" in html
    assert "Born 5 January" not in html and "Born 28 December" not in html and "Not mine" not in html
    assert html.index("Born today") < html.index("Born 4 January")
    assert counts(html)["birthdays this week"] == 2


def test_recent_contacts_are_the_last_ten_of_the_book(web, make, desk):
    for n in range(12):
        interaction(make, desk.holder, NOW - timedelta(hours=n + 1), f"Contact number {n:02d}")
    interaction(make, desk.theirs, NOW, "Contact of another agent")
    html = my_day(web(desk.user))
    assert "Contact number 00" in html and "Contact number 09" in html
    assert "Contact number 10" not in html and "Contact of another agent" not in html


def test_a_specialist_has_a_day_too(web, make):
    specialist = make.agent(channel=AgentChannel.BANCASSURANCE)
    assert web(make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=specialist.id)).get("/my-day").status_code == 200


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BRANCH_MANAGER, Role.ACTUARY, Role.BANK_REFERRER])
def test_other_roles_may_not_open_the_day(web, make, role):
    response = web(make.user(role)).get("/my-day")
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)


def test_anonymous_users_are_sent_to_the_login(client):
    response = client.get("/my-day")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def fill_book(make, desk, size: int) -> None:
    """``size`` of each kind of item on the day of ``desk``'s agent."""
    for n in range(size):
        holder = make.policyholder(owner=desk.agent, date_of_birth=date(1980, 12, 30))
        renewal(make, make.policy(policyholder=holder), desk.agent, TODAY + timedelta(days=n % 50))
        activity(make, desk.agent, NOW - timedelta(hours=n), f"Activity {n}", holder)
        service_request(make, holder, NOW + timedelta(hours=n), f"Request {n}")
        interaction(make, holder, NOW - timedelta(minutes=n + 1), f"Contact {n}")


def test_the_day_runs_a_fixed_number_of_queries(web, make, desk):
    client = web(desk.user)
    my_day(client)  # a first request, so that both counted ones start alike
    counted = []
    for size in (2, 25):
        fill_book(make, desk, size)
        db.session.expunge_all()  # the request shares the test's session: start from an empty identity map
        with counted_queries() as queries:
            html = my_day(client)
        counted.append(len(queries))
    assert counts(html)["renewals due"] == 27
    assert counted[0] == counted[1]
