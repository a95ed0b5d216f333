"""Importing premium payments (policies/payment_imports.py): each recorded by the API's service on the oldest open
installments, found again by policy number and reference; a row with an unknown policy, an amount of zero or
less or above what is open, a date in the future, a policy that has ended, an installment that is not the oldest
open one, a key twice in the file or a payment on file with another amount is refused, and nothing is written;
scope holds."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from insurecrm import clock
from insurecrm.models import AuditLog
from policies.models import Commission, Installment, Payment, PolicyStatus, ProductLine
from policies.numbers import policy_number
from policies.schedule import build_schedule
from tests.imports.conftest import csv_bytes, resident_id

HEADERS = ["保单号", "缴费流水号", "缴费日期", "金额", "支付方式", "期次"]
MONTHLY, ANNUAL = policy_number(ProductLine.HEALTH, 2026, 1), policy_number(ProductLine.HEALTH, 2026, 2)


@pytest.fixture
def policies(org, make, session):
    """A monthly policy (12 × 100) and an annual one (1 200), both of the branch's agent, with their schedules."""
    holder = make.policyholder(org.agent, name="张伟", id_type="prc_resident", id_number=resident_id("1990-03-07", 1))
    product = make.product(code="HE-01", line=ProductLine.HEALTH)
    monthly = make.policy(holder, product, number=MONTHLY, premium=Decimal("100.00"), frequency="monthly")
    annual = make.policy(holder, product, number=ANNUAL, premium=Decimal("1200.00"))
    session.flush()
    session.add_all([*build_schedule(monthly), *build_schedule(annual)])
    session.commit()
    return monthly, annual


def rows(**changes) -> list[list]:
    first = {"保单号": MONTHLY, "缴费流水号": "BT001", "缴费日期": "2026/1/5", "金额": "100", "支付方式": "银行转账",
             "期次": "1"} | changes
    return [HEADERS, [first[h] for h in HEADERS],
            [MONTHLY.lower(), "BT002", "2026年2月3日", "￥200.00", "现金", ""],
            [ANNUAL, "BT001", "2026-01-10", "1,200", "", ""]]


def errors_of(run) -> list[tuple]:
    return [(issue.row, issue.column, issue.message) for issue in run.issues if issue.severity == "error"]


def payments(session) -> int:
    return session.scalar(select(func.count()).select_from(Payment))


def test_a_gbk_file_is_applied_to_the_oldest_installments_then_changes_nothing(org, policies, run_import, session):
    monthly, annual = policies
    content = csv_bytes(rows(), encoding="gbk")
    run = run_import("payments", content, org.manager)
    assert run.status == "imported", errors_of(run)
    assert run.counts == {"created": 3, "updated": 0, "unchanged": 0, "errors": 0, "warnings": 0}
    schedule = session.execute(select(Installment.sequence, Installment.status, Installment.paid_amount)
                               .where(Installment.policy_id == monthly.id).order_by(Installment.sequence)).all()
    assert schedule[:4] == [(1, "paid", Decimal("100.00")), (2, "paid", Decimal("100.00")),
                            (3, "paid", Decimal("100.00")), (4, "due", Decimal("0.00"))]
    second = session.scalar(select(Payment).where(Payment.policy_id == monthly.id, Payment.reference == "BT002"))
    assert (second.paid_on, second.amount, second.method) == (date(2026, 2, 3), Decimal("200.00"), "cash")
    assert session.scalar(select(Payment.method).where(Payment.policy_id == annual.id)) == "bank_transfer"
    assert session.scalar(select(func.count()).select_from(Commission)) == 3  # one per payment, the agent's
    audited = session.scalars(select(AuditLog).where(AuditLog.entity_type == "payments")).all()
    assert {(entry.action, entry.actor_label, entry.actor_user_id) for entry in audited} == {
        ("create", f"import:{run.id}", org.manager.id)}
    assert len(audited) == 3

    again = run_import("payments", content, org.manager)
    assert again.status == "imported"
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 3, "errors": 0, "warnings": 0}
    assert payments(session) == 3


@pytest.mark.parametrize(("changes", "column", "message"), [
    ({"金额": "90"}, "金额", "corrected by a reversal, not by an import"),
    ({"缴费日期": "2026-01-06"}, "缴费日期", "corrected by a reversal"),
    ({"支付方式": "cash"}, "支付方式", "corrected by a reversal"),
    ({"期次": "2"}, "期次", "on file applied to other installments"),
])
def test_a_payment_on_file_is_never_changed_by_an_import(org, policies, run_import, session, changes, column, message):
    run_import("payments", csv_bytes(rows()), org.admin)
    run = run_import("payments", csv_bytes(rows(**changes)), org.admin)
    assert run.status == "refused"
    errors = errors_of(run)
    assert [(row, col) for row, col, _m in errors] == [(2, column)]
    assert message in errors[0][2]
    assert session.scalar(select(Payment.amount).where(Payment.reference == "BT001",
                                                       Payment.policy_id == policies[0].id)) == Decimal("100.00")


@pytest.mark.parametrize(("changes", "column", "message"), [
    ({"保单号": "HE2026999999990"}, "保单号", "No policy with this number that you may see"),
    ({"金额": "0"}, "金额", "greater than zero"),
    ({"金额": "-100"}, "金额", ""),
    ({"金额": "5000"}, "金额", "Exceeds the 1200.00 still open"),
    ({"金额": "abc"}, "金额", "Not a number"),
    ({"缴费日期": (clock.today() + timedelta(days=3)).isoformat()}, "缴费日期", "future"),
    ({"期次": "2"}, "期次", "oldest open installment of policy"),
    ({"期次": "first"}, "期次", "installment's number"),
    ({"支付方式": "cheque"}, "支付方式", "Not one of"),
    ({"缴费流水号": ""}, "缴费流水号", "Required"),
    ({"缴费流水号": "BT002"}, "缴费流水号", "Row 2 has the same key"),
])
def test_each_bad_row_is_reported_and_nothing_is_written(org, policies, run_import, session, changes, column,
                                                         message):
    run = run_import("payments", csv_bytes(rows(**changes)), org.admin)
    assert run.status == "refused"
    errors = errors_of(run)
    row = 3 if "same key" in message else 2
    assert [(r, col) for r, col, _m in errors] == [(row, column)], errors
    assert message in errors[0][2]
    assert payments(session) == 0
    assert session.scalar(select(func.count()).select_from(Commission)) == 0


def test_a_policy_that_has_ended_takes_no_payment(org, policies, run_import, session):
    policies[0].status = PolicyStatus.CANCELLED
    session.commit()
    run = run_import("payments", csv_bytes(rows()), org.admin)
    errors = errors_of(run)
    assert [(row, col) for row, col, _m in errors] == [(2, "保单号"), (3, "保单号")]
    assert "takes no payments" in errors[0][2]
    assert payments(session) == 0


def test_a_manager_pays_only_on_policies_of_their_branch(org, policies, run_import, session):
    run = run_import("payments", csv_bytes(rows()), org.sibling_manager)
    assert run.status == "refused"
    assert [(row, col) for row, col, _m in errors_of(run)] == [(2, "保单号"), (3, "保单号"), (4, "保单号")]
    assert {message for _r, _c, message in errors_of(run)} == {"No policy with this number that you may see."}
    assert payments(session) == 0


def test_a_policy_in_grace_leaves_it_when_a_row_pays_the_last_overdue_installment(org, make, run_import, session):
    """Rows of one batch pay the same policy in grace: the first leaves an installment overdue (still in grace),
    the second pays it and takes the policy back in force — each row sees the one above."""
    holder = make.policyholder(org.agent, name="李娜", id_type="prc_resident", id_number=resident_id("1985-12-24", 2))
    product = make.product(code="HE-02", line=ProductLine.HEALTH, grace_period_days=120)
    today = clock.today()
    effective = date(today.year, today.month, 1) - timedelta(days=70)
    policy = make.policy(holder, product, number=MONTHLY, premium=Decimal("100.00"), frequency="monthly",
                         effective_date=effective, status=PolicyStatus.GRACE, status_date=today - timedelta(days=30))
    session.flush()
    session.add_all(build_schedule(policy))
    session.commit()
    overdue = session.scalar(select(func.count()).select_from(Installment).where(
        Installment.policy_id == policy.id, Installment.due_date < today))
    assert overdue >= 3
    paid_on = today.isoformat()
    file = [HEADERS, [MONTHLY, "BT001", paid_on, str(100 * (overdue - 1)), "", ""],
            [MONTHLY, "BT002", paid_on, "100", "", ""]]
    run = run_import("payments", csv_bytes(file), org.manager)
    assert run.status == "imported", errors_of(run)
    session.refresh(policy)
    assert (policy.status, policy.status_date) == (PolicyStatus.IN_FORCE, today)
    assert [change.to_status for change in policy.status_history][-1] == PolicyStatus.IN_FORCE
