"""Likely duplicates (policyholders/duplicates.py): the same ID number, phone, or name and birth date, found in SQL
over the whole book, reported without the data of records outside the user's scope; and the API's ``warnings``."""

from __future__ import annotations

from datetime import date

import pytest
from flask import g

from policyholders.duplicates import LIMIT, likely_duplicates
from policyholders.models import IdType
from tests.helpers import counted_queries
from tests.policyholders.common import RIC_1990

URL = "/api/v1/policyholders"


@pytest.fixture
def on_file(org, make):
    """One record of the agent's book, one of another branch, both alike."""
    mine = make.policyholder(org.agent, name="Zhang Wei", phone="+8613800138000", phone_alt="+8613700137000",
                             date_of_birth=date(1990, 3, 7), id_type=IdType.PRC_RESIDENT, id_number=RIC_1990)
    theirs = make.policyholder(org.other_agent, name="Zhang Wei", phone="+8613900139000",
                               date_of_birth=date(1990, 3, 7))
    return mine, theirs


def found(data, user):
    g.user = user
    candidates = likely_duplicates(data, user=user)
    return {(candidate.id, tuple(candidate.reasons), candidate.visible) for candidate in candidates}


def test_each_rule_on_its_own(org, on_file):
    mine, theirs = on_file
    agent = org.agent_user
    assert found({"name": "Other", "id_type": IdType.PASSPORT, "id_number": RIC_1990.lower()}, agent) == {
        (mine.id, ("id_number",), True)}  # the same number typed under another ID type
    assert found({"name": "Other", "phone": "138 0013 8000"}, agent) == {(mine.id, ("phone",), True)}
    assert found({"name": "Other", "phone_alt": "+86 139 0013 9000"}, agent) == {(theirs.id, ("phone",), False)}
    assert found({"name": "Other", "phone": "13700137000"}, agent) == {(mine.id, ("phone",), True)}  # its other phone
    assert found({"name": "Zhang  Wei ", "date_of_birth": date(1990, 3, 7)}, agent) == {
        (mine.id, ("name_and_birth_date",), True), (theirs.id, ("name_and_birth_date",), False)}


def test_nothing_alike_finds_nothing(org, on_file):
    assert found({"name": "Zhang Wei"}, org.agent_user) == set()  # a name alone is not enough
    other_day = {"name": "Zhang Wei", "date_of_birth": date(1990, 3, 8), "phone": "not a phone"}
    assert found(other_day, org.agent_user) == set()


def test_most_reasons_first_and_a_manager_sees_their_branch(org, on_file):
    mine, theirs = on_file
    g.user = org.sibling_manager
    candidates = likely_duplicates({"name": "Zhang Wei", "date_of_birth": date(1990, 3, 7),
                                    "phone": "+8613900139000"}, user=org.sibling_manager)
    assert [(c.id, c.reasons, c.visible) for c in candidates] == [
        (theirs.id, ["phone", "name_and_birth_date"], True), (mine.id, ["name_and_birth_date"], False)]
    assert candidates[1].policyholder is None  # nothing of a record outside the scope is handed out


def test_one_query_and_a_bounded_answer(org, make):
    for _ in range(LIMIT + 5):
        make.policyholder(org.agent, name="Li Na", date_of_birth=date(1985, 1, 1))
    g.user = org.agent_user
    with counted_queries() as queries:
        candidates = likely_duplicates({"name": "Li Na", "date_of_birth": date(1985, 1, 1)}, user=org.agent_user)
    assert len(candidates) == LIMIT and len(queries) == 1


# -- the API -----------------------------------------------------------------------------------------------

def test_the_api_creates_and_lists_the_likely_duplicates_as_warnings(api, org, on_file):
    mine, theirs = on_file
    response = api(org.agent_user).post(URL, json={"name": "Zhang Wei", "date_of_birth": "1990-03-07",
                                                   "phone": "13900139000"})
    assert response.status_code == 201
    warnings = sorted(response.json["warnings"], key=lambda w: w["policyholder"] is None)
    assert warnings == [
        {"reasons": ["name_and_birth_date"], "policyholder": {"id": mine.id, "name": "Zhang Wei", "kind": "person",
                                                              "status": "active"}},
        {"reasons": ["phone", "name_and_birth_date"], "policyholder": None},
    ]
    assert "+8613900139000" not in str(warnings)


def test_the_api_answers_no_warnings_for_a_new_person(api, org, on_file):
    response = api(org.agent_user).post(URL, json={"name": "Somebody Else", "phone": "13600136000"})
    assert response.status_code == 201 and response.json["warnings"] == []
    assert "warnings" not in api(org.agent_user).get(f"{URL}/{response.json['id']}").json
