"""Organisation units API: the tree, its materialised paths, moves of whole subtrees, roles."""

from __future__ import annotations

import pytest

from agents.models import OrgUnit
from insurecrm.models import Role


def test_admin_creates_a_tree_with_paths(api, make):
    admin = api(make.user(Role.ADMIN))
    root = admin.post("/api/v1/org-units", json={"code": "HQ", "name": "Head office", "kind": "company"})
    assert root.status_code == 201, root.json
    assert root.json["path"] == f"/{root.json['id']}/"
    child = admin.post("/api/v1/org-units", json={"code": "BJ", "name": "Beijing", "kind": "branch",
                                                  "parent_id": root.json["id"], "region": "Beijing"})
    assert child.status_code == 201, child.json
    assert child.json["path"] == f"/{root.json['id']}/{child.json['id']}/"
    listed = admin.get(f"/api/v1/org-units?parent_id={root.json['id']}&kind=branch").json
    assert [unit["code"] for unit in listed["items"]] == ["BJ"]


def test_bad_org_unit_is_refused_field_by_field_and_nothing_is_written(api, make, count, tree):
    admin = api(make.user(Role.ADMIN))
    before = count(OrgUnit)
    response = admin.post("/api/v1/org-units", json={"code": "lower", "kind": "galaxy", "parent_id": "x"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"code", "name", "kind", "parent_id"}
    response = admin.post("/api/v1/org-units", json={"code": "HQ", "name": "Again", "kind": "branch",
                                                     "parent_id": 999999})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"code", "parent_id"}
    assert count(OrgUnit) == before


def test_moving_a_unit_recomputes_the_paths_of_its_whole_subtree(api, make, session, tree):
    admin = api(make.user(Role.ADMIN))
    deep = make.org_unit(tree.team_a1, code="DEEP")
    response = admin.patch(f"/api/v1/org-units/{tree.team_a1.id}", json={"parent_id": tree.branch_b.id,
                                                                          "name": "Team moved"})
    assert response.status_code == 200, response.json
    assert response.json["path"] == f"{tree.branch_b.path}{tree.team_a1.id}/"
    assert response.json["name"] == "Team moved"
    assert admin.get(f"/api/v1/org-units/{deep.id}").json["path"] == f"{tree.branch_b.path}{tree.team_a1.id}/{deep.id}/"
    assert admin.get(f"/api/v1/org-units/{tree.branch_a.id}").json["path"] == tree.branch_a.path
    session.expire_all()
    assert session.get(OrgUnit, tree.team_a1.id).parent_id == tree.branch_b.id


def test_a_moved_team_follows_its_new_branch_manager(api, make, tree):
    agent = make.agent(tree.team_a1)
    manager_b = api(make.user(Role.BRANCH_MANAGER, org_unit_id=tree.branch_b.id))
    assert manager_b.get(f"/api/v1/agents/{agent.id}").status_code == 404
    admin = api(make.user(Role.ADMIN))
    assert admin.patch(f"/api/v1/org-units/{tree.team_a1.id}", json={"parent_id": tree.branch_b.id}).status_code == 200
    assert manager_b.get(f"/api/v1/agents/{agent.id}").status_code == 200


def test_a_unit_moves_to_the_root(api, make, tree):
    admin = api(make.user(Role.ADMIN))
    response = admin.patch(f"/api/v1/org-units/{tree.branch_a.id}", json={"parent_id": None})
    assert response.status_code == 200
    assert response.json["path"] == f"/{tree.branch_a.id}/"
    assert admin.get(f"/api/v1/org-units/{tree.team_a1.id}").json["path"] == f"/{tree.branch_a.id}/{tree.team_a1.id}/"


@pytest.mark.parametrize("target", ["self", "descendant"])
def test_a_unit_cannot_move_under_itself_or_its_descendants(api, make, session, tree, target):
    admin = api(make.user(Role.ADMIN))
    parent = tree.branch_a if target == "self" else tree.team_a1
    response = admin.patch(f"/api/v1/org-units/{tree.branch_a.id}", json={"parent_id": parent.id, "name": "X"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"parent_id"}
    session.expire_all()
    unchanged = session.get(OrgUnit, tree.branch_a.id)
    assert (unchanged.parent_id, unchanged.path, unchanged.name) == (tree.company.id, tree.branch_a.path,
                                                                     tree.branch_a.name)


def test_patch_to_a_used_code_or_unknown_parent_is_422(api, make, tree):
    admin = api(make.user(Role.ADMIN))
    response = admin.patch(f"/api/v1/org-units/{tree.branch_a.id}", json={"code": "BR-B", "parent_id": 999999})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"code", "parent_id"}
    assert admin.get(f"/api/v1/org-units/{tree.branch_a.id}").json["code"] == "BR-A"


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.ACTUARY])
def test_only_admins_write_org_units(api, make, count, tree, role):
    client = api(make.user(role))
    before = count(OrgUnit)
    assert client.post("/api/v1/org-units", json={"code": "NEW", "name": "New", "kind": "team"}).status_code == 403
    assert client.patch(f"/api/v1/org-units/{tree.branch_a.id}", json={"name": "Renamed"}).status_code == 403
    assert count(OrgUnit) == before


def test_internal_roles_read_the_tree_and_referrers_may_not(api, make, tree):
    agent = api(make.user(Role.AGENT, agent_id=make.agent(tree.team_a1).id))
    assert agent.get("/api/v1/org-units").json["meta"]["total"] >= 4
    referrer = api(make.user(Role.BANK_REFERRER, referrer_id=make.referrer().id))
    assert referrer.get("/api/v1/org-units").status_code == 403
    assert referrer.get(f"/api/v1/org-units/{tree.branch_a.id}").status_code == 403
