"""Bank partners, bank branches and referrers: admin writes, validation, roles, scope, pseudonyms."""

from __future__ import annotations

import pytest

from agents.models import BankBranch, BankPartner, Referrer
from insurecrm.models import Role


def test_admin_builds_a_partner_a_branch_and_a_referrer(api, make, tree):
    admin = api(make.user(Role.ADMIN))
    partner = admin.post("/api/v1/bank-partners", json={"code": "ICBC", "name": "ICBC", "commission_rate": "0.035",
                                                        "commission_terms": "3.5% of first-year premium"})
    assert partner.status_code == 201, partner.json
    assert (partner.json["commission_rate"], partner.json["status"]) == ("0.0350", "active")
    branch = admin.post("/api/v1/bank-branches", json={"code": "ICBC-BJ-01", "name": "Chaoyang",
                                                       "bank_partner_id": partner.json["id"],
                                                       "org_unit_id": tree.branch_a.id, "region": "Beijing"})
    assert branch.status_code == 201, branch.json
    referrer = admin.post("/api/v1/referrers", json={"code": "R-1", "name": "Zhao Min", "phone": "13900139000",
                                                     "email": "zhao@bank.example", "bank_branch_id": branch.json["id"]})
    assert referrer.status_code == 201, referrer.json
    assert referrer.json["phone"] == "+8613900139000"
    listed = admin.get(f"/api/v1/bank-branches?bank_partner_id={partner.json['id']}").json
    assert [item["code"] for item in listed["items"]] == ["ICBC-BJ-01"]


def test_bad_partner_is_refused_and_nothing_is_written(api, make, count):
    admin = api(make.user(Role.ADMIN))
    make.bank_partner(code="ICBC")
    response = admin.post("/api/v1/bank-partners", json={"code": "ICBC", "name": "Again", "commission_rate": "1.5"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"commission_rate"}  # the schema refuses before the code is checked
    response = admin.post("/api/v1/bank-partners", json={"code": "ICBC", "name": "Again", "commission_rate": "0.1"})
    assert set(response.json["errors"]) == {"code"}
    response = admin.post("/api/v1/bank-partners", json={"code": "CCB", "commission_rate": "-0.1", "status": "x"})
    assert set(response.json["errors"]) == {"name", "commission_rate", "status"}
    assert count(BankPartner) == 1


def test_bad_branch_and_referrer_are_refused_and_nothing_is_written(api, make, count):
    admin = api(make.user(Role.ADMIN))
    branch = make.bank_branch(code="BB-1")
    make.referrer(branch, code="R-1")
    response = admin.post("/api/v1/bank-branches", json={"code": "BB-1", "name": "X", "bank_partner_id": 999999,
                                                         "org_unit_id": 999999})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"code", "bank_partner_id", "org_unit_id"}
    response = admin.post("/api/v1/referrers", json={"code": "R-1", "name": "X", "bank_branch_id": 999999,
                                                     "phone": "not a phone", "email": "nope"})
    assert set(response.json["errors"]) == {"phone", "email"}
    response = admin.post("/api/v1/referrers", json={"code": "R-1", "name": "X", "bank_branch_id": 999999})
    assert set(response.json["errors"]) == {"code", "bank_branch_id"}
    assert (count(BankBranch), count(Referrer)) == (1, 1)


def test_patches_change_given_fields_and_keep_the_rules(api, make, session):
    admin = api(make.user(Role.ADMIN))
    partner = make.bank_partner()
    branch = make.bank_branch(partner)
    referrer = make.referrer(branch, name="Old name")
    response = admin.patch(f"/api/v1/bank-partners/{partner.id}",
                           json={"commission_rate": "0.08", "status": "suspended"})
    assert (response.json["commission_rate"], response.json["status"]) == ("0.0800", "suspended")
    assert admin.patch(f"/api/v1/bank-partners/{partner.id}", json={"commission_rate": "2"}).status_code == 422
    response = admin.patch(f"/api/v1/bank-branches/{branch.id}", json={"bank_partner_id": 999999})
    assert set(response.json["errors"]) == {"bank_partner_id"}
    response = admin.patch(f"/api/v1/referrers/{referrer.id}", json={"phone": "+86 139 0013 9000"})
    assert (response.json["phone"], response.json["name"]) == ("+8613900139000", "Old name")
    response = admin.patch(f"/api/v1/referrers/{referrer.id}", json={"bank_branch_id": 999999, "name": "New"})
    assert set(response.json["errors"]) == {"bank_branch_id"}
    session.expire_all()
    assert session.get(Referrer, referrer.id).name == "Old name"
    assert session.get(BankBranch, branch.id).bank_partner_id == partner.id


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.ACTUARY,
                                  Role.BANK_REFERRER])
def test_only_admins_write_the_bancassurance_records(api, make, count, role):
    referrer = make.referrer()
    client = api(make.user(role))
    before = (count(BankPartner), count(BankBranch), count(Referrer))
    assert client.post("/api/v1/bank-partners", json={"code": "NEW", "name": "New"}).status_code == 403
    assert client.patch(f"/api/v1/bank-partners/{referrer.bank_branch.bank_partner_id}",
                        json={"name": "X"}).status_code == 403
    assert client.post("/api/v1/bank-branches", json={"code": "NEW", "name": "New",
                                                      "bank_partner_id": 1}).status_code == 403
    assert client.patch(f"/api/v1/bank-branches/{referrer.bank_branch_id}", json={"name": "X"}).status_code == 403
    assert client.post("/api/v1/referrers", json={"code": "NEW", "name": "New", "bank_branch_id": 1}).status_code == 403
    assert client.patch(f"/api/v1/referrers/{referrer.id}", json={"name": "X"}).status_code == 403
    assert (count(BankPartner), count(BankBranch), count(Referrer)) == before


def test_referrer_visibility_follows_the_scope_rules(api, make, tree):
    partner = make.bank_partner()
    ours = make.referrer(make.bank_branch(partner, org_unit=tree.team_a1))
    theirs = make.referrer(make.bank_branch(org_unit=tree.branch_b))
    manager = api(make.user(Role.BRANCH_MANAGER, org_unit_id=tree.branch_a.id))
    assert [item["id"] for item in manager.get("/api/v1/referrers").json["items"]] == [ours.id]
    assert manager.get(f"/api/v1/referrers/{theirs.id}").status_code == 404
    specialist_agent = make.agent(tree.team_a1, channel="bancassurance", bank_partners=[partner])
    specialist = api(make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=specialist_agent.id))
    assert specialist.get(f"/api/v1/referrers/{ours.id}").status_code == 200
    assert specialist.get(f"/api/v1/referrers/{theirs.id}").status_code == 404
    agent = api(make.user(Role.AGENT, agent_id=make.agent(tree.team_a1).id))
    assert agent.get("/api/v1/referrers").status_code == 403
    referrer = api(make.user(Role.BANK_REFERRER, referrer_id=ours.id))
    assert referrer.get(f"/api/v1/referrers/{ours.id}").status_code == 200
    assert referrer.get(f"/api/v1/referrers/{theirs.id}").status_code == 404
    assert referrer.get("/api/v1/bank-partners").status_code == 403


def test_actuary_sees_no_referrer_names_or_contact_details(api, make):
    referrer = make.referrer(name="Zhao Min", phone="+8613900139000", email="zhao@bank.example")
    actuary = api(make.user(Role.ACTUARY))
    body = actuary.get(f"/api/v1/referrers/{referrer.id}").json
    assert body["name"].startswith("RE-") and body["name"] != "Zhao Min"
    assert (body["phone"], body["email"]) == (None, None)
    assert "Zhao Min" not in str(actuary.get("/api/v1/referrers").json)
