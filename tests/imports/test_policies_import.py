"""Importing policies with their insured persons and beneficiaries (policies/imports.py): created through the API's
service with their premium schedule, found again by number, changed only where a PATCH could change them; a row
that would change the terms, name an unknown product or agent, carry a negative premium or a date out of range is
refused, and nothing of the file is written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from policies.models import Beneficiary, Installment, InsuredPerson, Policy, ProductLine
from policies.numbers import policy_number
from tests.imports.conftest import csv_bytes, resident_id

HEADERS = ["保单号", "投保人证件号码", "产品代码", "生效日期", "保额", "保费", "缴费频率", "服务代理人工号", "被保险人",
           "受益人"]
WEI, NA = resident_id("1990-03-07", 123), resident_id("1985-12-24", 2)
FIRST, SECOND = policy_number(ProductLine.HEALTH, 2026, 1), policy_number(ProductLine.HEALTH, 2026, 2)


@pytest.fixture
def on_file(org, make, session):
    wei = make.policyholder(org.agent, name="张伟", id_type="prc_resident", id_number=WEI)
    na = make.policyholder(org.agent, name="李娜", id_type="prc_resident", id_number=NA)
    product = make.product(code="HE-01", line=ProductLine.HEALTH, frequencies=["annual", "monthly"])
    session.commit()
    return wei, na, product


def rows(agent_code: str, **changes) -> list[list]:
    first = {"保单号": FIRST, "投保人证件号码": WEI, "产品代码": "HE-01", "生效日期": "2026/1/1", "保额": "￥500,000",
             "保费": "1,200.00", "缴费频率": "年缴", "服务代理人工号": agent_code, "被保险人": f"{WEI}; 张小明:child",
             "受益人": f"{NA}:spouse:60; 张小明:child:40"}
    second = {**first, "保单号": SECOND, "投保人证件号码": NA, "保费": "100", "缴费频率": "monthly", "被保险人": "",
              "受益人": ""}
    first |= changes
    return [HEADERS, [first[h] for h in HEADERS], [second[h] for h in HEADERS]]


def test_policies_are_created_with_their_people_and_schedule_then_left_alone(org, on_file, run_import, session):
    wei, na, product = on_file
    content = csv_bytes(rows(org.agent.code), encoding="gbk")
    run = run_import("policies", content, org.manager)
    assert run.status == "imported", [(i.row, i.column, i.message) for i in run.issues]
    assert run.counts["created"] == 2
    policy = session.scalar(select(Policy).where(Policy.number == FIRST))
    assert (policy.policyholder_id, policy.product_id, policy.sum_insured, policy.premium, policy.frequency,
            str(policy.expiry_date)) == (wei.id, product.id, Decimal("500000.00"), Decimal("1200.00"), "annual",
                                         "2027-01-01")
    insured = session.scalars(select(InsuredPerson).where(InsuredPerson.policy_id == policy.id)
                              .order_by(InsuredPerson.id)).all()
    assert [(person.policyholder_id, person.name, person.relation_to_holder) for person in insured] == [
        (wei.id, "张伟", "self"), (None, "张小明", "child")]
    beneficiaries = session.scalars(select(Beneficiary).where(Beneficiary.policy_id == policy.id)
                                    .order_by(Beneficiary.id)).all()
    assert [(b.policyholder_id, b.name, b.share_percent) for b in beneficiaries] == [
        (na.id, "李娜", Decimal("60.00")), (None, "张小明", Decimal("40.00"))]
    second = session.scalar(select(Policy).where(Policy.number == SECOND))
    assert session.scalar(select(func.count()).select_from(Installment).where(Installment.policy_id == second.id)) == 12

    again = run_import("policies", content, org.manager)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2, "errors": 0, "warnings": 0}


def test_what_a_patch_may_change_is_updated_and_a_change_of_terms_is_refused(org, on_file, run_import, session):
    run_import("policies", csv_bytes(rows(org.agent.code)), org.admin)
    changed = run_import("policies", csv_bytes(rows(org.colleague.code, 保额="600000",
                                                    受益人=f"{NA}:spouse:100")), org.admin)
    assert changed.counts["updated"] == 2  # both servicing agents; the first policy its sum and beneficiaries
    policy = session.scalar(select(Policy).where(Policy.number == FIRST))
    assert (policy.servicing_agent_id, policy.sum_insured) == (org.colleague.id, Decimal("600000.00"))
    assert [b.share_percent for b in policy.beneficiaries] == [Decimal("100.00")]
    refused = run_import("policies", csv_bytes(rows(org.agent.code, 保费="1300")), org.admin)
    assert refused.status == "refused"
    assert [(i.row, i.column) for i in refused.issues] == [(2, "保费")]
    assert "endorsement" in refused.issues[0].message


@pytest.mark.parametrize(("changes", "column", "message"), [
    ({"产品代码": "NOPE"}, "产品代码", "No record with the code NOPE"),
    ({"服务代理人工号": "NOBODY"}, "服务代理人工号", "No record with the code NOBODY"),
    ({"保费": "-5"}, "保费", ""),
    ({"生效日期": "1890-01-01"}, "生效日期", ""),
    ({"缴费频率": "quarterly"}, "缴费频率", "is sold with"),
    ({"投保人证件号码": resident_id("1970-01-01", 5)}, "投保人证件号码", "No policyholder with this ID number"),
    ({"保单号": "HE2026000000019"}, "保单号", "Not a valid policy number"),
    ({"受益人": f"{NA}:spouse:60"}, "受益人", "add up to 60.00, not 100"),
    ({"受益人": f"{NA}:spouse"}, "受益人", "who:relation:share"),
])
def test_each_bad_row_is_reported_and_nothing_is_written(org, on_file, run_import, session, changes, column, message):
    run = run_import("policies", csv_bytes(rows(org.agent.code, **changes)), org.admin)
    assert run.status == "refused"
    errors = [(issue.row, issue.column, issue.message) for issue in run.issues if issue.severity == "error"]
    assert [(row, col) for row, col, _m in errors] == [(2, column)], errors
    assert message in errors[0][2]
    assert session.scalar(select(func.count()).select_from(Policy)) == 0


def test_a_manager_imports_only_for_their_branch(org, on_file, run_import, session, make):
    stranger = make.policyholder(org.other_agent, name="王芳", id_type="prc_resident",
                                 id_number=resident_id("1970-01-01", 5))
    session.commit()
    run = run_import("policies", csv_bytes(rows(org.agent.code, 投保人证件号码=stranger.id_number)), org.manager)
    assert [(i.row, i.column) for i in run.issues if i.severity == "error"] == [(2, "投保人证件号码")]
    run = run_import("policies", csv_bytes(rows(org.other_agent.code)), org.manager)
    errors = {(i.row, i.column) for i in run.issues if i.severity == "error"}
    assert errors == {(2, "服务代理人工号"), (3, "服务代理人工号")}
    assert session.scalar(select(func.count()).select_from(Policy)) == 0


def test_a_row_may_renew_the_policy_of_a_row_above_it(org, on_file, run_import, session):
    """The rows of a batch are written together: a renewal of a policy created a few rows above (not yet written
    when its row is read) still finds it, and the renewal is linked to it."""
    headers = [*HEADERS, "renews_policy_number"]
    [_, first, _] = rows(org.agent.code)
    renewal = [{**dict(zip(HEADERS, first, strict=True)), "保单号": SECOND, "生效日期": "2027-01-01",
                "renews_policy_number": FIRST}.get(h, "") for h in headers]
    run = run_import("policies", csv_bytes([headers, [*first, ""], renewal]), org.manager)
    assert run.status == "imported", [(i.row, i.column, i.message) for i in run.issues]
    first_policy, second_policy = (session.scalar(select(Policy).where(Policy.number == n)) for n in (FIRST, SECOND))
    assert (second_policy.renews_policy_id, second_policy.business_type) == (first_policy.id, "renewal")
    assert session.scalar(select(func.count()).select_from(Installment)
                          .where(Installment.policy_id == second_policy.id)) == 1


def test_a_policy_on_file_outside_the_managers_branch_is_refused_not_changed(org, on_file, run_import, session, make):
    stranger = make.policyholder(org.other_agent, name="王芳", id_type="prc_resident",
                                 id_number=resident_id("1970-01-01", 5))
    session.commit()
    theirs = rows(org.other_agent.code, 投保人证件号码=stranger.id_number, 被保险人="", 受益人="")[:2]
    assert run_import("policies", csv_bytes(theirs), org.admin).status == "imported"
    run = run_import("policies", csv_bytes(rows(org.agent.code, 保额="1")[:2]), org.manager)
    assert [(i.row, i.column, i.message) for i in run.issues if i.severity == "error"] == [
        (2, "保单号", "This policy number is on file outside your organisation.")]
    assert session.scalar(select(Policy.sum_insured).where(Policy.number == FIRST)) == Decimal("500000.00")
