"""Interactions (接触记录): logging contacts, correcting them, listing the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from insurecrm.db import utcnow
from policyholders.models import Interaction, InteractionChannel
from tests.policyholders.common import count

URL = "/api/v1/interactions"


def test_an_agent_logs_a_contact_by_themselves_now(api, make, session, org):
    holder = make.policyholder(owner=org.agent)
    before = utcnow()
    response = api(org.agent_user).post(URL, json={"policyholder_id": holder.id, "channel": "phone",
                                                   "summary": "Discussed renewal", "cost": "12.50"})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["agent_id"] == org.agent.id
    assert body["user_id"] == org.agent_user.id
    assert body["cost"] == "12.50"
    assert body["direction"] == "outbound"
    assert before <= datetime.fromisoformat(body["occurred_at"]) <= utcnow()
    fetched = api(org.agent_user).get(f"{URL}/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json == body


def test_bad_input_is_refused_field_by_field_and_nothing_is_written(api, make, session, org):
    holder = make.policyholder(owner=org.agent)
    theirs = make.policyholder(owner=org.other_agent)
    client = api(org.agent_user)
    future = (utcnow() + timedelta(days=1)).isoformat()
    cases = [
        ({"policyholder_id": holder.id, "channel": "pigeon", "cost": "-1"}, {"channel", "cost", "summary"}),
        ({"policyholder_id": theirs.id, "channel": "visit", "summary": "Hi"}, {"policyholder_id"}),
        ({"policyholder_id": 999999, "channel": "visit", "summary": "Hi"}, {"policyholder_id"}),
        ({"policyholder_id": holder.id, "channel": "visit", "summary": "Hi", "agent_id": org.colleague.id},
         {"agent_id"}),
        ({"policyholder_id": holder.id, "channel": "visit", "summary": "Hi", "occurred_at": future}, {"occurred_at"}),
        ({"policyholder_id": holder.id, "channel": "visit", "summary": "Hi", "occurred_at": "yesterday"},
         {"occurred_at"}),
        ({"policyholder_id": holder.id, "channel": "visit", "summary": "Hi",
          "policy_id": make.policy(policyholder=theirs).id}, {"policy_id"}),
    ]
    for payload, fields in cases:
        response = client.post(URL, json=payload)
        assert response.status_code == 422, payload
        assert set(response.json["errors"]) == fields, payload
    assert count(session, Interaction) == 0


def test_a_manager_logs_a_contact_for_an_agent_of_their_branch(api, make, org):
    holder = make.policyholder(owner=org.agent)
    when = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    client = api(org.manager)
    response = client.post(URL, json={"policyholder_id": holder.id, "channel": "visit", "summary": "Home visit",
                                      "agent_id": org.agent.id, "occurred_at": when.isoformat()})
    assert response.status_code == 201, response.json
    assert datetime.fromisoformat(response.json["occurred_at"]) == when
    response = client.post(URL, json={"policyholder_id": holder.id, "channel": "visit", "summary": "Home visit",
                                      "agent_id": org.other_agent.id})
    assert set(response.json["errors"]) == {"agent_id"}


def test_patch_corrects_summary_outcome_and_cost_only(api, make, session, org):
    holder = make.policyholder(owner=org.agent)
    client = api(org.agent_user)
    created = client.post(URL, json={"policyholder_id": holder.id, "channel": "phone", "summary": "Call"}).json
    response = client.patch(f"{URL}/{created['id']}", json={"summary": "Call about renewal", "outcome": "quoted",
                                                            "cost": "3.00"})
    assert response.status_code == 200
    assert (response.json["summary"], response.json["outcome"], response.json["cost"]) == (
        "Call about renewal", "quoted", "3.00")
    response = client.patch(f"{URL}/{created['id']}", json={"channel": "visit", "cost": "-2"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"channel", "cost"}
    session.expire_all()
    row = session.get(Interaction, created["id"])
    assert (row.channel, str(row.cost)) == (InteractionChannel.PHONE, "3.00")


def test_the_list_filters_by_policyholder_channel_agent_and_time(api, make, org):
    a, b = make.policyholder(owner=org.agent), make.policyholder(owner=org.agent)
    theirs = make.policyholder(owner=org.other_agent)
    jan, feb = datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC)
    contacts = [(a, org.agent, InteractionChannel.PHONE, jan, "a1"),
                (a, org.agent, InteractionChannel.VISIT, feb, "a2"),
                (b, None, InteractionChannel.EMAIL, feb, "b1"),
                (theirs, org.other_agent, InteractionChannel.PHONE, feb, "theirs")]
    make.session.add_all([Interaction(policyholder_id=holder.id, agent_id=agent.id if agent else None, channel=channel,
                                      occurred_at=when, summary=summary)
                          for holder, agent, channel, when, summary in contacts])
    make.session.commit()
    client = api(org.agent_user)

    def summaries(query: str = "") -> list[str]:
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json
        return [item["summary"] for item in response.json["items"]]

    assert summaries() == ["a2", "b1", "a1"]  # latest first
    assert summaries(f"policyholder_id={a.id}&sort=occurred_at") == ["a1", "a2"]
    assert summaries("channel=phone") == ["a1"]
    assert summaries(f"agent_id={org.agent.id}&sort=occurred_at") == ["a1", "a2"]
    assert sorted(summaries("occurred_from=2026-02-01T00:00:00Z&occurred_to=2026-03-01T00:00:00Z")) == ["a2", "b1"]
    assert summaries(f"policyholder_id={theirs.id}") == []
