"""CSV export of the policyholders list: the current view, every page, within scope, masked, pseudonymised for
the actuary, UTF-8 with a BOM for Excel."""

from __future__ import annotations

import csv
import io

import pytest

from policies.models import PolicyStatus
from policyholders.models import IdType, PolicyholderStatus
from tests.policyholders.common import RIC_1985, RIC_1990

HEADER = ["Id", "Name", "Kind", "Status", "Region", "Owner agent", "Acquisition channel", "ID type",
          "ID number (masked)", "Phone", "Email", "Policies in force", "Created"]


@pytest.fixture
def book(org, make):
    zhang = make.policyholder(org.agent, name="张伟", phone="+8613800138000", email="zhang.wei@example.com",
                              id_type=IdType.PRC_RESIDENT, id_number=RIC_1990, region="北京")
    make.policy(zhang)
    make.policy(zhang)
    make.policy(zhang, status=PolicyStatus.CANCELLED)
    li = make.policyholder(org.agent, name="=李娜", region="上海", status=PolicyholderStatus.PROSPECT)
    stranger = make.policyholder(org.other_agent, name="张三丰", id_type=IdType.PRC_RESIDENT, id_number=RIC_1985)
    return zhang, li, stranger


def rows(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())  # the BOM
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_export_holds_the_current_view_with_masked_id_numbers(web, org, book):
    zhang, li, _stranger = book
    response = web(org.agent_user).get("/policyholders/export.csv", query_string={"sort": "name"})
    assert response.status_code == 200
    assert response.is_streamed and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = rows(response)
    assert table[0] == HEADER
    assert [row[1] for row in table[1:]] == ["'=李娜", "张伟"]  # sorted; a formula-like cell is quoted
    by_id = {row[0]: row for row in table[1:]}
    zhang_row = by_id[str(zhang.id)]
    assert zhang_row[2:8] == ["person", "active", "北京", org.agent.name, "agency", "prc_resident"]
    assert zhang_row[8] == "110105********1239" and RIC_1990 not in response.get_data(as_text=True)
    assert zhang_row[9:12] == ["'+8613800138000", "zhang.wei@example.com", "2"]
    assert by_id[str(li.id)][3] == "prospect"


def test_another_agents_policyholders_are_not_exported(web, org, book):
    table = rows(web(org.agent_user).get("/policyholders/export.csv"))
    assert "张三丰" not in {row[1] for row in table}


def test_the_export_applies_the_filters_on_every_page(web, org, make, book):
    for n in range(40):
        make.policyholder(org.agent, name=f"Holder {n:02d}", region="深圳")
    table = rows(web(org.agent_user).get("/policyholders/export.csv", query_string={"region": "深圳"}))
    assert len(table) == 1 + 40 and {row[4] for row in table[1:]} == {"深圳"}
    table = rows(web(org.agent_user).get("/policyholders/export.csv", query_string={"q": "张"}))
    assert [row[1] for row in table[1:]] == ["张伟"]


def test_the_list_links_to_the_export_of_its_view(web, org, book):
    html = web(org.agent_user).get("/policyholders", query_string={"region": "北京", "page": 2}).get_data(
        as_text=True)
    assert 'href="/policyholders/export.csv?region=%E5%8C%97%E4%BA%AC"' in html


def test_the_actuary_gets_pseudonyms_and_no_contact_or_id_data(web, org, book):
    response = web(org.actuary).get("/policyholders/export.csv")
    text = response.get_data(as_text=True)
    for secret in ("张伟", "李娜", "张三丰", "13800138000", "zhang.wei@example.com", "110105", org.agent.name):
        assert secret not in text, secret
    table = rows(response)
    assert len(table) == 1 + 3
    assert all(row[1].startswith("PO-") and row[5].startswith("AG-") for row in table[1:])
    assert all(row[8] == row[9] == row[10] == "" for row in table[1:])


def test_the_bank_referrer_may_not_export(web, org, book):
    assert web(org.referrer).get("/policyholders/export.csv").status_code == 403
