"""Household relationships: both directions in one transaction, visibility of both ends, household view."""

from __future__ import annotations

from sqlalchemy import or_, select

from policyholders.models import PartyKind, PolicyholderRelationship, RelationshipKind
from tests.policyholders.common import count

URL = "/api/v1/policyholders"


def relations(session, holder) -> set[tuple[int, int, str]]:
    rows = session.scalars(select(PolicyholderRelationship).where(or_(
        PolicyholderRelationship.from_policyholder_id == holder.id,
        PolicyholderRelationship.to_policyholder_id == holder.id)))
    return {(row.from_policyholder_id, row.to_policyholder_id, row.kind.value) for row in rows}


def test_a_spouse_relationship_is_recorded_both_ways(api, make, session, org):
    wife, husband = make.policyholder(owner=org.agent), make.policyholder(owner=org.agent)
    response = api(org.agent_user).post(f"{URL}/{wife.id}/relationships", json={
        "to_policyholder_id": husband.id, "kind": "spouse", "note": "married 2015"})
    assert response.status_code == 201, response.json
    assert response.json["to_policyholder"]["name"] == husband.name
    assert relations(session, wife) == {(wife.id, husband.id, "spouse"), (husband.id, wife.id, "spouse")}
    listed = api(org.agent_user).get(f"{URL}/{husband.id}/relationships").json
    assert [(r["kind"], r["to_policyholder_id"]) for r in listed] == [("spouse", wife.id)]
    detail = api(org.agent_user).get(f"{URL}/{wife.id}").json
    assert [(r["kind"], r["to_policyholder"]["id"]) for r in detail["relationships"]] == [("spouse", husband.id)]


def test_child_parent_and_employer_employee_get_their_inverse(api, make, session, org):
    child, parent = make.policyholder(owner=org.agent), make.policyholder(owner=org.agent)
    company = make.policyholder(owner=org.agent, kind=PartyKind.ORGANISATION)
    client = api(org.agent_user)
    assert client.post(f"{URL}/{child.id}/relationships",
                       json={"to_policyholder_id": parent.id, "kind": "child"}).status_code == 201
    assert client.post(f"{URL}/{company.id}/relationships",
                       json={"to_policyholder_id": parent.id, "kind": "employer"}).status_code == 201
    assert relations(session, parent) == {
        (child.id, parent.id, "child"), (parent.id, child.id, "parent"),
        (company.id, parent.id, "employer"), (parent.id, company.id, "employee"),
    }


def test_a_beneficiary_relationship_has_no_inverse(api, make, session, org):
    holder, beneficiary = make.policyholder(owner=org.agent), make.policyholder(owner=org.agent)
    api(org.agent_user).post(f"{URL}/{beneficiary.id}/relationships",
                             json={"to_policyholder_id": holder.id, "kind": "beneficiary"})
    assert relations(session, holder) == {(beneficiary.id, holder.id, "beneficiary")}


def test_bad_relationships_are_refused_and_nothing_is_written(api, make, session, org):
    mine, also_mine = make.policyholder(owner=org.agent), make.policyholder(owner=org.agent)
    company = make.policyholder(owner=org.agent, kind=PartyKind.ORGANISATION)
    not_mine = make.policyholder(owner=org.other_agent)
    client = api(org.agent_user)
    path = f"{URL}/{mine.id}/relationships"
    cases = [
        ({"to_policyholder_id": mine.id, "kind": "spouse"}, {"to_policyholder_id"}),
        ({"to_policyholder_id": not_mine.id, "kind": "spouse"}, {"to_policyholder_id"}),
        ({"to_policyholder_id": 999999, "kind": "spouse"}, {"to_policyholder_id"}),
        ({"to_policyholder_id": company.id, "kind": "spouse"}, {"kind"}),
        ({"to_policyholder_id": also_mine.id, "kind": "cousin"}, {"kind"}),
        ({"kind": "spouse", "note": "x" * 256}, {"to_policyholder_id", "note"}),
    ]
    for payload, fields in cases:
        response = client.post(path, json=payload)
        assert response.status_code == 422, payload
        assert set(response.json["errors"]) == fields, payload
    assert count(session, PolicyholderRelationship) == 0


def test_a_relationship_already_recorded_is_refused(api, make, session, org):
    a, b = make.policyholder(owner=org.agent), make.policyholder(owner=org.agent)
    client = api(org.agent_user)
    client.post(f"{URL}/{a.id}/relationships", json={"to_policyholder_id": b.id, "kind": "spouse"})
    response = client.post(f"{URL}/{b.id}/relationships", json={"to_policyholder_id": a.id, "kind": "spouse"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"kind"}
    assert count(session, PolicyholderRelationship) == 2


def test_deleting_a_relationship_deletes_its_inverse(api, make, session, org):
    a, b, c = (make.policyholder(owner=org.agent) for _ in range(3))
    client = api(org.agent_user)
    rel_id = client.post(f"{URL}/{a.id}/relationships", json={"to_policyholder_id": b.id, "kind": "parent"}).json["id"]
    assert client.delete(f"{URL}/{c.id}/relationships/{rel_id}").status_code == 404  # not c's relationship
    assert client.delete(f"{URL}/{a.id}/relationships/{rel_id}").status_code == 204
    assert count(session, PolicyholderRelationship) == 0


def test_the_household_lists_related_policyholders_with_their_policy_counts(api, make, org):
    holder, spouse, child = (make.policyholder(owner=org.agent) for _ in range(3))
    stranger = make.policyholder(owner=org.other_agent)
    make.policy(policyholder=holder)
    make.policy(policyholder=spouse)
    make.policy(policyholder=spouse)
    links = [(spouse, holder, RelationshipKind.SPOUSE), (holder, spouse, RelationshipKind.SPOUSE),
             (holder, spouse, RelationshipKind.BENEFICIARY), (holder, child, RelationshipKind.PARENT),
             # an end the agent may no longer see (reassigned) stays out of their view
             (holder, stranger, RelationshipKind.SIBLING)]
    make.session.add_all([PolicyholderRelationship(from_policyholder_id=a.id, to_policyholder_id=b.id, kind=kind)
                          for a, b, kind in links])
    make.session.commit()
    response = api(org.agent_user).get(f"{URL}/{holder.id}/household")
    assert response.status_code == 200
    body = response.json
    assert (body["policyholder"]["id"], body["policies_count"]) == (holder.id, 1)
    members = {m["policyholder"]["id"]: (sorted(m["kinds"]), m["policies_count"]) for m in body["members"]}
    assert members == {spouse.id: (["beneficiary", "spouse"], 2), child.id: (["parent"], 0)}
    assert stranger.name not in response.text
    assert stranger.name not in api(org.agent_user).get(f"{URL}/{holder.id}").text


def test_another_agents_policyholder_has_no_relationships_for_you(api, make, session, org):
    theirs, mine = make.policyholder(owner=org.other_agent), make.policyholder(owner=org.agent)
    client = api(org.agent_user)
    assert client.get(f"{URL}/{theirs.id}/relationships").status_code == 404
    assert client.get(f"{URL}/{theirs.id}/household").status_code == 404
    response = client.post(f"{URL}/{theirs.id}/relationships", json={"to_policyholder_id": mine.id, "kind": "spouse"})
    assert response.status_code == 404
    other_client = api(org.other_agent_user)
    rel_id = other_client.post(f"{URL}/{theirs.id}/relationships", json={
        "to_policyholder_id": make.policyholder(owner=org.other_agent).id, "kind": "spouse"}).json["id"]
    assert client.delete(f"{URL}/{theirs.id}/relationships/{rel_id}").status_code == 404
    assert count(session, PolicyholderRelationship) == 2
