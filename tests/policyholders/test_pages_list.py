"""The policyholders list page: search, filters, sort, paging, roles, pseudonyms, and a fixed number of queries."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from insurecrm import clock
from policies.models import PolicyStatus
from policyholders.models import AcquisitionChannel, Gender, IdType, IncomeBand, PolicyholderStatus
from tests.helpers import counted_queries
from tests.policyholders.common import RIC_1985, RIC_1990

P = PolicyholderStatus


@pytest.fixture
def book(org, make):
    """The agent's book: 张伟, 张小明, 李娜 and Wang Fang; the other agent's: 张三丰."""
    zhang = make.policyholder(org.agent, name="张伟", phone="+8613800138000", id_type=IdType.PRC_RESIDENT,
                              id_number=RIC_1990, region="北京")
    xiaoming = make.policyholder(org.agent, name="张小明", phone="+8613700137000", region="北京", status=P.PROSPECT)
    li = make.policyholder(org.agent, name="李娜", phone="+8613900139000", region="上海",
                           acquisition_channel=AcquisitionChannel.BANCASSURANCE, email="li.na@example.com")
    wang = make.policyholder(org.agent, name="Wang Fang", phone="+8613600136000", region="上海", status=P.LAPSED)
    stranger = make.policyholder(org.other_agent, name="张三丰", phone="+8613500135000",
                                 id_type=IdType.PRC_RESIDENT, id_number=RIC_1985)
    policy = make.policy(li, number="HE2026000012347")
    make.policy(li, status=PolicyStatus.LAPSED)
    make.policy(stranger, number="HE2026000099990")
    return SimpleNamespace(zhang=zhang, xiaoming=xiaoming, li=li, wang=wang, stranger=stranger, policy=policy)


def names(html: str, book) -> set[str]:
    return {holder.name for holder in vars(book).values() if hasattr(holder, "owner_agent_id") and holder.name in html}


@pytest.mark.parametrize(("q", "found"), [
    ("张", {"张伟", "张小明"}),  # part of a Chinese name; never another agent's 张三丰
    ("小明", {"张小明"}),
    ("wang", {"Wang Fang"}),  # any case
    ("138 0013 8000", {"张伟"}),  # a phone as people type it
    ("+86 139-0013-9000", {"李娜"}),
    ("0013 60", {"Wang Fang"}),  # digits anywhere in the number
    (RIC_1990.lower().replace("1990", "1990 "), {"张伟"}),  # an ID number, exact after normalising
    (RIC_1990[:10], set()),  # part of an ID number finds nothing
    ("HE2026000012347", {"李娜"}),  # a policy number
    ("he2026000012347 ", {"李娜"}),
    (RIC_1985, set()),  # another agent's policyholder stays out of sight
    ("HE2026000099990", set()),
])
def test_search(web, org, book, q, found):
    response = web(org.agent_user).get("/policyholders", query_string={"q": q})
    assert response.status_code == 200
    assert names(response.get_data(as_text=True), book) == found


@pytest.mark.parametrize(("filters", "found"), [
    ({"status": "prospect"}, {"张小明"}),
    ({"region": "上海"}, {"李娜", "Wang Fang"}),
    ({"acquisition_channel": "bancassurance"}, {"李娜"}),
    ({"region": "上海", "status": "lapsed"}, {"Wang Fang"}),
    ({"q": "张", "status": "active"}, {"张伟"}),
])
def test_filters(web, org, book, filters, found):
    html = web(org.agent_user).get("/policyholders", query_string=filters).get_data(as_text=True)
    assert names(html, book) == found


def test_a_manager_filters_by_owner_among_the_agents_they_see(web, org, make, book):
    colleagues = make.policyholder(org.colleague, name="赵敏")
    html = web(org.manager).get("/policyholders", query_string={"owner_agent_id": org.colleague.id}).get_data(
        as_text=True)
    assert "赵敏" in html and "张伟" not in html
    assert f'<option value="{org.other_agent.id}"' not in html  # another branch's agent is not offered
    assert f'<option value="{org.colleague.id}"' in html
    # an agent outside the manager's branch filters to nothing
    html = web(org.manager).get("/policyholders", query_string={"owner_agent_id": org.other_agent.id}).get_data(
        as_text=True)
    assert "No policyholder matches." in html and colleagues.name not in html


def test_rows_show_status_owner_region_in_force_policies_and_phone(web, org, book):
    html = web(org.agent_user).get("/policyholders", query_string={"q": "李娜"}).get_data(as_text=True)
    row = html[html.index(f'href="/policyholders/{book.li.id}"'):]
    row = row[:row.index("</tr>")]
    assert "Active" in row and org.agent.name in row and "上海" in row
    assert '<a href="tel:+8613900139000" class="contact">+86 139 0013 9000</a>' in row  # a phone calls on a tap
    assert 'data-label="Policies in force">1</td>' in row  # one in force, the lapsed one not counted


def test_sort_by_name_both_ways(web, org, book):
    client = web(org.agent_user)

    def order(direction: str) -> list[str]:
        html = client.get("/policyholders", query_string={"sort": "name", "order": direction}).get_data(as_text=True)
        return sorted(("Wang Fang", "李娜", "张伟", "张小明"), key=html.index)

    assert order("desc") == list(reversed(order("asc")))
    # by pinyin: li3 na4, wang fang, zhang1 wei3, zhang1 xiao3 ming2 (not by code point: 张 < 李 there)
    assert order("asc") == ["李娜", "Wang Fang", "张伟", "张小明"]


def test_the_api_sorts_names_by_pinyin_too(api, org, book):
    response = api(org.agent_user).get("/api/v1/policyholders?sort=name")
    assert [item["name"] for item in response.json["items"]] == ["李娜", "Wang Fang", "张伟", "张小明"]


def test_paging_keeps_the_filters(web, org, make):
    for n in range(30):
        make.policyholder(org.agent, name=f"Holder {n:02d}", region="深圳")
    make.policyholder(org.agent, name="Elsewhere", region="北京")
    client = web(org.agent_user)
    first = client.get("/policyholders", query_string={"region": "深圳", "sort": "name"}).get_data(as_text=True)
    assert len(re.findall(r'href="/policyholders/\d+"', first)) == 25
    assert "Holder 24" in first and "Holder 25" not in first and "Page 1 of 2" in first
    assert "page=2" in first and "region=%E6%B7%B1%E5%9C%B3" in first
    second = client.get("/policyholders", query_string={"region": "深圳", "sort": "name", "page": 2}).get_data(
        as_text=True)
    assert "Holder 25" in second and "Holder 29" in second and "Holder 00" not in second
    assert "Elsewhere" not in second


def test_anonymous_users_go_to_the_login_page(client):
    response = client.get("/policyholders")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# one user per test: the tests share one application context, where Flask-Login keeps the first user it loads
@pytest.mark.parametrize(("who", "status"), [("referrer", 403), ("admin", 200), ("manager", 200),
                                             ("specialist_user", 200), ("actuary", 200), ("agent_user", 200)])
def test_roles(web, org, book, who, status):
    assert web(getattr(org, who)).get("/policyholders").status_code == status


def test_the_actuary_sees_pseudonyms_only_and_may_not_search(web, org, book):
    client = web(org.actuary)
    html = client.get("/policyholders").get_data(as_text=True)
    for secret in ("张伟", "李娜", "Wang Fang", "+8613800138000", "13900139000", "li.na@example.com", org.agent.name):
        assert secret not in html, secret
    assert "PO-" in html and 'name="q"' not in html
    assert client.get("/policyholders", query_string={"q": "张"}).status_code == 422
    assert client.get("/policyholders", query_string={"sort": "name"}).status_code == 422


def test_bad_filters_are_422(web, org):
    assert web(org.agent_user).get("/policyholders", query_string={"status": "asleep"}).status_code == 422


def test_the_number_of_queries_does_not_grow_with_the_book(web, org, make):
    client = web(org.manager)
    make.policy(make.policyholder(org.agent))
    client.get("/policyholders")
    with counted_queries() as small:
        client.get("/policyholders")
    for n in range(30):
        make.policy(make.policyholder(org.colleague if n % 2 else org.agent, region=f"R{n % 4}"))
    with counted_queries() as big:
        assert client.get("/policyholders").status_code == 200
    assert len(big) == len(small)


@pytest.fixture
def traits(org, make):
    """Four policyholders of the agent by trait; birthdays around the 25th year on 2025-02-28 (a common year)."""
    return SimpleNamespace(
        leap=make.policyholder(org.agent, name="Leap Day", date_of_birth=date(2000, 2, 29), gender=Gender.FEMALE,
                               occupation="Teacher", income_band=IncomeBand.MIDDLE),
        eve=make.policyholder(org.agent, name="Eve Before", date_of_birth=date(2000, 2, 28), gender=Gender.MALE,
                              occupation="Teacher", income_band=IncomeBand.HIGH),
        young=make.policyholder(org.agent, name="Young One", date_of_birth=date(2006, 3, 1), gender=Gender.FEMALE,
                                occupation="Nurse"),
        unborn=make.policyholder(org.agent, name="No Birth Date", gender=Gender.MALE),
    )


@pytest.mark.parametrize(("filters", "found"), [
    ({"occupation": "Teacher"}, {"Leap Day", "Eve Before"}),
    ({"gender": "female"}, {"Leap Day", "Young One"}),
    ({"income_band": "high"}, {"Eve Before"}),
    ({"gender": "male", "occupation": "Teacher"}, {"Eve Before"}),
    # on 2025-02-28 the one born on 2000-02-28 is 25, the one born on 29 February still 24 (1 March, civil rule)
    ({"age_band": "25_34"}, {"Eve Before"}),
    ({"age_band": "under_25"}, {"Leap Day", "Young One"}),
    ({"age_band": "35_44"}, set()),
])
def test_filters_by_trait_and_age_band_today(web, api, org, traits, filters, found):
    with clock.frozen(datetime(2025, 2, 28, 12, tzinfo=UTC)):
        html = web(org.agent_user).get("/policyholders", query_string=filters).get_data(as_text=True)
        body = api(org.agent_user).get("/api/v1/policyholders", query_string=filters)
    assert names(html, traits) == found
    assert {item["name"] for item in body.json["items"]} == found


def test_a_day_later_the_leap_day_birthday_is_reached(web, org, traits):
    with clock.frozen(datetime(2025, 3, 1, 12, tzinfo=UTC)):
        html = web(org.agent_user).get("/policyholders", query_string={"age_band": "25_34"}).get_data(as_text=True)
    assert names(html, traits) == {"Leap Day", "Eve Before"}


@pytest.mark.parametrize("filters", [{"age_band": "26_35"}, {"gender": "x"}, {"occupation": "o" * 65}])
def test_a_bad_trait_filter_is_refused(web, org, filters):
    assert web(org.agent_user).get("/policyholders", query_string=filters).status_code == 422
