"""Service requests and complaints: SLA due dates, assignment, resolution, closing, overdue list."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from insurecrm.db import utcnow
from policyholders.models import ServiceCategory, ServiceKind, ServicePriority, ServiceRequest, ServiceStatus
from policyholders.services import SLA
from tests.policyholders.common import count

URL = "/api/v1/service-requests"


def new_request(api, user, holder, **overrides):
    payload = {"policyholder_id": holder.id, "kind": "service", "category": "contact_update",
               "subject": "New address", **overrides}
    response = api(user).post(URL, json=payload)
    assert response.status_code == 201, response.json
    return response.json


def due_after_opening(body) -> timedelta:
    return datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(body["opened_at"])


@pytest.mark.parametrize(("kind", "priority", "days"), [
    ("complaint", "urgent", 1), ("complaint", "normal", 5), ("service", "normal", 10)])
def test_due_at_follows_the_sla_of_kind_and_priority(api, make, org, kind, priority, days):
    holder = make.policyholder(owner=org.agent)
    body = new_request(api, org.agent_user, holder, kind=kind, priority=priority)
    assert due_after_opening(body) == timedelta(days=days)
    assert body["status"] == "open"
    assert body["assigned_agent_id"] == org.agent.id  # the policyholder's owner
    assert body["cost"] == "0.00"
    assert api(org.agent_user).get(f"{URL}/{body['id']}").json == body


def test_the_sla_table_covers_every_kind_and_priority():
    assert set(SLA) == {(kind, priority) for kind in ServiceKind for priority in ServicePriority}


def test_an_explicit_due_time_and_assignee_are_kept(api, make, org):
    holder = make.policyholder(owner=org.agent)
    due = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    body = new_request(api, org.manager, holder, due_at=due.isoformat(), assigned_agent_id=org.colleague.id,
                       cost="15.00")
    assert datetime.fromisoformat(body["due_at"]) == due
    assert (body["assigned_agent_id"], body["cost"]) == (org.colleague.id, "15.00")


def test_bad_input_is_refused_field_by_field_and_nothing_is_written(api, make, session, org):
    holder = make.policyholder(owner=org.agent)
    theirs = make.policyholder(owner=org.other_agent)
    client = api(org.agent_user)
    past = (utcnow() - timedelta(days=1)).isoformat()
    base = {"policyholder_id": holder.id, "kind": "complaint", "category": "payment", "subject": "Late refund"}
    cases = [
        ({"policyholder_id": holder.id, "kind": "gripe", "priority": "asap", "cost": "-5"},
         {"kind", "priority", "cost", "category", "subject"}),
        ({**base, "policyholder_id": theirs.id}, {"policyholder_id"}),
        ({**base, "due_at": past}, {"due_at"}),
        ({**base, "assigned_agent_id": org.other_agent.id}, {"assigned_agent_id"}),
        ({**base, "status": "closed"}, {"status"}),
        ({**base, "resolution": "Done already"}, {"resolution"}),
    ]
    for payload, fields in cases:
        response = client.post(URL, json=payload)
        assert response.status_code == 422, payload
        assert set(response.json["errors"]) == fields, payload
    assert count(session, ServiceRequest) == 0


def test_resolving_needs_a_resolution_and_stamps_resolved_at(api, make, session, org):
    created = new_request(api, org.agent_user, make.policyholder(owner=org.agent))
    client = api(org.agent_user)
    path = f"{URL}/{created['id']}"
    response = client.patch(path, json={"status": "resolved"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"resolution"}
    assert session.get(ServiceRequest, created["id"]).status == ServiceStatus.OPEN
    response = client.patch(path, json={"status": "resolved", "resolution": "Address updated", "cost": "8.40"})
    assert response.status_code == 200, response.json
    assert response.json["resolved_at"] is not None
    assert (response.json["resolution"], response.json["cost"]) == ("Address updated", "8.40")
    reopened = client.patch(path, json={"status": "in_progress"}).json
    assert reopened["resolved_at"] is None


def test_a_closed_request_cannot_be_reopened(api, make, session, org):
    created = new_request(api, org.agent_user, make.policyholder(owner=org.agent))
    client = api(org.agent_user)
    path = f"{URL}/{created['id']}"
    assert client.patch(path, json={"status": "closed", "resolution": "Withdrawn by customer"}).status_code == 200
    response = client.patch(path, json={"status": "open"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"status"}
    assert session.get(ServiceRequest, created["id"]).status == ServiceStatus.CLOSED


def test_patch_assigns_and_reprioritises_against_the_sla(api, make, session, org):
    created = new_request(api, org.agent_user, make.policyholder(owner=org.agent), kind="complaint")
    client = api(org.manager)
    path = f"{URL}/{created['id']}"
    response = client.patch(path, json={"priority": "urgent", "assigned_agent_id": org.colleague.id})
    assert response.status_code == 200, response.json
    assert due_after_opening(response.json) == timedelta(days=1)
    assert response.json["assigned_agent_id"] == org.colleague.id
    response = client.patch(f"{URL}/{created['id']}", json={"assigned_agent_id": org.other_agent.id, "cost": "-1"})
    assert set(response.json["errors"]) == {"cost"}
    response = client.patch(f"{URL}/{created['id']}", json={"assigned_agent_id": org.other_agent.id})
    assert set(response.json["errors"]) == {"assigned_agent_id"}
    assert session.get(ServiceRequest, created["id"]).assigned_agent_id == org.colleague.id


def test_the_list_filters_and_finds_overdue_requests(api, make, org):
    holder = make.policyholder(owner=org.agent)
    theirs = make.policyholder(owner=org.other_agent)
    now = utcnow()

    def add(subject, holder, *, due_days, status=ServiceStatus.OPEN, kind=ServiceKind.SERVICE,
            priority=ServicePriority.NORMAL):
        make.session.add(ServiceRequest(policyholder_id=holder.id, kind=kind, category=ServiceCategory.ENQUIRY,
                                        priority=priority,
                                        subject=subject, status=status, opened_at=now - timedelta(days=20),
                                        due_at=now + timedelta(days=due_days), cost=Decimal("0")))

    add("late", holder, due_days=-2)
    add("late but resolved", holder, due_days=-2, status=ServiceStatus.RESOLVED)
    add("on time", holder, due_days=3, kind=ServiceKind.COMPLAINT, priority=ServicePriority.URGENT)
    add("theirs late", theirs, due_days=-2)
    make.session.commit()
    client = api(org.agent_user)

    def subjects(query: str) -> list[str]:
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json
        return [item["subject"] for item in response.json["items"]]

    assert subjects("overdue=true") == ["late"]
    assert sorted(subjects("overdue=false")) == ["late but resolved", "on time"]
    assert subjects("kind=complaint") == ["on time"]
    assert subjects("priority=urgent") == ["on time"]
    assert subjects("status=resolved") == ["late but resolved"]
    assert subjects(f"policyholder_id={theirs.id}") == []
    assert subjects("sort=due_at") == ["late", "late but resolved", "on time"]
