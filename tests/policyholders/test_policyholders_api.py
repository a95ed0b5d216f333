"""Policyholders API: create, read, list, update, delete; validation, ownership, masking, audit."""

from __future__ import annotations

from sqlalchemy import select

from insurecrm.models import AuditLog
from policyholders.models import IdType, Policyholder, PolicyholderRelationship, PolicyholderStatus
from tests.policyholders.common import RIC_1985, RIC_1990, USCC, count

URL = "/api/v1/policyholders"
VALID = {"name": "Zhang Wei", "gender": "male", "date_of_birth": "1990-03-07", "id_type": "prc_resident",
         "id_number": RIC_1990, "phone": "138 0013 8000", "email": "zhang.wei@example.com",
         "address": "1 Chaoyang Road, Beijing", "region": "Beijing", "tags": ["vip", "family"]}


def test_agent_creates_a_policyholder_in_their_own_book(api, make, session, org):
    response = api(org.agent_user).post(URL, json=VALID)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["owner_agent_id"] == org.agent.id
    assert body["org_unit_id"] == org.team.id
    assert body["phone"] == "+8613800138000"
    assert body["id_number"] == "110105********1239"
    assert RIC_1990 not in response.text
    assert body["tags"] == ["family", "vip"]
    assert body["status"] == "prospect"
    assert body["version"] == 1
    assert body["relationships"] == []
    stored = session.get(Policyholder, body["id"])
    assert stored.id_number == RIC_1990
    assert [tag.tag for tag in stored.tags] == ["family", "vip"]


def test_creating_a_policyholder_is_audited_field_by_field(api, make, session, org):
    body = api(org.agent_user).post(URL, json=VALID).json
    row = session.scalar(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                AuditLog.entity_id == body["id"]))
    assert row.action == "create"
    assert row.actor_user_id == org.agent_user.id
    assert row.changes["name"] == [None, "Zhang Wei"]
    assert row.changes["phone"] == [None, "+8613800138000"]
    assert row.changes["owner_agent_id"] == [None, org.agent.id]
    assert row.changes["id_number"] == [None, "***"]
    assert RIC_1990 not in api(org.admin).get(f"/api/v1/audit?entity_type=policyholders&entity_id={body['id']}").text


def test_bad_input_is_refused_field_by_field_and_nothing_is_written(api, make, session, org):
    bad = {"name": "", "gender": "robot", "email": "not-an-email", "date_of_birth": "2999-01-01",
           "status": "vip", "tags": ["x" * 49], "favourite_colour": "red"}
    response = api(org.agent_user).post(URL, json=bad)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"name", "gender", "email", "date_of_birth", "status", "tags",
                                            "favourite_colour"}
    assert count(session, Policyholder) == 0


def test_wrong_check_digit_and_bad_phone_are_422_on_their_fields(api, make, session, org):
    client = api(org.agent_user)
    response = client.post(URL, json={**VALID, "id_number": RIC_1990[:-1] + "0"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"id_number"}
    response = client.post(URL, json={**VALID, "phone_alt": "call me maybe"})
    assert set(response.json["errors"]) == {"phone_alt"}
    response = client.post(URL, json={**VALID, "date_of_birth": "1990-03-08"})
    assert set(response.json["errors"]) == {"date_of_birth"}
    response = client.post(URL, json={**VALID, "id_type": None})
    assert set(response.json["errors"]) == {"id_type"}
    response = client.post(URL, json={**VALID, "id_type": "prc_uscc", "id_number": USCC})
    assert set(response.json["errors"]) == {"id_type"}
    assert count(session, Policyholder) == 0


def test_an_id_number_already_on_file_is_refused(api, make, session, org):
    make.policyholder(owner=org.other_agent, id_type=IdType.PRC_RESIDENT, id_number=RIC_1990)
    spaced = f"{RIC_1990[:6]} {RIC_1990[6:]}"
    response = api(org.agent_user).post(URL, json={**VALID, "id_number": spaced})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"id_number"}
    assert count(session, Policyholder) == 1


def test_an_agent_may_not_create_for_someone_else(api, make, session, org):
    client = api(org.agent_user)
    response = client.post(URL, json={**VALID, "owner_agent_id": org.colleague.id})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"owner_agent_id"}
    response = client.post(URL, json={**VALID, "org_unit_id": org.sibling.id})
    assert set(response.json["errors"]) == {"org_unit_id"}
    assert count(session, Policyholder) == 0


def test_a_specialist_owns_what_they_create(api, make, org):
    body = api(org.specialist_user).post(URL, json={**VALID, "acquisition_channel": "bancassurance",
                                                      "bank_partner_id": org.partner.id}).json
    assert body["owner_agent_id"] == org.specialist.id
    assert body["org_unit_id"] == org.branch.id


def test_a_branch_manager_places_policyholders_in_their_subtree_only(api, make, session, org):
    client = api(org.manager)
    response = client.post(URL, json={**VALID, "owner_agent_id": org.agent.id})
    assert response.status_code == 201
    assert response.json["org_unit_id"] == org.team.id
    pool = client.post(URL, json={"name": "Pool holder", "org_unit_id": org.branch.id})
    assert pool.status_code == 201
    assert pool.json["owner_agent_id"] is None
    response = client.post(URL, json={"name": "Elsewhere", "owner_agent_id": org.other_agent.id})
    assert set(response.json["errors"]) == {"owner_agent_id"}
    response = client.post(URL, json={"name": "Elsewhere", "org_unit_id": org.sibling.id})
    assert set(response.json["errors"]) == {"org_unit_id"}
    assert count(session, Policyholder) == 2


def test_admin_must_place_an_ownerless_policyholder_in_a_unit(api, make, session, org):
    client = api(org.admin)
    assert set(client.post(URL, json={"name": "Nowhere"}).json["errors"]) == {"org_unit_id"}
    assert set(client.post(URL, json={"name": "Ghost", "owner_agent_id": 999999}).json["errors"]) == {
        "owner_agent_id"}
    assert set(client.post(URL, json={"name": "X", "org_unit_id": org.branch.id, "bank_partner_id": 999999})
               .json["errors"]) == {"bank_partner_id"}
    assert count(session, Policyholder) == 0


def test_get_returns_the_masked_id_tags_and_relationships(api, make, org):
    holder = api(org.agent_user).post(URL, json=VALID).json
    response = api(org.agent_user).get(f"{URL}/{holder['id']}")
    assert response.status_code == 200
    assert response.json["id_number"] == "110105********1239"
    assert RIC_1990 not in response.text
    assert response.json["tags"] == ["family", "vip"]


def test_list_filters_searches_sorts_and_pages(api, make, org):
    make.policyholder(owner=org.agent, name="Li Na", phone="+8613911112222", region="Shanghai",
                      id_type=IdType.PRC_RESIDENT, id_number=RIC_1985)
    make.policyholder(owner=org.agent, name="Wang Fang", status=PolicyholderStatus.PROSPECT, region="Beijing")
    make.policyholder(owner=org.other_agent, name="Li Lei")
    client = api(org.agent_user)

    def names(query: str) -> list[str]:
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json
        return [item["name"] for item in response.json["items"]]

    assert names("sort=name") == ["Li Na", "Wang Fang"]
    assert names("sort=-name") == ["Wang Fang", "Li Na"]
    assert names("status=prospect") == ["Wang Fang"]
    assert names("region=Shanghai") == ["Li Na"]
    assert names("q=li") == ["Li Na"]
    assert names("q=139 1111") == ["Li Na"]
    assert names("q=19851224") == ["Li Na"]
    page = client.get(f"{URL}?sort=name&per_page=1&page=2").json
    assert [item["name"] for item in page["items"]] == ["Wang Fang"]
    assert page["meta"] == {"total": 2, "page": 2, "per_page": 1, "pages": 2}
    assert client.get(f"{URL}?sort=phone").status_code == 422
    assert RIC_1985 not in client.get(URL).text


def test_patch_changes_fields_revalidates_and_is_audited(api, make, session, org):
    holder = make.policyholder(owner=org.agent, phone="+8613800138000")
    client = api(org.agent_user)
    response = client.patch(f"{URL}/{holder.id}", json={"version": 1, "phone": "139 1111 2222",
                                                         "tags": ["vip"]})
    assert response.status_code == 200, response.json
    assert response.json["phone"] == "+8613911112222"
    assert response.json["tags"] == ["vip"]
    assert response.json["version"] == 2
    row = session.scalar(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                AuditLog.entity_id == holder.id, AuditLog.action == "update"))
    assert row.changes == {"phone": ["+8613800138000", "+8613911112222"]}
    tags_only = client.patch(f"{URL}/{holder.id}", json={"version": 2, "tags": ["vip", "golf"]})
    assert tags_only.json["tags"] == ["golf", "vip"]
    assert tags_only.json["version"] == 3


def test_patch_refuses_bad_input_without_writing(api, make, session, org):
    holder = make.policyholder(owner=org.agent, phone="+8613800138000", name="Before")
    client = api(org.agent_user)
    response = client.patch(f"{URL}/{holder.id}", json={"version": 1, "phone": "garbage", "name": "After"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"phone"}
    response = client.patch(f"{URL}/{holder.id}", json={"version": 1, "id_type": "prc_resident",
                                                         "id_number": RIC_1990[:-1] + "0"})
    assert set(response.json["errors"]) == {"id_number"}
    response = client.patch(f"{URL}/{holder.id}", json={"version": 1, "owner_agent_id": org.colleague.id})
    assert set(response.json["errors"]) == {"owner_agent_id"}
    assert set(client.patch(f"{URL}/{holder.id}", json={"name": "After"}).json["errors"]) == {"version"}
    assert set(client.patch(f"{URL}/{holder.id}", json={"version": 1, "name": None}).json["errors"]) == {"name"}
    session.expire_all()
    assert (holder.name, holder.phone, holder.version) == ("Before", "+8613800138000", 1)


def test_patch_refuses_an_id_number_of_another_policyholder(api, make, org):
    make.policyholder(owner=org.other_agent, id_type=IdType.PRC_RESIDENT, id_number=RIC_1990)
    holder = make.policyholder(owner=org.agent)
    response = api(org.agent_user).patch(f"{URL}/{holder.id}", json={
        "version": 1, "id_type": "prc_resident", "id_number": RIC_1990})
    assert set(response.json["errors"]) == {"id_number"}


def test_stale_version_is_409(api, make, session, org):
    holder = make.policyholder(owner=org.agent, name="Before")
    client = api(org.agent_user)
    assert client.patch(f"{URL}/{holder.id}", json={"version": 1, "name": "First"}).status_code == 200
    response = client.patch(f"{URL}/{holder.id}", json={"version": 1, "name": "Second"})
    assert response.status_code == 409
    session.expire_all()
    assert holder.name == "First"


def test_a_manager_reassigns_a_policyholder_and_its_unit_follows(api, make, org):
    holder = make.policyholder(owner=org.agent)
    specialist_unit = org.specialist.org_unit_id
    response = api(org.manager).patch(f"{URL}/{holder.id}", json={"version": 1, "owner_agent_id": org.specialist.id})
    assert response.status_code == 200, response.json
    assert (response.json["owner_agent_id"], response.json["org_unit_id"]) == (org.specialist.id, specialist_unit)
    response = api(org.manager).patch(f"{URL}/{holder.id}", json={"version": 2, "owner_agent_id": org.other_agent.id})
    assert set(response.json["errors"]) == {"owner_agent_id"}


def test_only_a_prospect_without_policies_can_be_deleted(api, make, session, org):
    client = api(org.agent_user)
    prospect = make.policyholder(owner=org.agent, status=PolicyholderStatus.PROSPECT)
    active = make.policyholder(owner=org.agent, status=PolicyholderStatus.ACTIVE)
    insured_prospect = make.policyholder(owner=org.agent, status=PolicyholderStatus.PROSPECT)
    make.policy(policyholder=insured_prospect)
    assert client.delete(f"{URL}/{prospect.id}").status_code == 204
    assert client.delete(f"{URL}/{active.id}").status_code == 409
    response = client.delete(f"{URL}/{insured_prospect.id}")
    assert response.status_code == 409
    assert "policies" in response.json["message"]
    assert session.get(Policyholder, prospect.id) is None
    assert count(session, Policyholder) == 2


def test_deleting_a_prospect_takes_its_relationships_both_ways(api, make, session, org):
    prospect = make.policyholder(owner=org.agent, status=PolicyholderStatus.PROSPECT)
    spouse = make.policyholder(owner=org.agent)
    client = api(org.agent_user)
    client.post(f"{URL}/{prospect.id}/relationships", json={"to_policyholder_id": spouse.id, "kind": "spouse"})
    assert client.delete(f"{URL}/{prospect.id}").status_code == 204
    assert count(session, PolicyholderRelationship) == 0
    assert client.get(f"{URL}/{spouse.id}").json["relationships"] == []
