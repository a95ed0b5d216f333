"""Importing premium installments (policies/installment_imports.py): a core system's schedule laid over the one built
from the policy, found again by policy number and sequence; an installment already as the row says is left alone,
another changed (audited on its policy), a missing one added after the last; a row with an unknown policy, a due
date outside the term or out of order, an amount of zero or less, an installment with money paid to it, a policy
that has ended, a number that skips one, or a key twice in the file is refused, and nothing is written; scope
holds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from insurecrm.models import AuditLog
from policies.models import Installment, PolicyStatus, ProductLine
from policies.numbers import policy_number
from policies.payments import apply_payment
from policies.schedule import build_schedule
from tests.imports.conftest import csv_bytes, resident_id

HEADERS = ["保单号", "期次", "应缴日期", "应缴金额", "状态"]
MONTHLY = policy_number(ProductLine.HEALTH, 2026, 1)


@pytest.fixture
def monthly(org, make, session):
    """A monthly policy of the branch's agent (12 × 100) with its schedule."""
    holder = make.policyholder(org.agent, name="张伟", id_type="prc_resident", id_number=resident_id("1990-03-07", 1))
    product = make.product(code="HE-01", line=ProductLine.HEALTH)
    policy = make.policy(holder, product, number=MONTHLY, premium=Decimal("100.00"), frequency="monthly")
    session.flush()
    session.add_all(build_schedule(policy))
    session.commit()
    return policy


def schedule(session, policy) -> list[tuple]:
    return session.execute(select(Installment.sequence, Installment.due_date, Installment.amount, Installment.status)
                           .where(Installment.policy_id == policy.id).order_by(Installment.sequence)).all()


def row(policy, sequence: int, *, amount="100", status="", shift_days: int = 0) -> list:
    due = next(due for seq, due, _a, _s in schedule_of[policy.id] if seq == sequence) if sequence <= 12 else None
    due = (due or policy.expiry_date - timedelta(days=1)) + timedelta(days=shift_days)
    return [policy.number, str(sequence), due.isoformat(), amount, status]


schedule_of: dict[int, list[tuple]] = {}


@pytest.fixture
def rows_of(monthly, session):
    schedule_of[monthly.id] = schedule(session, monthly)
    return lambda *rows: csv_bytes([HEADERS, *rows])


def errors_of(run) -> list[tuple]:
    return [(issue.row, issue.column, issue.message) for issue in run.issues if issue.severity == "error"]


def test_the_schedule_as_built_changes_nothing_and_a_change_is_written_and_audited(org, monthly, rows_of,
                                                                                    run_import, session):
    before = schedule(session, monthly)
    same = run_import("installments", rows_of(*(row(monthly, n) for n in range(1, 13))), org.manager)
    assert same.status == "imported", errors_of(same)
    assert same.counts == {"created": 0, "updated": 0, "unchanged": 12, "errors": 0, "warnings": 0}
    assert schedule(session, monthly) == before

    changed = run_import("installments", rows_of(row(monthly, 1, amount="￥150.00"), row(monthly, 2, status="豁免"),
                                                 row(monthly, 3, shift_days=2), row(monthly, 4)), org.manager)
    assert changed.status == "imported", errors_of(changed)
    assert changed.counts == {"created": 0, "updated": 3, "unchanged": 1, "errors": 0, "warnings": 0}
    after = schedule(session, monthly)
    assert after[0][2] == Decimal("150.00") and after[1][3] == "waived"
    assert after[2][1] == before[2][1] + timedelta(days=2) and after[3:] == before[3:]
    audited = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policies",
                                                     AuditLog.entity_id == monthly.id,
                                                     AuditLog.actor_label.like("import:%"))).all()
    assert {(entry.action, entry.actor_label) for entry in audited} == {("update", f"import:{changed.id}")}
    assert {key for entry in audited for key in entry.changes} == {
        "installments[1].amount", "installments[2].status", "installments[3].due_date"}
    assert next(entry for entry in audited if "installments[1].amount" in entry.changes).changes == {
        "installments[1].amount": ["100.00", "150.00"]}


def test_an_installment_is_added_after_the_last(org, monthly, rows_of, run_import, session):
    last = schedule(session, monthly)[-1]
    due = last[1] + timedelta(days=10)
    run = run_import("installments", csv_bytes([HEADERS, [monthly.number, "13", due.isoformat(), "100", ""]]),
                     org.admin)
    assert due < monthly.expiry_date  # a year's policy: its twelfth month has room for one more
    assert run.status == "imported", errors_of(run)
    assert schedule(session, monthly)[-1] == (13, due, Decimal("100.00"), "due")


@pytest.mark.parametrize(("cells", "column", "message"), [
    ({0: "HE2026999999990"}, "保单号", "No policy with this number that you may see"),
    ({1: "14"}, "期次", "the next is number 13"),
    ({1: "first"}, "期次", "installment's number"),
    ({3: "0"}, "应缴金额", "greater than zero"),
    ({3: "-5"}, "应缴金额", ""),
    ({3: "abc"}, "应缴金额", "Not a number"),
    ({2: "2026-02-30"}, "应缴日期", ""),
    ({2: "9999-12-31"}, "应缴日期", ""),
    ({4: "paid"}, "状态", "Not one of"),
])
def test_each_bad_row_is_reported_and_nothing_is_written(org, monthly, rows_of, run_import, session, cells, column,
                                                         message):
    before = schedule(session, monthly)
    bad = row(monthly, 5, amount="120")
    for index, value in cells.items():
        bad[index] = value
    run = run_import("installments", rows_of(row(monthly, 1, amount="110"), bad), org.admin)
    assert run.status == "refused"
    errors = errors_of(run)
    assert [(r, col) for r, col, _m in errors] == [(3, column)], errors
    assert message in errors[0][2]
    assert schedule(session, monthly) == before  # row 2 was fine, and is not written either


def test_due_dates_stay_in_the_term_and_in_order(org, monthly, rows_of, run_import, session):
    before = schedule(session, monthly)
    early = row(monthly, 1, shift_days=-1)
    late = row(monthly, 3, shift_days=40)
    run = run_import("installments", rows_of(early, late), org.admin)
    messages = {r: message for r, _c, message in errors_of(run)}
    assert "The policy runs from" in messages[2] and "falls due after installment 2" in messages[3]
    assert schedule(session, monthly) == before


def test_an_installment_paid_to_or_of_an_ended_policy_is_not_changed(org, monthly, rows_of, run_import, session):
    apply_payment(monthly, Decimal("100.00"), monthly.effective_date, "bank_transfer", "BT1")
    session.commit()
    run = run_import("installments", rows_of(row(monthly, 1, amount="90"), row(monthly, 1 + 1)), org.admin)
    assert [(r, c) for r, c, _m in errors_of(run)] == [(2, "应缴金额")]
    assert "corrected by a reversal" in errors_of(run)[0][2]
    monthly.status = PolicyStatus.CANCELLED
    session.commit()
    run = run_import("installments", rows_of(row(monthly, 2, amount="90")), org.admin)
    assert [(r, c) for r, c, _m in errors_of(run)] == [(2, "保单号")]
    assert "has ended" in errors_of(run)[0][2]
    # a row that changes nothing is still fine on an ended policy: a core system sends its whole book
    assert run_import("installments", rows_of(row(monthly, 2)), org.admin).status == "imported"


def test_a_key_twice_and_another_branch_are_refused(org, monthly, rows_of, run_import, session):
    twice = run_import("installments", rows_of(row(monthly, 1), row(monthly, 1, amount="90")), org.admin)
    assert [(r, c) for r, c, _m in errors_of(twice)] == [(3, "期次")]
    outside = run_import("installments", rows_of(row(monthly, 1, amount="90")), org.sibling_manager)
    assert {message for _r, _c, message in errors_of(outside)} == {"No policy with this number that you may see."}
    assert schedule(session, monthly)[0][2] == Decimal("100.00")


def test_rows_of_one_batch_see_the_installments_rows_above_added(org, monthly, rows_of, run_import, session):
    """A batch's rows are written together: a row still sees the installment a row above added — the next number
    follows it, and a due date moved past it is out of order."""
    last = schedule(session, monthly)[-1][1]
    thirteenth, fourteenth = last + timedelta(days=10), last + timedelta(days=20)
    moved_past = run_import("installments", rows_of([monthly.number, "13", thirteenth.isoformat(), "100", ""],
                                                    row(monthly, 12, shift_days=15)), org.admin)
    assert [(r, c) for r, c, _m in errors_of(moved_past)] == [(3, "应缴日期")]
    assert "before installment 13" in errors_of(moved_past)[0][2]

    added = run_import("installments", rows_of([monthly.number, "13", thirteenth.isoformat(), "100", ""],
                                               [monthly.number, "14", fourteenth.isoformat(), "100", ""]), org.admin)
    assert added.status == "imported", errors_of(added)
    assert added.counts["created"] == 2
    assert [seq for seq, *_rest in schedule(session, monthly)] == list(range(1, 15))
