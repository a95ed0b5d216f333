"""Insured persons and beneficiaries edited on the policy page: added, removed, shares checked, audited, in scope."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from insurecrm.models import AuditLog, Role
from policies.models import Beneficiary, InsuredPerson
from policyholders.models import PolicyholderRelationship, RelationshipKind
from tests.api_client import csrf_token


@pytest.fixture
def policy(make, seller, session):
    """The seller's policy, its holder insured, no beneficiary named."""
    policy = make.policy(policyholder=seller.holder)
    session.add(InsuredPerson(policy_id=policy.id, policyholder_id=seller.holder.id, name=seller.holder.name))
    session.commit()
    return policy


@pytest.fixture
def spouse(make, seller, session):
    """A policyholder of the seller's book married to the seller's policyholder."""
    spouse = make.policyholder(owner=seller.agent, name="Spouse Wang Fang")
    session.add_all([
        PolicyholderRelationship(from_policyholder_id=spouse.id, to_policyholder_id=seller.holder.id,
                                 kind=RelationshipKind.SPOUSE),
        PolicyholderRelationship(from_policyholder_id=seller.holder.id, to_policyholder_id=spouse.id,
                                 kind=RelationshipKind.SPOUSE),
    ])
    session.commit()
    return spouse


def post(client, policy, what, data, session):
    session.refresh(policy)
    return client.post(f"/policies/{policy.id}/{what}",
                       data={"csrf_token": csrf_token(client), "version": str(policy.version), **data})


def people(session, model, policy):
    return session.scalars(select(model).where(model.policy_id == policy.id).order_by(model.id)).all()


def test_the_page_offers_the_household_to_pick_from(web, seller, policy, spouse):
    html = web(seller.user).get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "Add or remove insured persons" in html and "Add or remove beneficiaries" in html
    assert f'<option value="{spouse.id}">Spouse Wang Fang (spouse)</option>' in html


def test_an_insured_person_is_added_from_the_household_and_audited(web, seller, policy, spouse, session):
    response = post(web(seller.user), policy, "insured-persons", {
        "insured-0-policyholder_id": str(seller.holder.id), "insured-0-relation_to_holder": "self",
        "insured-1-policyholder_id": str(spouse.id), "insured-1-relation_to_holder": "spouse"}, session)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/policies/{policy.id}#people")
    insured = people(session, InsuredPerson, policy)
    assert [(p.policyholder_id, p.name, p.relation_to_holder) for p in insured] == [
        (seller.holder.id, seller.holder.name, "self"), (spouse.id, "Spouse Wang Fang", "spouse")]
    audit = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policies",
                                                   AuditLog.entity_id == policy.id)).all()
    assert any("insured_persons" in row.changes and row.actor_user_id == seller.user.id for row in audit)


def test_a_named_person_is_added_and_another_removed(web, seller, policy, session):
    response = post(web(seller.user), policy, "insured-persons", {
        "insured-0-policyholder_id": str(seller.holder.id), "insured-0-remove": "1",
        "insured-1-name": "Child Li Xiaoming", "insured-1-date_of_birth": "2015-06-01",
        "insured-1-relation_to_holder": "child"}, session)
    assert response.status_code == 302
    [child] = people(session, InsuredPerson, policy)
    assert (child.policyholder_id, child.name, str(child.date_of_birth)) == (None, "Child Li Xiaoming", "2015-06-01")


def test_beneficiaries_with_shares_adding_up_are_saved(web, seller, policy, spouse, session):
    client = web(seller.user)
    response = post(client, policy, "beneficiaries", {
        "beneficiary-0-policyholder_id": str(spouse.id), "beneficiary-0-relation_to_insured": "spouse",
        "beneficiary-0-priority": "1", "beneficiary-0-share_percent": "60",
        "beneficiary-1-name": "Child Li Xiaoming", "beneficiary-1-relation_to_insured": "child",
        "beneficiary-1-priority": "1", "beneficiary-1-share_percent": "40"}, session)
    assert response.status_code == 302, response.get_data(as_text=True)
    named = people(session, Beneficiary, policy)
    assert [(b.name, b.share_percent) for b in named] == [("Spouse Wang Fang", Decimal("60.00")),
                                                          ("Child Li Xiaoming", Decimal("40.00"))]
    html = client.get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "Beneficiaries saved." in html and "Child Li Xiaoming" in html


def test_shares_not_adding_up_are_refused_with_the_message_and_the_input_kept(web, seller, policy, session):
    response = post(web(seller.user), policy, "beneficiaries", {
        "beneficiary-0-name": "Child Li Xiaoming", "beneficiary-0-relation_to_insured": "child",
        "beneficiary-0-priority": "1", "beneficiary-0-share_percent": "60"}, session)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="beneficiary-error"' in html and "The shares of priority 1 add up to 60.00, not 100." in html
    assert 'value="Child Li Xiaoming"' in html and "<details class=\"move\" id=\"edit-beneficiaries\" open>" in html
    assert people(session, Beneficiary, policy) == []


@pytest.mark.parametrize(("row", "field", "message"), [
    ({"beneficiary-0-name": "Li", "beneficiary-0-share_percent": "100"}, "beneficiary-0-relation_to_insured",
     "Missing data for required field."),
    ({"beneficiary-0-name": "Li", "beneficiary-0-relation_to_insured": "child", "beneficiary-0-share_percent": "150"},
     "beneficiary-0-share_percent", "Must be greater than 0 and less than or equal to 100."),
    ({"beneficiary-0-name": "Li", "beneficiary-0-relation_to_insured": "child", "beneficiary-0-priority": "x"},
     "beneficiary-0-priority", "Not a valid integer."),
])
def test_a_bad_row_is_refused_next_to_its_field(web, seller, policy, session, row, field, message):
    response = post(web(seller.user), policy, "beneficiaries", row, session)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html and message in html
    assert people(session, Beneficiary, policy) == []


def test_someone_outside_the_scope_cannot_be_named(web, make, seller, policy, session):
    stranger = make.policyholder(name="Stranger Zhao")
    response = post(web(seller.user), policy, "insured-persons", {
        "insured-0-policyholder_id": str(stranger.id)}, session)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="insured-0-policyholder_id-error"' in html and "No such policyholder." in html
    assert "Stranger Zhao" not in html
    assert [p.policyholder_id for p in people(session, InsuredPerson, policy)] == [seller.holder.id]


def test_a_stale_form_is_a_conflict_and_changes_nothing(web, seller, policy, session):
    client = web(seller.user)
    response = client.post(f"/policies/{policy.id}/beneficiaries", data={
        "csrf_token": csrf_token(client), "version": str(policy.version - 1 if policy.version > 1 else 99),
        "beneficiary-0-name": "Li", "beneficiary-0-relation_to_insured": "child"})
    assert response.status_code == 409
    assert people(session, Beneficiary, policy) == []


def test_another_agents_policy_is_not_found_and_the_actuary_may_not_edit(web, make, seller, session):
    theirs = make.policy()
    client = web(seller.user)
    response = client.post(f"/policies/{theirs.id}/beneficiaries", data={
        "csrf_token": csrf_token(client), "version": "1", "beneficiary-0-name": "Li",
        "beneficiary-0-relation_to_insured": "child"})
    assert response.status_code == 404
    actuary = web(make.user(Role.ACTUARY))
    assert actuary.post(f"/policies/{theirs.id}/insured-persons",
                        data={"csrf_token": csrf_token(actuary)}).status_code == 403
    assert "Add or remove" not in actuary.get(f"/policies/{theirs.id}").get_data(as_text=True)
    assert people(session, Beneficiary, theirs) == []
