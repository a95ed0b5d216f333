"""Who sees what: agents their own book, managers their subtree, specialists their bank partners,
the actuary everything without personal data, the referrer nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from insurecrm.db import utcnow
from insurecrm.pii import pseudonym
from policyholders.models import (
    IdType,
    Interaction,
    InteractionChannel,
    Policyholder,
    PolicyholderRelationship,
    RelationshipKind,
    ServiceCategory,
    ServiceKind,
    ServiceRequest,
)
from tests.policyholders.common import RIC_1985, count

PERSONAL = {"name": "Chen Xiaoming", "phone": "+8613912345678", "email": "chen.xm@example.com",
            "address": "88 Nanjing Road, Shanghai", "id_number": RIC_1985}


def book_of(make, agent, **personal) -> Policyholder:
    """A policyholder of ``agent`` with a spouse, a contact and a complaint."""
    holder = make.policyholder(owner=agent, **personal)
    spouse = make.policyholder(owner=agent)
    make.session.add_all([
        PolicyholderRelationship(from_policyholder_id=holder.id, to_policyholder_id=spouse.id,
                                 kind=RelationshipKind.SPOUSE),
        Interaction(policyholder_id=holder.id, agent_id=agent.id, channel=InteractionChannel.PHONE,
                    summary="Asked about the premium rise"),
        ServiceRequest(policyholder_id=holder.id, kind=ServiceKind.COMPLAINT, category=ServiceCategory.PAYMENT,
                       subject="Double debit", due_at=utcnow() + timedelta(days=5), cost=Decimal("0")),
    ])
    make.session.commit()
    return holder


@pytest.fixture
def theirs(make, org):
    """Another agent's policyholder (in the sibling branch), with personal data we look for in responses."""
    return book_of(make, org.other_agent, id_type=IdType.PRC_RESIDENT, **PERSONAL)


def paths_of(holder, session) -> dict[str, str]:
    interaction = session.scalar(select(Interaction.id).where(Interaction.policyholder_id == holder.id))
    request = session.scalar(select(ServiceRequest.id).where(ServiceRequest.policyholder_id == holder.id))
    relationship = session.scalar(select(PolicyholderRelationship.id)
                                  .where(PolicyholderRelationship.from_policyholder_id == holder.id))
    base = f"/api/v1/policyholders/{holder.id}"
    return {"holder": base, "relationships": f"{base}/relationships", "household": f"{base}/household",
            "relationship": f"{base}/relationships/{relationship}",
            "interaction": f"/api/v1/interactions/{interaction}", "request": f"/api/v1/service-requests/{request}"}


REQUESTS = [
    ("GET", "holder", None), ("PATCH", "holder", {"version": 1, "name": "Mine now"}), ("DELETE", "holder", None),
    ("GET", "relationships", None), ("POST", "relationships", {"to_policyholder_id": 1, "kind": "spouse"}),
    ("DELETE", "relationship", None), ("GET", "household", None),
    ("GET", "interaction", None), ("PATCH", "interaction", {"summary": "Rewritten"}),
    ("GET", "request", None), ("PATCH", "request", {"priority": "low"}),
]


@pytest.mark.parametrize(("method", "target", "payload"), REQUESTS)
def test_another_agents_records_are_404(api, make, session, org, theirs, method, target, payload):
    response = api(org.agent_user)._call(method, paths_of(theirs, session)[target], json=payload)
    assert response.status_code == 404
    assert PERSONAL["name"] not in response.text


@pytest.mark.parametrize(("method", "target", "payload"), REQUESTS)
def test_a_sibling_branch_manager_gets_404(api, make, session, org, method, target, payload):
    in_the_team = book_of(make, org.agent)
    response = api(org.sibling_manager)._call(method, paths_of(in_the_team, session)[target], json=payload)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "target", "payload"), REQUESTS)
def test_the_referrer_is_forbidden_everything(api, make, session, org, theirs, method, target, payload):
    response = api(org.referrer)._call(method, paths_of(theirs, session)[target], json=payload)
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/policyholders", "/api/v1/interactions", "/api/v1/service-requests"])
def test_the_referrer_cannot_list_or_create(api, session, org, theirs, path):
    valid = {"/api/v1/policyholders": {"name": "X", "org_unit_id": org.branch.id},
             "/api/v1/interactions": {"policyholder_id": theirs.id, "channel": "web", "summary": "x"},
             "/api/v1/service-requests": {"policyholder_id": theirs.id, "kind": "service", "category": "enquiry",
                                          "subject": "x"}}
    before = (count(session, Policyholder), count(session, Interaction), count(session, ServiceRequest))
    assert api(org.referrer).get(path).status_code == 403
    assert api(org.referrer).post(path, json=valid[path]).status_code == 403
    assert before == (count(session, Policyholder), count(session, Interaction), count(session, ServiceRequest))


def listed_ids(api, user) -> set[int]:
    response = api(user).get("/api/v1/policyholders?per_page=500")
    assert response.status_code == 200, response.json
    return {item["id"] for item in response.json["items"]}


def test_each_role_lists_its_own_scope(api, make, org, theirs):
    mine = make.policyholder(owner=org.agent)
    colleagues = make.policyholder(owner=org.colleague)
    pool = make.policyholder(owner=None, org_unit_id=org.branch.id)
    via_bank = make.policyholder(owner=org.other_agent, bank_partner_id=org.partner.id)
    everyone = {mine.id, colleagues.id, pool.id, via_bank.id, theirs.id, theirs.id + 1}
    assert listed_ids(api, org.agent_user) == {mine.id}
    assert listed_ids(api, org.manager) == {mine.id, colleagues.id, pool.id}
    assert listed_ids(api, org.sibling_manager) == {via_bank.id, theirs.id, theirs.id + 1}
    assert listed_ids(api, org.specialist_user) == {via_bank.id}
    assert everyone <= listed_ids(api, org.admin)
    assert everyone <= listed_ids(api, org.actuary)


def test_a_branch_manager_reads_and_writes_their_subtree_only(api, make, org, theirs):
    mine = make.policyholder(owner=org.agent)
    client = api(org.manager)
    assert client.get(f"/api/v1/policyholders/{mine.id}").status_code == 200
    assert client.patch(f"/api/v1/policyholders/{mine.id}", json={"version": 1, "region": "Beijing"}).status_code == 200
    assert client.get(f"/api/v1/policyholders/{theirs.id}").status_code == 404


def test_a_specialist_works_the_policyholders_of_their_bank_partners(api, make, org):
    via_bank = make.policyholder(owner=org.other_agent, bank_partner_id=org.partner.id)
    other_bank = make.policyholder(owner=org.other_agent, bank_partner_id=make.bank_partner().id)
    client = api(org.specialist_user)
    assert client.get(f"/api/v1/policyholders/{via_bank.id}").status_code == 200
    assert client.get(f"/api/v1/policyholders/{other_bank.id}").status_code == 404
    response = client.post("/api/v1/interactions", json={"policyholder_id": via_bank.id, "channel": "branch_counter",
                                                        "summary": "Met at the bank"})
    assert response.status_code == 201
    assert response.json["agent_id"] == org.specialist.id


def test_the_actuary_reads_without_personal_data(api, make, session, org, theirs):
    client = api(org.actuary)
    responses = [
        client.get("/api/v1/policyholders"), client.get(f"/api/v1/policyholders/{theirs.id}"),
        client.get(f"/api/v1/policyholders/{theirs.id}/relationships"),
        client.get(f"/api/v1/policyholders/{theirs.id}/household"),
        client.get("/api/v1/interactions"), client.get("/api/v1/service-requests"),
    ]
    for response in responses:
        assert response.status_code == 200, response.json
        for value in (*PERSONAL.values(), "110105********0024", "Asked about the premium rise", "Double debit"):
            assert value not in response.text, (response.request.path, value)
    detail = responses[1].json
    assert detail["name"] == pseudonym("policyholder", theirs.id)
    assert detail["phone"] is None and detail["id_number"] is None and detail["date_of_birth"] is None
    assert detail["region"] is None or isinstance(detail["region"], str)
    household = responses[3].json
    assert household["policyholder"]["name"] == pseudonym("policyholder", theirs.id)


def test_the_actuary_cannot_search_or_sort_by_personal_data(api, org, theirs):
    client = api(org.actuary)
    assert set(client.get("/api/v1/policyholders?q=Chen").json["errors"]) == {"q"}
    assert set(client.get("/api/v1/policyholders?sort=name").json["errors"]) == {"sort"}


@pytest.mark.parametrize("role", ["actuary", "referrer"])
def test_a_role_that_may_not_write_gets_403_whatever_it_sends(api, session, org, theirs, role):
    client = api(getattr(org, role))
    paths = paths_of(theirs, session)
    for method, path in (("POST", "/api/v1/policyholders"), ("PATCH", paths["holder"]),
                         ("POST", paths["relationships"]), ("POST", "/api/v1/interactions"),
                         ("PATCH", paths["interaction"]), ("POST", "/api/v1/service-requests"),
                         ("PATCH", paths["request"])):
        assert client._call(method, path, json={"nonsense": True}).status_code == 403, (method, path)


def test_the_actuary_never_writes(api, make, session, org, theirs):
    client = api(org.actuary)
    paths = paths_of(theirs, session)
    before = (count(session, Policyholder), count(session, Interaction), count(session, ServiceRequest))
    assert client.post("/api/v1/policyholders", json={"name": "X", "org_unit_id": org.branch.id}).status_code == 403
    assert client.patch(paths["holder"], json={"version": 1, "name": "X"}).status_code == 403
    assert client.delete(paths["holder"]).status_code == 403
    assert client.post(paths["relationships"], json={"to_policyholder_id": 1, "kind": "spouse"}).status_code == 403
    assert client.post("/api/v1/interactions", json={"policyholder_id": theirs.id, "channel": "web",
                                                    "summary": "x"}).status_code == 403
    assert client.patch(paths["request"], json={"priority": "low"}).status_code == 403
    assert before == (count(session, Policyholder), count(session, Interaction), count(session, ServiceRequest))
