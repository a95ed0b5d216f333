"""Household members on the 360° view: someone of one's book found by a search (as you type, or with the search
button), or a new person created in place; the relationship and its inverse through the API's service."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from insurecrm.models import AuditLog
from policyholders.models import Policyholder, PolicyholderRelationship, PolicyholderStatus, RelationshipKind
from tests.api_client import csrf_token
from tests.helpers import counted_queries
from tests.policyholders.common import count


@pytest.fixture
def holder(org, make):
    return make.policyholder(org.agent, name="张伟", phone="+8613800138000")


@pytest.fixture
def spouse(org, make):
    return make.policyholder(org.agent, name="李娜", phone="+8613900139000", date_of_birth=date(1991, 4, 5))


def post(client, path: str, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client)})


def relationships(session, holder) -> set[tuple[int, int, RelationshipKind]]:
    rows = session.scalars(select(PolicyholderRelationship).where(
        (PolicyholderRelationship.from_policyholder_id == holder.id)
        | (PolicyholderRelationship.to_policyholder_id == holder.id)))
    return {(row.from_policyholder_id, row.to_policyholder_id, row.kind) for row in rows}


def test_the_360_view_offers_the_household_forms_to_writers_only(web, org, holder):
    html = web(org.agent_user).get(f"/policyholders/{holder.id}").get_data(as_text=True)
    assert 'id="add-member"' in html and f'action="/policyholders/{holder.id}/household"' in html
    assert 'hx-get="/policyholders/lookup"' in html and f'action="/policyholders/{holder.id}/household/new"' in html
    assert 'id="add-member"' not in web(org.actuary).get(f"/policyholders/{holder.id}").get_data(as_text=True)


def test_the_search_as_you_type_offers_the_book_only(web, org, make, holder, spouse):
    make.policyholder(org.other_agent, name="李娜娜")  # another agent's: never offered
    html = web(org.agent_user).get("/policyholders/lookup", query_string={
        "q": "李", "field": "to_policyholder_id", "exclude": holder.id, "prefix": "member-"}).get_data(as_text=True)
    assert f'name="to_policyholder_id" value="{spouse.id}"' in html and "李娜" in html
    assert "李娜娜" not in html and f'value="{holder.id}"' not in html
    by_phone = web(org.agent_user).get("/policyholders/lookup", query_string={
        "q": "139 0013 9000", "field": "to_policyholder_id"}).get_data(as_text=True)
    assert f'value="{spouse.id}"' in by_phone
    none = web(org.agent_user).get("/policyholders/lookup", query_string={"q": "Nobody", "field": "policyholder_id"})
    assert "No policyholder of your book matches." in none.get_data(as_text=True)


def test_the_lookup_refuses_unknown_fields_and_roles(web, org):
    assert web(org.agent_user).get("/policyholders/lookup?q=a&field=password").status_code == 404
    assert web(org.actuary).get("/policyholders/lookup?q=a").status_code == 403


def test_the_search_without_javascript(web, org, holder, spouse):
    html = web(org.agent_user).get(f"/policyholders/{holder.id}?q=李").get_data(as_text=True)
    assert '<details id="add-member" open' in html
    assert f'name="to_policyholder_id" value="{spouse.id}"' in html


def test_adding_a_member_of_the_book(web, org, holder, spouse, session):
    client = web(org.agent_user)
    response = post(client, f"/policyholders/{holder.id}/household", to_policyholder_id=str(spouse.id), kind="spouse")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/policyholders/{holder.id}#household")
    assert relationships(session, holder) == {(holder.id, spouse.id, RelationshipKind.SPOUSE),
                                              (spouse.id, holder.id, RelationshipKind.SPOUSE)}
    html = client.get(f"/policyholders/{holder.id}").get_data(as_text=True)
    assert "Household member added." in html and f'href="/policyholders/{spouse.id}">李娜</a>' in html
    audited = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policyholder_relationships")).all()
    assert len(audited) == 2 and {row.action for row in audited} == {"create"}
    assert {row.actor_user_id for row in audited} == {org.agent_user.id}
    assert {tuple(row.changes["kind"]) for row in audited} == {(None, "spouse")}


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"kind": "spouse"}, "to_policyholder_id", "Missing data for required field."),
    ({"to_policyholder_id": "SPOUSE"}, "kind", "Missing data for required field."),
    ({"to_policyholder_id": "SPOUSE", "kind": "cousin"}, "kind", "Must be one of"),
    ({"to_policyholder_id": "HOLDER", "kind": "spouse"}, "to_policyholder_id", "cannot be related to themselves"),
    ({"to_policyholder_id": "FOREIGN", "kind": "spouse"}, "to_policyholder_id", "not found"),
])
def test_a_refused_member_shows_why_next_to_the_field(web, org, make, holder, spouse, session, form, field, message):
    ids = {"SPOUSE": spouse.id, "HOLDER": holder.id, "FOREIGN": make.policyholder(org.other_agent).id}
    form = {key: str(ids.get(value, value)) for key, value in form.items()}
    response = post(web(org.agent_user), f"/policyholders/{holder.id}/household", **form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="member-{field}-error"' in html and message in html and '<details id="add-member" open' in html
    assert relationships(session, holder) == set()


def test_creating_a_new_person_in_place(web, org, holder, session):
    client = web(org.agent_user)
    response = post(client, f"/policyholders/{holder.id}/household/new", name="张小明", kind="parent",
                    gender="male", date_of_birth="2015-06-01", phone="")
    assert response.status_code == 302
    child = session.scalars(select(Policyholder).where(Policyholder.name == "张小明")).one()
    assert (child.owner_agent_id, child.org_unit_id, child.status, child.date_of_birth, child.phone) == (
        org.agent.id, org.team.id, PolicyholderStatus.PROSPECT, date(2015, 6, 1), None)
    assert relationships(session, holder) == {(holder.id, child.id, RelationshipKind.PARENT),
                                              (child.id, holder.id, RelationshipKind.CHILD)}
    assert session.scalars(select(AuditLog.action).where(AuditLog.entity_type == "policyholders",
                                                         AuditLog.entity_id == child.id)).all() == ["create"]
    html = client.get(f"/policyholders/{holder.id}").get_data(as_text=True)
    assert "张小明 is in the book and in the household." in html


def test_a_manager_creates_the_member_in_the_policyholders_book(web, org, holder, session):
    assert post(web(org.manager), f"/policyholders/{holder.id}/household/new", name="Zhang Min",
                kind="spouse").status_code == 302
    member = session.scalars(select(Policyholder).where(Policyholder.name == "Zhang Min")).one()
    assert (member.owner_agent_id, member.org_unit_id) == (holder.owner_agent_id, holder.org_unit_id)


@pytest.mark.parametrize(("form", "field"), [({"name": ""}, "name"), ({"name": "X", "phone": "12"}, "phone"),
                                           ({"name": "X", "kind": "boss"}, "kind")])
def test_a_new_person_refused_writes_nothing(web, org, holder, session, form, field):
    before = count(session, Policyholder)
    response = post(web(org.agent_user), f"/policyholders/{holder.id}/household/new", **{"kind": "spouse", **form})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'id="member-new-{field}-error"' in html
    assert count(session, Policyholder) == before and relationships(session, holder) == set()


def test_a_likely_duplicate_is_shown_before_creating_a_member(web, org, holder, spouse, session):
    client = web(org.agent_user)
    before = count(session, Policyholder)
    response = post(client, f"/policyholders/{holder.id}/household/new", name="Li Na", kind="spouse",
                    phone="13900139000")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "This person may already be on file" in html
    assert f'<a href="/policyholders/{spouse.id}">李娜</a>' in html and 'form="member-new"' in html
    assert count(session, Policyholder) == before
    # the one on file can be taken instead, with the relationship chosen
    instead = html.split("Add this one instead")[0].rsplit("<form", 1)[1]
    assert f'action="/policyholders/{holder.id}/household"' in instead and 'name="kind" value="spouse"' in instead
    assert f'name="to_policyholder_id" value="{spouse.id}"' in instead
    confirmed = post(client, f"/policyholders/{holder.id}/household/new", name="Li Na", kind="spouse",
                     phone="13900139000", confirm_duplicate="1")
    assert confirmed.status_code == 302 and count(session, Policyholder) == before + 1


def test_the_household_forms_keep_the_360_view_query_count(web, org, make, holder):
    client = web(org.agent_user)
    client.get(f"/policyholders/{holder.id}")
    counted = []
    for size in (1, 15):
        for _ in range(size):
            member = make.policyholder(org.agent, name=f"李 {size}")
            make.session.add(PolicyholderRelationship(from_policyholder_id=holder.id, to_policyholder_id=member.id,
                                                      kind=RelationshipKind.OTHER))
        make.session.commit()
        make.session.expunge_all()
        with counted_queries() as queries:
            assert client.get(f"/policyholders/{holder.id}?q=李").status_code == 200
        counted.append(len(queries))
    assert counted[0] == counted[1]


def test_no_member_for_another_agents_policyholder(web, org, make, spouse, session):
    foreign = make.policyholder(org.other_agent)
    client = web(org.agent_user)
    assert post(client, f"/policyholders/{foreign.id}/household", to_policyholder_id=str(spouse.id),
                kind="spouse").status_code == 404
    assert post(client, f"/policyholders/{foreign.id}/household/new", name="X", kind="spouse").status_code == 404
    assert relationships(session, foreign) == set()
