"""Importing claims (policies/claim_imports.py): each created by the API's service with the file's number and
brought to its status one allowed step after the other; found again by number, left alone when the file agrees,
advanced when the file is further along; a row that would move a claim back, reach a status it cannot reach, change
its loss date or policy, or that breaks a rule of the API is refused, and nothing is written; scope holds."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from insurecrm import clock
from insurecrm.models import AuditLog, User
from policies.claims import create_claim
from policies.models import Claim, Policy, PolicyStatus, ProductLine
from policies.numbers import format_number, policy_number
from tests.imports.conftest import csv_bytes, resident_id

HEADERS = ["理赔号", "保单号", "出险日期", "报案日期", "损失类型", "发生赔款金额", "描述", "状态", "拒赔原因",
           "已赔付金额"]
FIRST, SECOND = policy_number(ProductLine.HEALTH, 2026, 1), policy_number(ProductLine.HEALTH, 2026, 2)
OURS = format_number("CL", 2026, 57)  # a number of our own format, from an earlier export


@pytest.fixture
def policies(org, make, session):
    holder = make.policyholder(org.agent, name="张伟", id_type="prc_resident", id_number=resident_id("1990-03-07", 1))
    product = make.product(code="HE-01", line=ProductLine.HEALTH)
    first = make.policy(holder, product, number=FIRST)
    second = make.policy(holder, product, number=SECOND)
    session.commit()
    return first, second


def rows(**changes) -> list[list]:
    first = {"理赔号": "BJ-2026-0001", "保单号": FIRST, "出险日期": "2026/3/2", "报案日期": "2026-03-05",
             "损失类型": "医疗费用", "发生赔款金额": "3,500", "描述": "住院", "状态": "已赔付", "拒赔原因": "",
             "已赔付金额": "3500"} | changes
    return [HEADERS, [first[h] for h in HEADERS],
            ["bj-2026-0002", FIRST, "2026-04-01", "2026-04-02", "medical", "800", "", "拒赔", "不在保障范围", ""],
            [OURS, SECOND, "2026-05-10", "2026-05-11", "", "1200", "", "审核中", "", ""],
            ["BJ-2026-0003", SECOND, "2026-06-01", "2026-06-03", "其他", "1000", "", "已结案", "", "1000"]]


def errors_of(run) -> list[tuple]:
    return [(issue.row, issue.column, issue.message) for issue in run.issues if issue.severity == "error"]


def claims(session) -> dict[str, tuple]:
    return {claim.number: (claim.status, claim.paid_amount, claim.rejection_reason)
            for claim in session.scalars(select(Claim))}


def test_a_gbk_file_creates_claims_at_their_status_then_changes_nothing(org, policies, run_import, session):
    content = csv_bytes(rows(), encoding="gbk")
    run = run_import("claims", content, org.manager)
    assert run.status == "imported", errors_of(run)
    assert run.counts == {"created": 4, "updated": 0, "unchanged": 0, "errors": 0, "warnings": 0}
    assert claims(session) == {
        "BJ-2026-0001": ("paid", Decimal("3500.00"), None),
        "BJ-2026-0002": ("rejected", Decimal("0.00"), "不在保障范围"),
        OURS: ("under_review", Decimal("0.00"), None),
        "BJ-2026-0003": ("closed", Decimal("1000.00"), None)}
    first = session.scalar(select(Claim).where(Claim.number == "BJ-2026-0001"))
    assert (first.policy_id, first.loss_date, first.report_date, first.kind, first.incurred_amount,
            first.description) == (policies[0].id, date(2026, 3, 2), date(2026, 3, 5), "medical",
                                   Decimal("3500.00"), "住院")
    audited = session.scalars(select(AuditLog).where(AuditLog.entity_type == "claims", AuditLog.entity_id == first.id)
                              .order_by(AuditLog.id)).all()
    assert [(entry.action, entry.actor_label, entry.actor_user_id) for entry in audited] == [
        ("create", f"import:{run.id}", org.manager.id), ("update", f"import:{run.id}", org.manager.id)]

    again = run_import("claims", content, org.manager)
    assert again.status == "imported"
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 4, "errors": 0, "warnings": 0}
    # the counter of our numbers has moved past the one imported: a claim reported now does not take it
    reported = create_claim(policies[0], {"loss_date": date(2026, 7, 1), "report_date": date(2026, 7, 2)})
    assert reported.number == format_number("CL", 2026, 58)


def test_a_claim_on_file_is_advanced_and_never_moved_back(org, policies, run_import, session):
    run_import("claims", csv_bytes(rows(状态="审核中", 已赔付金额="")), org.admin)
    advanced = run_import("claims", csv_bytes(rows(状态="closed", 描述="住院十天")), org.admin)
    assert advanced.status == "imported", errors_of(advanced)
    assert advanced.counts == {"created": 0, "updated": 1, "unchanged": 3, "errors": 0, "warnings": 0}
    first = session.scalar(select(Claim).where(Claim.number == "BJ-2026-0001"))
    assert (first.status, first.paid_amount, first.description) == ("closed", Decimal("3500.00"), "住院十天")
    steps = session.scalars(select(AuditLog.changes).where(AuditLog.entity_type == "claims",
                                                           AuditLog.entity_id == first.id,
                                                           AuditLog.actor_label == f"import:{advanced.id}")
                            .order_by(AuditLog.id)).all()
    assert [change["status"][1] for change in steps] == ["paid", "closed"]  # one allowed step after the other


@pytest.mark.parametrize(("changes", "column", "message"), [
    ({"状态": "审核中", "已赔付金额": ""}, "状态", "a file cannot move it back to Under review"),
    ({"出险日期": "2026-03-03"}, "出险日期", "an import cannot change it"),
    ({"保单号": SECOND}, "保单号", "an import cannot change it"),
    ({"损失类型": "death"}, "损失类型", "an import cannot change it"),
])
def test_a_row_that_would_move_a_claim_back_or_change_what_is_fixed_is_refused(org, policies, run_import, session,
                                                                                changes, column, message):
    run_import("claims", csv_bytes(rows()), org.admin)
    run = run_import("claims", csv_bytes(rows(**changes)), org.admin)
    assert run.status == "refused"
    errors = errors_of(run)
    assert [(row, col) for row, col, _m in errors] == [(2, column)], errors
    assert message in errors[0][2]
    first = session.scalar(select(Claim).where(Claim.number == "BJ-2026-0001"))
    assert (first.status, first.loss_date, first.policy_id) == ("paid", date(2026, 3, 2), policies[0].id)


def test_a_status_that_cannot_be_reached_is_refused(org, policies, run_import, session):
    run_import("claims", csv_bytes(rows()), org.admin)
    run = run_import("claims", csv_bytes(rows()[:2] + [["BJ-2026-0002", FIRST, "2026-04-01", "2026-04-02", "medical",
                                                        "800", "", "已赔付", "不在保障范围", "800"]]), org.admin)
    assert [(row, col) for row, col, _m in errors_of(run)] == [(3, "状态")]
    assert "A Rejected claim cannot become Paid" in errors_of(run)[0][2]
    assert claims(session)["BJ-2026-0002"][0] == "rejected"


@pytest.mark.parametrize(("changes", "column", "message"), [
    ({"保单号": "HE2026999999990"}, "保单号", "No policy with this number that you may see"),
    ({"出险日期": "2025-12-31"}, "出险日期", "within the cover period"),
    ({"报案日期": "2026-03-01"}, "报案日期", "before the loss date"),
    ({"报案日期": (clock.today() + timedelta(days=2)).isoformat()}, "报案日期", "future"),
    ({"发生赔款金额": "-1"}, "发生赔款金额", "negative"),
    ({"已赔付金额": "4000"}, "已赔付金额", "Must not exceed the incurred amount"),
    ({"已赔付金额": ""}, "已赔付金额", "A paid claim needs the amount paid"),
    ({"状态": "rejected", "已赔付金额": ""}, "拒赔原因", "A rejected claim needs its reason"),
    ({"状态": "closed", "已赔付金额": ""}, "状态", "once paid or rejected"),
    ({"状态": "lost"}, "状态", "Not one of"),
    ({"损失类型": "total_loss"}, "损失类型", "covers"),
    ({"理赔号": "BJ-2026-0003"}, "理赔号", "Row 2 has the same key"),
    ({"理赔号": OURS[:-1] + str((int(OURS[-1]) + 1) % 10)}, "理赔号", "is not a claim number"),
    ({"理赔号": "BJ 2026"}, "理赔号", "is not a claim number"),
])
def test_each_bad_row_is_reported_and_nothing_is_written(org, policies, run_import, session, changes, column,
                                                         message):
    run = run_import("claims", csv_bytes(rows(**changes)), org.admin)
    assert run.status == "refused"
    errors = errors_of(run)
    row = 5 if "same key" in message else 2
    assert [(r, col) for r, col, _m in errors] == [(row, column)], errors
    assert message in errors[0][2]
    assert session.scalar(select(func.count()).select_from(Claim)) == 0


def test_create_claim_takes_a_given_number_and_refuses_one_already_taken(policies, session):
    given = create_claim(policies[1], {"loss_date": date(2026, 2, 1)}, number=" bj-2026-0001")
    assert given.number == "BJ-2026-0001"  # stored as compared: in capitals
    with pytest.raises(ValidationError) as refused:
        create_claim(policies[0], {"loss_date": date(2026, 2, 1)}, number="BJ-2026-0001")
    assert refused.value.messages == {"number": ["Claim number BJ-2026-0001 is already taken."]}
    assert create_claim(policies[0], {"loss_date": date(2026, 2, 1)}).number.startswith("CL")  # the API's way


def test_a_manager_claims_only_on_policies_of_their_branch(org, policies, run_import, session):
    run = run_import("claims", csv_bytes(rows()), org.sibling_manager)
    assert run.status == "refused"
    assert [(row, col) for row, col, _m in errors_of(run)] == [(2, "保单号"), (3, "保单号"), (4, "保单号"),
                                                              (5, "保单号")]
    assert session.scalar(select(func.count()).select_from(Claim)) == 0


def test_a_claim_on_file_outside_the_scope_is_refused(org, policies, run_import, session):
    sibling_manager_id = org.sibling_manager.id
    run_import("claims", csv_bytes(rows()), org.manager)
    # the import forgets the objects it loaded: the other user is read again
    on_file = run_import("claims", csv_bytes(rows()), session.get(User, sibling_manager_id))
    assert {(col, message) for _row, col, message in errors_of(on_file)} == {
        ("理赔号", "This claim number is on file outside your organisation.")}


def test_a_claim_created_and_taken_to_closed_by_its_row_is_logged_step_by_step(org, policies, run_import, session):
    """A batch's claims are written together, yet a claim that its row creates and moves is logged as the API
    would: created, then each step on its own."""
    run = run_import("claims", csv_bytes(rows()), org.admin)
    assert run.status == "imported", errors_of(run)
    closed = session.scalar(select(Claim).where(Claim.number == "BJ-2026-0003"))
    entries = session.scalars(select(AuditLog).where(AuditLog.entity_type == "claims", AuditLog.entity_id == closed.id)
                              .order_by(AuditLog.id)).all()
    assert [(entry.action, entry.changes["status"]) for entry in entries] == [
        ("create", [None, "reported"]), ("update", ["reported", "paid"]), ("update", ["paid", "closed"])]
    assert entries[1].changes["paid_amount"] == ["0", "1000.00"]


def test_two_rows_of_one_batch_settling_one_policy_end_it_once(org, policies, run_import, session):
    """Two death claims on one policy paid in full, in one batch: the first ends the policy, the second finds it
    ended (as the session holds it) and leaves it so."""
    file = [HEADERS, ["BJ-2026-0101", FIRST, "2026-03-02", "2026-03-05", "death", "50000", "", "已赔付", "", "50000"],
            ["BJ-2026-0102", FIRST, "2026-03-02", "2026-03-06", "death", "20000", "", "已赔付", "", "20000"]]
    run = run_import("claims", csv_bytes(file), org.admin)
    assert run.status == "imported", errors_of(run)
    policy = session.get(Policy, policies[0].id)
    session.refresh(policy)
    assert policy.status == PolicyStatus.TERMINATED_BY_CLAIM
    assert [(change.from_status, change.to_status) for change in policy.status_history][-1:] == [
        (PolicyStatus.IN_FORCE, PolicyStatus.TERMINATED_BY_CLAIM)]
    assert [change.to_status for change in policy.status_history].count(PolicyStatus.TERMINATED_BY_CLAIM) == 1
