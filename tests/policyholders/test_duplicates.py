"""Likely duplicates (policyholders/duplicates.py): the same ID number, phone, or a similar name (read as pinyin) and
the same birth date, narrowed in SQL over the whole book and scored in Python, reported without the data of records
outside the user's scope; and the API's ``warnings``."""

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
                                                              "status": "active"},
         "score": 85, "matched": {"name_and_birth_date": "Zhang Wei, 1990-03-07 (100%)"}},
        {"reasons": ["phone", "name_and_birth_date"], "policyholder": None, "score": 94, "matched": {}},
    ]
    assert "+8613900139000" not in str(warnings)


def test_the_api_answers_no_warnings_for_a_new_person(api, org, on_file):
    response = api(org.agent_user).post(URL, json={"name": "Somebody Else", "phone": "13600136000"})
    assert response.status_code == 201 and response.json["warnings"] == []
    assert "warnings" not in api(org.agent_user).get(f"{URL}/{response.json['id']}").json


# -- similar names, read as pinyin ---------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["张伟", "Zhang Wei", "zhang wei", "Wei Zhang", "ZHANG  WEI", "ZhangWei", "张 伟"])
def test_the_same_person_typed_differently_is_found(org, make, typed):
    on_file = make.policyholder(org.agent, name="张伟", date_of_birth=date(1990, 3, 7))
    g.user = org.agent_user
    [candidate] = likely_duplicates({"name": typed, "date_of_birth": date(1990, 3, 7)}, user=org.agent_user)
    assert (candidate.id, candidate.reasons, candidate.score) == (on_file.id, ["name_and_birth_date"], 85)
    assert candidate.matched == {"name_and_birth_date": "张伟, 1990-03-07 (100%)"}


def test_a_typo_scores_lower_and_another_name_is_not_a_candidate(org, make):
    on_file = make.policyholder(org.agent, name="Zhang Wei", date_of_birth=date(1990, 3, 7))
    make.policyholder(org.agent, name="Li Na", date_of_birth=date(1990, 3, 7))  # the same day, another person
    g.user = org.agent_user
    [candidate] = likely_duplicates({"name": "Zhang Wie", "date_of_birth": date(1990, 3, 7)}, user=org.agent_user)
    assert candidate.id == on_file.id and candidate.matched == {"name_and_birth_date": "Zhang Wei, 1990-03-07 (89%)"}
    assert candidate.score == 76


def test_people_sharing_only_a_name_are_not_candidates(org, make):
    make.policyholder(org.agent, name="张伟", date_of_birth=date(1990, 3, 7), phone="+8613800138000")
    g.user = org.agent_user
    assert likely_duplicates({"name": "Zhang Wei", "date_of_birth": date(1985, 6, 1), "phone": "13900139000"},
                             user=org.agent_user) == []


def test_scores_combine_the_reasons(org, make):
    on_file = make.policyholder(org.agent, name="张伟", date_of_birth=date(1990, 3, 7), phone="+8613800138000",
                                id_type=IdType.PRC_RESIDENT, id_number=RIC_1990)
    g.user = org.agent_user
    phone_only = likely_duplicates({"name": "Li Na", "phone": "13800138000"}, user=org.agent_user)
    phone_and_name = likely_duplicates({"name": "Zhang Wei", "phone": "13800138000"}, user=org.agent_user)
    everything = likely_duplicates({"name": "Zhang Wei", "phone": "13800138000", "date_of_birth": date(1990, 3, 7),
                                    "id_number": RIC_1990}, user=org.agent_user)
    assert [c.score for c in phone_only + phone_and_name + everything] == [60, 76, 100]
    assert everything[0].reasons == ["id_number", "phone", "name_and_birth_date"]
    assert everything[0].matched["phone"] == "+8613800138000" and everything[0].id == on_file.id
    assert everything[0].matched["id_number"] == "prc_resident"  # the type, never the number
