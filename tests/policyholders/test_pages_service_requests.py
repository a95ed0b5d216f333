"""Service requests and complaints pages (/service-requests): the SLA list, assign, resolve."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role
from policyholders.models import ServiceCategory, ServiceKind, ServicePriority, ServiceRequest, ServiceStatus
from policyholders.services import sla_condition, sla_state
from tests.api_client import csrf_token
from tests.helpers import counted_queries, saved

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def request_for(make, holder, subject: str, due: datetime, **kw) -> ServiceRequest:
    kw.setdefault("assigned_agent_id", holder.owner_agent_id)
    return saved(make, ServiceRequest(policyholder_id=holder.id, kind=kw.pop("kind", ServiceKind.SERVICE),
                                      category=ServiceCategory.ENQUIRY, subject=subject, due_at=due,
                                      opened_at=NOW - timedelta(days=3), **kw))


def listing(client, query: str = "") -> tuple[int, str]:
    with clock.frozen(NOW):
        response = client.get(f"/service-requests{query}")
    return response.status_code, response.get_data(as_text=True)


def subjects(html: str) -> list[str]:
    return re.findall(r'<a href="/service-requests/\d+">([^<]+)</a>', html)


@pytest.fixture
def book(make, org):
    """Requests on a policyholder of ``org.agent``: breached, due soon, on track, resolved; one of another book."""
    holder = make.policyholder(owner=org.agent, name="Sun Mei")
    theirs = make.policyholder(owner=org.other_agent, name="Qian Jun")
    return {
        "holder": holder,
        "breached": request_for(make, holder, "Refund missing", NOW - timedelta(hours=2), kind=ServiceKind.COMPLAINT,
                                priority=ServicePriority.URGENT),
        "soon": request_for(make, holder, "Change of address", NOW + timedelta(hours=5)),
        "later": request_for(make, holder, "Copy of policy", NOW + timedelta(days=4), assigned_agent_id=None),
        "done": request_for(make, holder, "Old question", NOW - timedelta(days=2), status=ServiceStatus.RESOLVED,
                            resolution="Answered"),
        "theirs": request_for(make, theirs, "Another book's request", NOW + timedelta(hours=1)),
    }


def test_the_list_shows_unfinished_requests_by_due_date_with_their_service_level(web, org, book):
    status, html = listing(web(org.agent_user))
    assert status == 200
    assert subjects(html) == ["Refund missing", "Change of address", "Copy of policy"]
    assert '<span class="badge bad">Breached</span>' in html and '<span class="badge warn">Due soon</span>' in html
    assert f'href="/policyholders/{book["holder"].id}"' in html and "Sun Mei" in html
    assert "Unassigned" in html and "Qian Jun" not in html


@pytest.mark.parametrize(("query", "expected"), [
    ("?sla=breached", ["Refund missing"]),
    ("?sla=due_soon", ["Change of address"]),
    ("?kind=complaint", ["Refund missing"]),
    ("?priority=urgent", ["Refund missing"]),
    ("?status=resolved", ["Old question"]),
    ("?status=all", ["Old question", "Refund missing", "Change of address", "Copy of policy"]),
    ("?kind=nonsense", ["Refund missing", "Change of address", "Copy of policy"]),
])
def test_filters(web, org, book, query, expected):
    assert subjects(listing(web(org.agent_user), query)[1]) == expected


def test_the_assigned_agent_filter(web, org, book):
    html = listing(web(org.agent_user), f"?assigned_agent_id={org.agent.id}")[1]
    assert subjects(html) == ["Refund missing", "Change of address"]


@pytest.mark.parametrize(("due", "status", "state"), [
    (NOW - timedelta(seconds=1), ServiceStatus.IN_PROGRESS, "breached"),
    (NOW, ServiceStatus.OPEN, "due_soon"),
    (NOW + timedelta(hours=23, minutes=59), ServiceStatus.OPEN, "due_soon"),
    (NOW + timedelta(hours=24), ServiceStatus.OPEN, "on_track"),
    (NOW - timedelta(days=9), ServiceStatus.CLOSED, "finished"),
])
def test_sla_state_boundaries(make, org, session, due, status, state):
    item = request_for(make, make.policyholder(owner=org.agent), "Boundary", due, status=status)
    assert sla_state(item, NOW) == state
    assert session.scalars(select(ServiceRequest.id).where(sla_condition(state, NOW))).all() == [item.id]


def test_sla_state_and_condition_agree(session, book):
    for item in book.values():
        if isinstance(item, ServiceRequest):
            state = sla_state(item, NOW)
            matching = session.scalars(select(ServiceRequest.id).where(sla_condition(state, NOW))).all()
            assert item.id in matching, state


def test_a_branch_manager_sees_the_subtree_and_not_the_sibling(web, org, book):
    html = listing(web(org.manager))[1]
    assert "Refund missing" in html and "Another book&#39;s request" not in html


@pytest.mark.parametrize("role", [Role.ACTUARY, Role.BANK_REFERRER])
def test_roles_without_service_work_are_refused(web, make, role, book):
    client = web(make.user(role))
    assert listing(client)[0] == 403
    assert client.get(f"/service-requests/{book['soon'].id}").status_code == 403


def test_another_agents_request_is_not_found(web, org, book):
    client = web(org.agent_user)
    response = client.get(f"/service-requests/{book['theirs'].id}")
    assert response.status_code == 404 and "Another book" not in response.get_data(as_text=True)
    response = client.post(f"/service-requests/{book['theirs'].id}/resolve",
                           data={"csrf_token": csrf_token(client), "status": "resolved", "resolution": "Done"})
    assert response.status_code == 404
    assert book["theirs"].status == ServiceStatus.OPEN


def test_the_detail_page_has_the_forms(web, org, book):
    response = web(org.agent_user).get(f"/service-requests/{book['soon'].id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Change of address" in html and 'name="assigned_agent_id"' in html and 'name="resolution"' in html
    assert f'<option value="{org.colleague.id}"' in html and f'<option value="{org.other_agent.id}"' not in html


def test_assigning_to_a_colleague(web, org, book, session):
    client = web(org.agent_user)
    item = book["later"]
    response = client.post(f"/service-requests/{item.id}/assign",
                           data={"csrf_token": csrf_token(client), "assigned_agent_id": str(org.colleague.id)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/service-requests/{item.id}")
    session.refresh(item)
    assert item.assigned_agent_id == org.colleague.id


@pytest.mark.parametrize(("value", "message"), [("", "Choose an agent."), ("other", "in your organisation."),
                                                ("x", "Not a valid integer.")])
def test_assigning_to_someone_out_of_reach_is_refused(web, org, book, session, value, message):
    client = web(org.agent_user)
    item = book["later"]
    value = str(org.other_agent.id) if value == "other" else value
    response = client.post(f"/service-requests/{item.id}/assign",
                           data={"csrf_token": csrf_token(client), "assigned_agent_id": value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="assigned_agent_id-error"' in html and message in html
    session.refresh(item)
    assert item.assigned_agent_id is None


def test_resolving_with_a_resolution_and_cost(web, org, book, session):
    client = web(org.agent_user)
    item = book["breached"]
    response = client.post(f"/service-requests/{item.id}/resolve", data={
        "csrf_token": csrf_token(client), "status": "resolved", "resolution": "Refund paid", "cost": "35.50"})
    assert response.status_code == 302
    session.refresh(item)
    assert (item.status, item.resolution, item.cost) == (ServiceStatus.RESOLVED, "Refund paid", Decimal("35.50"))
    assert item.resolved_at is not None
    assert "Refund paid" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_starting_work_moves_the_request_in_progress(web, org, book, session):
    client = web(org.agent_user)
    item = book["soon"]
    response = client.post(f"/service-requests/{item.id}/resolve",
                           data={"csrf_token": csrf_token(client), "status": "in_progress"})
    assert response.status_code == 302
    session.refresh(item)
    assert item.status == ServiceStatus.IN_PROGRESS


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"resolution": ""}, "resolution", "Say how the request was resolved."),
    ({"resolution": "Fixed", "cost": "-5"}, "cost", "Must not be negative."),
    ({"resolution": "Fixed", "cost": "lots"}, "cost", "Not a valid number."),
])
def test_a_refused_resolution_shows_the_field_error_and_writes_nothing(web, org, book, session, form, field, message):
    client = web(org.agent_user)
    item = book["breached"]
    response = client.post(f"/service-requests/{item.id}/resolve",
                           data={"csrf_token": csrf_token(client), "status": "resolved", **form})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'id="{field}-error"' in html and message in html
    session.refresh(item)
    assert (item.status, item.resolution, item.cost) == (ServiceStatus.OPEN, None, Decimal("0"))


def test_the_list_runs_a_fixed_number_of_queries(web, make, org):
    client = web(org.agent_user)
    listing(client)  # a first request, so that both counted ones start alike
    counted = []
    for size in (2, 30):
        for n in range(size):
            holder = make.policyholder(owner=org.agent if n % 2 else org.colleague, org_unit_id=org.team.id)
            request_for(make, holder, f"Request {n}", NOW + timedelta(hours=n), assigned_agent_id=org.colleague.id)
        db.session.expunge_all()  # the request shares the test's session: start from an empty identity map
        with counted_queries() as queries:
            assert listing(client)[0] == 200
        counted.append(len(queries))
    assert counted[0] == counted[1]


def test_the_pages_keep_the_filters(web, make, org):
    holder = make.policyholder(owner=org.agent)
    for n in range(30):
        request_for(make, holder, f"Late {n}", NOW - timedelta(hours=n + 1))
    html = listing(web(org.agent_user), "?sla=breached")[1]
    assert len(subjects(html)) == 25 and "Page 1 of 2" in html
    assert re.search(r'href="/service-requests\?(sla=breached&amp;page=2|page=2&amp;sla=breached)"', html)
