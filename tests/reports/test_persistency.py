"""Persistency (docs/metrics.md, "Persistency"): every figure checked against a small book computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import marshmallow as ma
import pytest

from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import (
    BusinessType,
    Claim,
    ClaimKind,
    PolicyStatus,
    PolicyStatusChange,
    PremiumFrequency,
)
from reports.catalogue import REPORTS
from reports.persistency import PersistencyArgs
from reports.tables import cell

S = PolicyStatus
TODAY = date(2026, 12, 6)


def history(session, policy, *changes: tuple[PolicyStatus, date], cooling_off: bool = False):
    """Give ``policy`` a status history: in force on its effective date, then each ``(status, date)``."""
    rows = [(None, S.IN_FORCE, policy.effective_date)]
    for status, day in changes:
        rows.append((rows[-1][1], status, day))
    for previous, status, day in rows:
        session.add(PolicyStatusChange(policy_id=policy.id, from_status=previous, to_status=status, effective_date=day,
                                       reason="test"))
    policy.status, policy.status_date = rows[-1][1], rows[-1][2]
    policy.cooling_off_cancellation = cooling_off
    session.commit()
    return policy


def run(user, **args) -> dict:
    """The persistency table for ``user`` as its outputs write it (pseudonyms for the actuary), by group."""
    loaded = PersistencyArgs().load({key: str(value) for key, value in args.items()})
    table = REPORTS["persistency"].build(user, loaded, TODAY).table("persistency")
    hidden = user.role == Role.ACTUARY
    rows = [{column.key: cell(column, row, pseudonymise=hidden) for column in table.columns} for row in table.rows()]
    return {row["group"]: row for row in rows}


@pytest.fixture
def book(make, session):
    """Two agents in two branches of one company. Agent ``a`` (branch X) wrote the 2024 cohort, agent ``b``
    (branch Y) the 2021 and 2025 cohorts. Premiums are annual unless said."""
    company = make.org_unit()
    x, y = make.org_unit(company, name="Branch X"), make.org_unit(company, name="Branch Y")
    a, b = make.agent(x, name="Alice Agent"), make.agent(y, name="Bob Agent")
    holder_a, holder_b = make.policyholder(owner=a), make.policyholder(owner=b)

    def policy(holder, effective, premium, *changes, **kw):
        cooling_off = kw.pop("cooling_off", False)
        made = make.policy(holder, effective_date=effective, premium=Decimal(premium), **kw)
        return history(session, made, *changes, cooling_off=cooling_off)

    # -- the 2024 cohort of agent a ------------------------------------------------------------------------
    policy(holder_a, date(2024, 1, 15), "1200")                                                    # P1
    policy(holder_a, date(2024, 3, 31), "600", (S.GRACE, date(2024, 8, 1)), (S.LAPSED, date(2024, 10, 1)),
           (S.REINSTATED, date(2025, 1, 10)))                                                      # P2
    policy(holder_a, date(2024, 5, 10), "2400", (S.GRACE, date(2025, 3, 1)), (S.LAPSED, date(2025, 5, 1)),
           (S.REINSTATED, date(2025, 9, 1)))                                                       # P3
    policy(holder_a, date(2024, 2, 1), "1000", (S.CANCELLED, date(2024, 12, 1)))                   # P4 surrender
    policy(holder_a, date(2024, 6, 1), "5000", (S.CANCELLED, date(2024, 6, 5)), cooling_off=True)  # P5
    policy(holder_a, date(2024, 4, 1), "700", (S.TERMINATED_BY_CLAIM, date(2024, 9, 1)))           # P6
    p7 = policy(holder_a, date(2024, 7, 1), "900")                                                 # P7 died
    session.add(Claim(number="C-P7", policy_id=p7.id, loss_date=date(2025, 7, 15), report_date=date(2025, 7, 20),
                      kind=ClaimKind.DEATH))
    policy(holder_a, date(2024, 6, 30), "25", frequency=PremiumFrequency.MONTHLY)                  # P8: 300 a year
    policy(holder_a, date(2024, 8, 1), "400", (S.EXPIRED, date(2025, 8, 1)))                       # P11
    policy(holder_a, date(2024, 9, 1), "500", (S.RENEWED, date(2025, 9, 1)))                       # P12
    policy(holder_a, date(2024, 10, 1), "800", (S.GRACE, date(2025, 10, 5)), (S.LAPSED, date(2025, 12, 4)))  # P13
    policy(holder_a, date(2024, 1, 10), "3000", (S.MATURED, date(2025, 1, 10)))                    # P17 matured
    policy(holder_a, date(2024, 2, 15), "200", (S.GRACE, date(2024, 6, 1)), (S.LAPSED, date(2024, 8, 1)),
           (S.EXPIRED, date(2025, 2, 15)))                                                         # P18
    policy(holder_a, date(2024, 3, 1), "9999", business_type=BusinessType.RENEWAL)                 # not new business
    make.policy(holder_a, effective_date=date(2024, 3, 1), premium=Decimal("9999"), status=S.QUOTED)  # a quote
    # -- agent b: the 2021 and 2025 cohorts -----------------------------------------------------------------
    make.policy(holder_b, effective_date=date(2021, 1, 31), premium=Decimal("1200"),
                business_type=BusinessType.TRANSFER_IN)                                            # P20, no history
    policy(holder_b, date(2021, 3, 1), "800", (S.GRACE, date(2023, 4, 1)), (S.LAPSED, date(2023, 6, 1)))  # P21
    policy(holder_b, date(2025, 5, 30), "100")                                                     # P14
    policy(holder_b, date(2025, 5, 31), "100")                                                     # P15
    policy(holder_b, date(2025, 6, 1), "100")                                                      # P16
    session.commit()
    return {"company": company, "x": x, "y": y, "a": a, "b": b}


PERIOD = {"start": "2020-01-01", "end": "2026-06-30"}


def test_persistency_by_issue_year(book, make):
    rows = run(make.user(Role.ADMIN), **PERIOD)
    assert set(rows) == {"2021", "2024", "2025"}
    y2024 = rows["2024"]
    # month 13 (marks up to 2026-06-30: every 2024 policy): base P1 P2 P3 P4 P8 P12 P13 P18 = 8 — P5 cooling-off,
    # P6 terminated by a claim, P7 died (claim of 2025-07-15 before its mark 2025-08-01), P11 expired and P17
    # matured at the end of their term: out. Persisting: P1, P2 (lapsed, reinstated before its mark 2025-04-30), P8,
    # P12 (renewed), P13 (in grace on 2025-11-01, lapsed after) = 5; P3 lapsed on its mark 2025-06-10, P4
    # surrendered, P18 lapsed then expired (stays in the base).
    assert (y2024["base_13"], y2024["persisting_13"]) == (8, 5)
    assert y2024["rate_13"] == Decimal("0.625000")  # 5 / 8
    # premium: base 1200 + 600 + 2400 + 1000 + 300 + 500 + 800 + 200 = 7000; persisting 1200 + 600 + 300 + 500 + 800
    assert (y2024["base_premium_13"], y2024["persisting_premium_13"]) == (Decimal("7000.00"), Decimal("3400.00"))
    assert y2024["premium_rate_13"] == Decimal("0.485714")  # 3400 / 7000
    # month 25 (effective by 2024-05-31): P1, P2, P3 (reinstated 2025-09-01, before its mark 2026-06-10), P4, P18 = 5
    # (P6, P17 out); persisting P1 P2 P3 = 3; premium 4200 / 5400
    assert (y2024["base_25"], y2024["persisting_25"], y2024["rate_25"]) == (5, 3, Decimal("0.600000"))
    assert (y2024["base_premium_25"], y2024["persisting_premium_25"]) == (Decimal("5400.00"), Decimal("4200.00"))
    assert y2024["premium_rate_25"] == Decimal("0.777778")  # 4200 / 5400
    # month 37 not reached by any 2024 policy: no base, no figure (not 0%)
    assert (y2024["base_37"], y2024["rate_37"], y2024["premium_rate_37"]) == (0, None, None)
    assert y2024["cooling_off"] == 1  # P5, apart

    y2021 = rows["2021"]
    # P20 (no history: judged by its current status, in force) persists at every month, its month 61 mark being
    # 2021-01-31 + 61 months = 2026-02-28 (clamped); P21 lapsed on 2023-06-01: persisting at 13 (2022-04-01) and
    # 25 (2023-04-01, in grace), not at 37, 49, 61
    assert [(y2021[f"base_{n}"], y2021[f"persisting_{n}"]) for n in (13, 25, 37, 49, 61)] == [
        (2, 2), (2, 2), (2, 1), (2, 1), (2, 1)]
    assert y2021["rate_61"] == Decimal("0.500000")
    assert y2021["premium_rate_61"] == Decimal("0.600000")  # 1200 / (1200 + 800)
    # 2025: P14 (2025-05-30) and P15 (2025-05-31, mark clamped to 2026-06-30) reach month 13 on the as-of date;
    # P16 (mark 2026-07-01) does not
    assert (rows["2025"]["base_13"], rows["2025"]["persisting_13"]) == (2, 2)


def test_as_of_date_moves_the_marks(book, make):
    rows = run(make.user(Role.ADMIN), start="2024-01-01", end="2025-06-09")
    # as of 2025-06-09 only the 2024 policies effective by 2024-05-09 reach month 13: P1, P2, P4, P18 (P6, P17
    # out): P1 and P2 (reinstated on 2025-01-10) persist; P3's mark 2025-06-10 is a day too late
    assert (rows["2024"]["base_13"], rows["2024"]["persisting_13"]) == (4, 2)
    # the 2021 cohort lies before the period; P14 and P15 (May 2025) are in it, far from any mark
    assert set(rows) == {"2024", "2025"}
    assert (rows["2025"]["base_13"], rows["2025"]["rate_13"]) == (0, None)


def test_scope_and_pseudonyms(book, make):
    by_agent = {"group_by": "agent", **PERIOD}
    agent_rows = run(make.user(Role.AGENT, agent_id=book["a"].id), **by_agent)
    assert list(agent_rows) == ["Alice Agent"]  # only their own book
    assert agent_rows["Alice Agent"]["base_13"] == 8

    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=book["y"].id)
    manager_rows = run(manager, **by_agent)
    assert list(manager_rows) == ["Bob Agent"]
    # Bob's book: P20, P21, P14, P15 at month 13, all persisting
    assert (manager_rows["Bob Agent"]["base_13"], manager_rows["Bob Agent"]["persisting_13"]) == (4, 4)

    actuary_rows = run(make.user(Role.ACTUARY), **by_agent)
    assert set(actuary_rows) == {pseudonym("agent", book["a"].id), pseudonym("agent", book["b"].id)}
    assert "Alice Agent" not in str(actuary_rows) and "Bob Agent" not in str(actuary_rows)


def test_group_by_branch_and_channel(book, make):
    admin = make.user(Role.ADMIN)
    branches = run(admin, group_by="branch", **PERIOD)
    assert (branches["Branch X"]["base_13"], branches["Branch Y"]["base_13"]) == (8, 4)
    channels = run(admin, group_by="channel", **PERIOD)
    assert list(channels) == ["Agency"] and channels["Agency"]["base_13"] == 12  # 8 + 4
    filtered = run(admin, group_by="issue_year", org_unit_id=book["y"].id, **PERIOD)
    assert set(filtered) == {"2021", "2025"}


def test_every_grouping_shares_out_the_same_base(book, make):
    admin = make.user(Role.ADMIN)
    for group_by in ("issue_year", "issue_month", "agent", "branch", "channel", "bank_partner", "product"):
        rows = run(admin, group_by=group_by, **PERIOD).values()
        # month 13: 8 (2024) + 2 (2021) + 2 (2025) in the base, 5 + 2 + 2 persisting; P5 the one cooling-off
        assert (sum(r["base_13"] for r in rows), sum(r["persisting_13"] for r in rows)) == (12, 9), group_by
        assert sum(r["cooling_off"] for r in rows) == 1, group_by


def test_bad_arguments_are_refused(app):
    with pytest.raises(ma.ValidationError) as refused:
        PersistencyArgs().load({"group_by": "policyholder"})
    assert set(refused.value.messages) == {"group_by"}
    with pytest.raises(ma.ValidationError) as refused:
        PersistencyArgs().load({"end": "2025-01-01", "start": "2026-01-01"})
    assert set(refused.value.messages) == {"end"}


def test_default_period_reaches_month_61(app):
    loaded = PersistencyArgs().load({"end": "2026-06-30"})
    assert loaded["start"] == date(2020, 1, 1)  # 2026 - 6: policies of 2020 and 2021 can reach month 61
    assert PersistencyArgs().load({"end": "2019-06-30"})["start"] == date(2013, 1, 1)
