"""The segments API: keep, read, change and delete segments; count a filter; a segment's members; scope, bad input
and the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from insurecrm import clock
from insurecrm.models import AuditLog
from policyholders.segments.models import Segment
from tests.segments.conftest import NOW

SHANGHAI = {"region": ["Shanghai"], "kind": ["person"]}


@pytest.fixture(autouse=True)
def _today():
    with clock.frozen(NOW):
        yield


def _create(client, name="Shanghai people", criteria=None, **extra):
    response = client.post("/api/v1/segments", json={"name": name, "filter": criteria or SHANGHAI, **extra})
    assert response.status_code == 201, response.json
    return response.json


def test_create_read_list_count_and_members(api, book):
    client = api(book.agent_user)
    created = _create(client, description="For the spring campaign")
    assert created["filter"] == SHANGHAI and created["owner_user_id"] == book.agent_user.id
    assert created["org_unit_id"] == book.team.id and created["version"] == 1
    assert client.get(f"/api/v1/segments/{created['id']}").json["name"] == "Shanghai people"
    assert [item["id"] for item in client.get("/api/v1/segments").json["items"]] == [created["id"]]
    members = client.get(f"/api/v1/segments/{created['id']}/members").json
    assert [item["id"] for item in members["items"]] == [book.h1.id] and members["meta"]["total"] == 1
    assert client.post("/api/v1/segments/count", json={"filter": {"region": ["Shanghai"]}}).json == {"count": 2}
    assert client.post("/api/v1/segments/count", json={}).json == {"count": 4}


def test_members_and_count_on_a_date(api, book):
    client = api(book.agent_user)
    segment = _create(client, criteria={"renewal_due_days": 30})
    assert client.get(f"/api/v1/segments/{segment['id']}/members").json["meta"]["total"] == 2
    on_fifth = client.get(f"/api/v1/segments/{segment['id']}/members?on=2026-11-05").json
    assert [item["id"] for item in on_fifth["items"]] == [book.h4.id]
    assert client.post("/api/v1/segments/count", json={"filter": {"renewal_due_days": 30},
                                                       "on": "2026-11-05"}).json == {"count": 1}


def test_change_and_delete(api, book, session):
    client = api(book.agent_user)
    segment = _create(client)
    url = f"/api/v1/segments/{segment['id']}"
    changed = client.patch(url, json={"version": 1, "name": "Golfers", "filter": {"tags_any": ["golf"]}})
    assert changed.status_code == 200, changed.json
    assert changed.json["filter"] == {"tags_any": ["golf"]} and changed.json["version"] == 2
    assert client.patch(url, json={"version": 1, "name": "Stale"}).status_code == 409
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert session.scalar(select(func.count()).select_from(Segment)) == 0


def test_changes_are_audited(api, book, session):
    client = api(book.agent_user)
    segment = _create(client)
    client.patch(f"/api/v1/segments/{segment['id']}", json={"version": 1, "name": "Golfers"})
    client.delete(f"/api/v1/segments/{segment['id']}")
    rows = session.scalars(select(AuditLog).where(AuditLog.entity_type == "segments",
                                                  AuditLog.entity_id == segment["id"]).order_by(AuditLog.id)).all()
    assert [(row.action, row.actor_user_id) for row in rows] == [("create", book.agent_user.id)] + [
        ("update", book.agent_user.id), ("delete", book.agent_user.id)]
    assert rows[1].changes["name"] == ["Shanghai people", "Golfers"]


def test_a_name_is_unique_among_the_owners_segments(api, book):
    client = api(book.agent_user)
    first = _create(client)
    again = client.post("/api/v1/segments", json={"name": "shanghai PEOPLE", "filter": {}})
    assert again.status_code == 422 and "name" in again.json["errors"]
    _create(api(book.other_user))  # another owner may use the name
    second = _create(client, name="Other")
    renamed = client.patch(f"/api/v1/segments/{second['id']}", json={"version": 1, "name": first["name"]})
    assert renamed.status_code == 422 and "name" in renamed.json["errors"]


def test_another_agents_segment_is_not_found_and_counts_only_their_book(api, book):
    mine = _create(api(book.agent_user))
    theirs = api(book.other_user)
    for method, suffix in (("get", ""), ("get", "/members"), ("delete", "")):
        assert getattr(theirs, method)(f"/api/v1/segments/{mine['id']}{suffix}").status_code == 404
    assert theirs.patch(f"/api/v1/segments/{mine['id']}", json={"version": 1, "name": "X"}).status_code == 404
    assert theirs.get("/api/v1/segments").json["items"] == []
    # the same filter in the other agent's scope holds their own holder only
    assert theirs.post("/api/v1/segments/count", json={"filter": SHANGHAI}).json == {"count": 1}
    assert api(book.specialist_user).get(f"/api/v1/segments/{mine['id']}").status_code == 404


def test_managers_see_their_branchs_segments_in_their_own_scope(api, book):
    mine = _create(api(book.agent_user))
    assert api(book.manager).get(f"/api/v1/segments/{mine['id']}").status_code == 200
    assert api(book.sibling_manager).get(f"/api/v1/segments/{mine['id']}").status_code == 404
    admin = api(book.admin)
    assert admin.get(f"/api/v1/segments/{mine['id']}").status_code == 200
    # evaluated in the reader's scope: the admin sees z1 as well
    assert admin.get(f"/api/v1/segments/{mine['id']}/members").json["meta"]["total"] == 2


@pytest.mark.parametrize("role", ["actuary", "referrer"])
def test_actuaries_and_referrers_have_no_segments(api, book, role):
    mine = _create(api(book.agent_user))
    client = api(getattr(book, role))
    assert client.get("/api/v1/segments").status_code == 403
    assert client.get(f"/api/v1/segments/{mine['id']}").status_code == 403
    assert client.get(f"/api/v1/segments/{mine['id']}/members").status_code == 403
    assert client.post("/api/v1/segments/count", json={}).status_code == 403
    assert client.post("/api/v1/segments", json={"name": "X"}).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "X", "filter": {"colour": "red"}}, "filter"),
    ({"name": "X", "filter": {"age_min": 50, "age_max": 20}}, "filter"),
    ({"name": "X", "filter": {"churn_min": 101}}, "filter"),
    ({"name": "X", "filter": {"gender": "female"}}, "filter"),
    ({"name": "X", "filter": {"birthday_month": [0]}}, "filter"),
    ({"name": "X", "filter": {"age_min": 1.5}}, "filter"),
    ({"name": "", "filter": {}}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "X", "description": "d" * 2001}, "description"),
    ({"name": "X", "owner_user_id": 1}, "owner_user_id"),
    ({"filter": {}}, "name"),
])
def test_bad_input_is_refused_with_its_field(api, book, session, body, field):
    response = api(book.agent_user).post("/api/v1/segments", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert session.scalar(select(func.count()).select_from(Segment)) == 0


def test_a_count_with_a_bad_filter_is_refused(api, book):
    client = api(book.agent_user)
    response = client.post("/api/v1/segments/count", json={"filter": {"quadrant": ["best"]}})
    assert response.status_code == 422 and "filter" in response.json["errors"]
    assert client.get("/api/v1/segments/1/members?on=1800-01-01").status_code in (404, 422)


def test_a_segment_a_campaign_targets_is_not_deleted(api, book, session):
    from datetime import date

    from policyholders.campaigns.models import Campaign, CampaignChannel, CampaignKind

    client = api(book.agent_user)
    segment = _create(client)
    session.add(Campaign(name="Spring", kind=CampaignKind.CUSTOM, channel=CampaignChannel.EMAIL,
                         segment_id=segment["id"], start_date=date(2026, 12, 1)))
    session.commit()
    response = client.delete(f"/api/v1/segments/{segment['id']}")
    assert response.status_code == 409 and "campaign" in response.json["message"]
    assert client.get(f"/api/v1/segments/{segment['id']}").status_code == 200
