"""Pages and API of duplicates and merge: the queue in scope with a fixed number of queries, the dismissal, the merge
page and its form, the redirect of the old id (web and API), the history and undo, scope, roles and bad input."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from insurecrm.db import db
from insurecrm.models import AuditLog
from policyholders.merging.models import DuplicateDismissal, PolicyholderMerge
from policyholders.models import Policyholder
from tests.api_client import csrf_token
from tests.helpers import counted_queries

QUEUE = "/policyholders/duplicates"


@pytest.fixture
def pair(org, make):
    """张伟 and "Wei Zhang", one person typed twice in the manager's branch, and a pair of another branch."""
    first = make.policyholder(org.agent, name="张伟", date_of_birth=date(1990, 3, 7), occupation="Teacher")
    second = make.policyholder(org.colleague, name="Wei Zhang", date_of_birth=date(1990, 3, 7), occupation=None,
                               email="wz@example.com")
    make.policyholder(org.other_agent, name="Li Na", phone="+8613700137000")
    make.policyholder(org.other_agent, name="Li Na B", phone_alt="+8613700137000")
    make.session.commit()
    return first, second


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": csrf_token(client)})


def test_the_queue_shows_the_pairs_of_the_managers_scope(web, org, pair):
    first, second = pair
    html = web(org.manager).get(QUEUE).get_data(as_text=True)
    assert f"/policyholders/{first.id}/merge?other={second.id}" in html
    assert "Li Na" not in html  # the other branch's pair
    assert "85/100" in html and "Wei Zhang, 1990-03-07 (100%)" in html, html[html.index("<tbody>"):]
    sibling_html = web(org.sibling_manager).get(QUEUE).get_data(as_text=True)
    assert "Li Na" in sibling_html and "张伟" not in sibling_html


def test_the_queue_costs_the_same_queries_whatever_the_book(web, org, make, pair):
    client = web(org.admin)
    with counted_queries() as few:
        assert client.get(QUEUE).status_code == 200
    for n in range(30):
        make.policyholder(org.agent, name=f"Holder {n}", date_of_birth=date(1980, 1, 1 + n % 28),
                          phone=f"+86136{n % 10:08d}")
    make.session.commit()
    with counted_queries() as many:
        html = client.get(QUEUE).get_data(as_text=True)
    assert len(many) == len(few) and "Next" in html  # 30 phone pairs and more: two pages


def test_a_dismissed_pair_leaves_the_queue_for_good(web, org, pair):
    first, second = pair
    client = web(org.manager)
    response = post(client, f"{QUEUE}/dismiss", {"first_id": second.id, "second_id": first.id})
    assert response.status_code == 302
    assert f"other={second.id}" not in client.get(QUEUE).get_data(as_text=True)
    assert db.session.scalars(select(DuplicateDismissal)).one().policyholder_id == first.id
    assert {row.entity_id for row in db.session.scalars(
        select(AuditLog).where(AuditLog.action == "not_duplicate"))} == {first.id, second.id}


def test_merging_from_the_page_keeps_the_chosen_values_and_redirects_the_old_id(web, org, pair):
    first, second = pair
    first_id, second_id = first.id, second.id
    client = web(org.manager)
    html = client.get(f"/policyholders/{first_id}/merge?other={second_id}").get_data(as_text=True)
    assert 'name="keep_occupation"' in html and 'name="keep_date_of_birth"' not in html  # the same on both
    response = post(client, f"/policyholders/{first_id}/merge", {
        "other_id": second_id, "survivor_id": second_id, "keep_occupation": first_id, "keep_name": first_id,
        "keep_email": second_id})
    assert response.status_code == 302 and response.location.endswith(f"/policyholders/{second_id}")
    survivor = db.session.get(Policyholder, second_id)
    assert (survivor.name, survivor.occupation, survivor.email) == ("张伟", "Teacher", "wz@example.com")
    assert db.session.get(Policyholder, first_id) is None
    old = client.get(f"/policyholders/{first_id}")
    assert old.status_code == 302 and old.location.endswith(f"/policyholders/{second_id}")


def test_the_api_answers_the_old_id_with_a_redirect(api, org, pair):
    first, second = pair
    client = api(org.admin)
    merged = client.post(f"/api/v1/policyholders/{second.id}/merge", json={"merged_id": first.id,
                                                                         "take": ["occupation"]})
    assert merged.status_code == 201
    assert merged.json["survivor_id"] == second.id and merged.json["taken"] == ["occupation"]
    response = client.get(f"/api/v1/policyholders/{first.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/api/v1/policyholders/{second.id}")
    assert response.json["merged_into"] == second.id
    listed = client.get("/api/v1/policyholders", query_string={"per_page": 100}).json
    assert first.id not in {item["id"] for item in listed["items"]}
    # someone who may not see the survivor gets a plain 404
    assert api(org.other_agent_user).get(f"/api/v1/policyholders/{first.id}").status_code == 404


def test_the_admin_undoes_a_merge_from_the_history(web, api, org, pair):
    first, second = pair
    first_id = first.id
    assert api(org.manager).post(f"/api/v1/policyholders/{second.id}/merge",
                                 json={"merged_id": first_id}).status_code == 201
    merge_id = db.session.scalars(select(PolicyholderMerge.id)).one()
    client = web(org.admin)
    assert "Undo this merge" in client.get("/policyholders/merges").get_data(as_text=True)
    response = post(client, f"/policyholders/merges/{merge_id}/undo", {})
    assert response.status_code == 302 and response.location.endswith(f"/policyholders/{first_id}")
    assert db.session.get(Policyholder, first_id).name == "张伟"
    again = post(client, f"/policyholders/merges/{merge_id}/undo", {})
    assert "already been undone" in client.get(again.location).get_data(as_text=True)
    assert api(org.admin).post(f"/api/v1/policyholder-merges/{merge_id}/undo").status_code == 409


def test_scope_and_roles(web, api, org, make, pair):
    first, _second = pair
    theirs = make.policyholder(org.other_agent, name="张伟", date_of_birth=date(1990, 3, 7))
    make.session.commit()
    manager = web(org.manager)
    assert manager.get(f"/policyholders/{first.id}/merge?other={theirs.id}").status_code == 404
    assert post(manager, f"/policyholders/{first.id}/merge", {"other_id": theirs.id,
                                                              "survivor_id": first.id}).status_code == 404
    assert api(org.manager).post(f"/api/v1/policyholders/{first.id}/merge",
                                 json={"merged_id": theirs.id}).status_code == 404
    assert api(org.agent_user).post(f"/api/v1/policyholders/{first.id}/merge",
                                    json={"merged_id": _second.id}).status_code == 403
    assert web(org.agent_user).get(QUEUE).status_code == 403
    assert web(org.manager).get("/policyholders/merges").status_code == 403
    assert api(org.manager).post("/api/v1/policyholder-merges/1/undo").status_code == 403
    assert db.session.get(Policyholder, theirs.id) is not None


@pytest.mark.parametrize(("body", "field"), [
    ({}, "merged_id"), ({"merged_id": "x"}, "merged_id"), ({"merged_id": 1, "take": ["password"]}, "take"),
    ({"merged_id": 1, "take": "name"}, "take"), ({"merged_id": 1, "other": 2}, "other"),
])
def test_bad_input_is_422_with_field_messages(api, org, pair, body, field):
    response = api(org.admin).post(f"/api/v1/policyholders/{pair[0].id}/merge", json=body)
    assert response.status_code == 422 and field in response.json["errors"]


def test_merging_a_record_with_itself_is_422(api, web, org, pair):
    first, second = pair
    response = api(org.admin).post(f"/api/v1/policyholders/{first.id}/merge", json={"merged_id": first.id})
    assert response.status_code == 422 and "merged_id" in response.json["errors"]
    page = post(web(org.admin), f"/policyholders/{first.id}/merge", {"other_id": second.id, "survivor_id": 999})
    assert page.status_code == 422


def test_undoing_a_merge_that_does_not_exist_is_404(api, web, org):
    assert api(org.admin).post("/api/v1/policyholder-merges/987654/undo").status_code == 404
    assert post(web(org.admin), "/policyholders/merges/987654/undo", {}).status_code == 404


def test_the_new_policyholder_page_shows_the_likeness_and_what_matched(web, org, pair):
    first, _second = pair
    client = web(org.agent_user)
    html = post(client, "/policyholders/new", {"name": "Zhang Wei", "date_of_birth": "1990-03-07",
                                               "kind": "person"}).get_data(as_text=True)
    assert f'href="/policyholders/{first.id}"' in html
    assert "likeness 85/100" in html and "张伟, 1990-03-07 (100%)" in html
