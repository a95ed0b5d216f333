"""The experience study (docs/metrics.md, "Experience study and exposure"): exposure rows and rates checked against
a small book computed by hand with actxps' rules (expose_py / expose_cy, annual exposure method)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import marshmallow as ma
import pytest

from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import PolicyStatus, PolicyStatusChange
from reports.catalogue import REPORTS
from reports.experience import ExperienceArgs
from reports.tables import cell

S = PolicyStatus
TODAY = date(2026, 12, 6)
#: the study: 2024, a leap year of 366 days
STUDY = {"start": "2024-01-01", "end": "2024-12-31"}


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


def study(user, **args) -> tuple[dict, dict]:
    """The summary by group and the exposure rows by (policy number, period), as the outputs write them."""
    loaded = ExperienceArgs().load({key: str(value) for key, value in args.items()})
    result = REPORTS["experience"].build(user, loaded, TODAY)
    hidden = user.role == Role.ACTUARY

    def written(table):
        return [{c.key: cell(c, row, pseudonymise=hidden) for c in table.columns} for row in table.rows()]

    summary = {row["group"]: row for row in written(result.table("summary"))}
    rows = {(row["number"], row["period"]): row for row in written(result.table("exposures"))}
    return summary, rows


def years(days: int, of: int) -> Decimal:
    """An exposure as the outputs write it (4 places)."""
    return (Decimal(days) / Decimal(of)).quantize(Decimal("0.0001"))


@pytest.fixture
def book(make, session):
    """Agent ``a`` (branch X) holds E1 to E5 and E11, agent ``b`` (branch Y) E6 to E10. Annual premium 1200 unless
    said."""
    company = make.org_unit()
    x, y = make.org_unit(company, name="Branch X"), make.org_unit(company, name="Branch Y")
    a, b = make.agent(x, name="Alice Agent"), make.agent(y, name="Bob Agent")
    holder_a, holder_b = make.policyholder(owner=a), make.policyholder(owner=b)

    def policy(number, holder, effective, *changes, premium="1200", cooling_off=False):
        made = make.policy(holder, number=number, effective_date=effective, premium=Decimal(premium))
        return history(session, made, *changes, cooling_off=cooling_off)

    policy("E1", holder_a, date(2023, 1, 1))  # anniversary on the study's first day
    policy("E2", holder_a, date(2023, 7, 1), (S.GRACE, date(2024, 1, 15)), (S.LAPSED, date(2024, 3, 15)))
    policy("E3", holder_a, date(2022, 3, 1), (S.GRACE, date(2024, 4, 10)), (S.LAPSED, date(2024, 6, 10)),
           premium="1000")
    policy("E4", holder_a, date(2022, 3, 1), (S.CANCELLED, date(2024, 6, 10)), premium="2000")  # a surrender
    policy("E5", holder_a, date(2020, 2, 29))  # issued on a leap day
    policy("E6", holder_b, date(2023, 5, 1), (S.GRACE, date(2024, 12, 1)), (S.LAPSED, date(2025, 2, 1)))
    policy("E7", holder_b, date(2024, 12, 30))
    policy("E8", holder_b, date(2023, 4, 1), (S.GRACE, date(2024, 3, 1)), (S.LAPSED, date(2024, 5, 1)),
           (S.REINSTATED, date(2024, 7, 1)))
    policy("E9", holder_b, date(2024, 2, 1), (S.CANCELLED, date(2024, 2, 5)), cooling_off=True)
    policy("E10", holder_b, date(2022, 1, 1), (S.GRACE, date(2023, 8, 1)), (S.LAPSED, date(2023, 10, 1)))
    policy("E11", holder_a, date(2023, 12, 31))  # an anniversary on the study's last day
    policy("E12", holder_a, date(2024, 12, 31))  # issued on the study's last day
    return {"x": x, "y": y, "a": a, "b": b}


def test_policy_year_exposure_rows_follow_actxps(book, make):
    _summary, rows = study(make.user(Role.ADMIN), decrement="lapse", basis="policy_year", **STUDY)
    # only policy years beginning within the study count (actxps filters cal_b between start and end):
    # E2's first policy year (2023-07-01 to 2024-06-30) began before it, so its lapse is not in this study;
    # E9 (cooling-off), E10 (lapsed before the study) and E12 (issued on the study's last day) are out
    assert set(rows) == {("E1", 2), ("E3", 3), ("E4", 3), ("E5", 5), ("E6", 2), ("E7", 1), ("E8", 2), ("E11", 2)}
    # E1: policy year 2 = 2024-01-01 to 2024-12-31 (366 days), in force all of it
    assert rows["E1", 2]["exposure"] == Decimal("1.0000")
    assert (rows["E1", 2]["period_start"], rows["E1", 2]["period_end"]) == (date(2024, 1, 1), date(2024, 12, 31))
    # E3 lapsed on 2024-06-10 in policy year 3 (2024-03-01 to 2025-02-28): the studied decrement, a full year
    assert (rows["E3", 3]["exposure"], rows["E3", 3]["decrement"], rows["E3", 3]["status"]) == (
        Decimal("1.0000"), 1, "Lapsed")
    # E4 surrendered the same day: another exit, pro rata: 2024-03-01 to 2024-06-10 included = 102 days of 365
    assert (rows["E4", 3]["exposure"], rows["E4", 3]["decrement"], rows["E4", 3]["status"]) == (
        years(102, 365), 0, "Cancelled")
    # E5, issued 2020-02-29: anniversaries 2023-02-28, 2024-02-29, 2025-02-28; policy year 5 = 2024-02-29 to
    # 2025-02-27 (365 days), censored at the study's end: 2024-02-29 to 2024-12-31 = 307 days
    assert (rows["E5", 5]["period_start"], rows["E5", 5]["period_end"]) == (date(2024, 2, 29), date(2025, 2, 27))
    assert rows["E5", 5]["exposure"] == years(307, 365)
    # E6 lapsed in 2025, after the study: censored, in force at its end: 2024-05-01 to 2024-12-31 = 245 days of 365
    assert (rows["E6", 2]["exposure"], rows["E6", 2]["decrement"], rows["E6", 2]["status"]) == (
        years(245, 365), 0, "In force")
    assert rows["E7", 1]["exposure"] == years(2, 365)  # 2024-12-30 and 31
    # E8 lapsed and was reinstated within the study: no exit; 2024-04-01 to 2024-12-31 = 275 days
    assert rows["E8", 2]["exposure"] == years(275, 365)
    # E11's second policy year begins on the study's last day: one day of 365
    assert rows["E11", 2]["exposure"] == years(1, 365)
    assert (rows["E3", 3]["premium"], rows["E3", 3]["agent_id"], rows["E3", 3]["issue_date"]) == (
        Decimal("1000.00"), "Alice Agent", date(2022, 3, 1))


def test_lapse_rates_by_policy_year(book, make):
    summary, _rows = study(make.user(Role.ADMIN), decrement="lapse", basis="policy_year", group_by="duration", **STUDY)
    assert list(summary) == [1, 2, 3, 5]
    # year 2: E1 1 + E6 245/365 + E8 275/365 + E11 1/365 = 1 + 521/365
    assert summary[2]["exposure"] == (1 + Decimal(521) / 365).quantize(Decimal("0.0001"))
    assert (summary[2]["actual"], summary[2]["rate"]) == (0, Decimal("0.000000"))
    # year 3: E3 (lapsed, 1) + E4 (surrendered, 102/365): 1 lapse over 1.279452 years
    assert summary[3]["actual"] == 1
    assert float(summary[3]["rate"]) == pytest.approx(1 / (1 + 102 / 365), abs=2e-6)
    # by premium: E3's 1000 lapsed over 1 × 1000 + 102/365 × 2000 = 1558.90 of exposed premium
    assert summary[3]["actual_premium"] == Decimal("1000.00")
    assert summary[3]["exposure_premium"] == Decimal("1558.90")
    assert float(summary[3]["premium_rate"]) == pytest.approx(1000 / (1000 + 102 / 365 * 2000), abs=2e-6)


def test_decrement_changes_which_exit_gets_a_full_year(book, make):
    admin = make.user(Role.ADMIN)
    lapse, _ = study(admin, decrement="lapse", group_by="product_line", **STUDY)
    surrender, rows = study(admin, decrement="surrender", group_by="product_line", **STUDY)
    any_exit, _ = study(admin, decrement="any", group_by="product_line", **STUDY)
    # lapse: 2 + (102 + 307 + 245 + 2 + 275 + 1) / 365 years, 1 lapse (E3)
    assert (lapse["Health"]["actual"], lapse["Health"]["exposure"]) == (1, (2 + Decimal(932) / 365).quantize(
        Decimal("0.0001")))
    # surrender: E4 now counts a full year and E3 its 102 days: the same total, 1 surrender (E4)
    assert (surrender["Health"]["actual"], surrender["Health"]["exposure"]) == (1, lapse["Health"]["exposure"])
    assert (rows["E4", 3]["exposure"], rows["E4", 3]["decrement"], rows["E3", 3]["exposure"]) == (
        Decimal("1.0000"), 1, years(102, 365))
    # any exit: both a full year: 3 + (307 + 245 + 2 + 275 + 1) / 365, 2 exits
    assert (any_exit["Health"]["actual"], any_exit["Health"]["exposure"]) == (2, (3 + Decimal(830) / 365).quantize(
        Decimal("0.0001")))


def test_calendar_year_basis(book, make):
    summary, rows = study(make.user(Role.ADMIN), decrement="lapse", basis="calendar_year",
                          group_by="calendar_year", **STUDY)
    # each policy from the later of its issue date and 2024-01-01 to its exit or 2024-12-31, over 366 days;
    # the lapses of E2 (2024-03-15, its policy year began before the study) and E3 count a full calendar year
    assert rows["E2", 2024]["exposure"] == Decimal("1.0000") and rows["E2", 2024]["decrement"] == 1
    assert rows["E3", 2024]["exposure"] == Decimal("1.0000")
    assert rows["E4", 2024]["exposure"] == years(162, 366)  # 2024-01-01 to 2024-06-10
    assert rows["E7", 2024]["exposure"] == years(2, 366)
    assert (rows["E5", 2024]["period_start"], rows["E5", 2024]["period_end"]) == (date(2024, 1, 1),
                                                                                    date(2024, 12, 31))
    # E1 E2 E3 E5 E6 E8 E11 a full year each, E4 162/366, E7 2/366: 7 + 164/366 years, 2 lapses
    assert summary["2024"]["exposure"] == (7 + Decimal(164) / 366).quantize(Decimal("0.0001"))
    assert summary["2024"]["actual"] == 2


def test_calendar_years_split_a_study_across_new_year(book, make):
    _summary, rows = study(make.user(Role.ADMIN), decrement="lapse", basis="calendar_year",
                           start="2023-07-01", end="2024-06-30")
    # E1 (in force): 2023-07-01 to 2023-12-31 = 184 days of 365, then 2024-01-01 to 2024-06-30 = 182 days of 366
    assert rows["E1", 2023]["exposure"] == years(184, 365)
    assert rows["E1", 2024]["exposure"] == years(182, 366)
    # E10 lapsed on 2023-10-01: the lapse's calendar year is a full year, and no row after it
    assert (rows["E10", 2023]["exposure"], rows["E10", 2023]["decrement"]) == (Decimal("1.0000"), 1)
    assert ("E10", 2024) not in rows
    # E6 lapsed after the study (2025-02-01): censored at 2024-06-30, in force
    assert (rows["E6", 2024]["decrement"], rows["E6", 2024]["status"]) == (0, "In force")


def test_scope_and_pseudonyms(book, make):
    agent_summary, agent_rows = study(make.user(Role.AGENT, agent_id=book["a"].id), group_by="agent", **STUDY)
    assert {number for number, _period in agent_rows} == {"E1", "E3", "E4", "E5", "E11"}
    assert list(agent_summary) == ["Alice Agent"]

    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=book["y"].id)
    _summary, manager_rows = study(manager, group_by="agent", **STUDY)
    assert {number for number, _period in manager_rows} == {"E6", "E7", "E8"}

    actuary_summary, actuary_rows = study(make.user(Role.ACTUARY), group_by="agent", **STUDY)
    assert set(actuary_summary) == {pseudonym("agent", book["a"].id), pseudonym("agent", book["b"].id)}
    assert actuary_rows["E1", 2]["agent_id"] == pseudonym("agent", book["a"].id)
    written = str(actuary_summary) + str(actuary_rows)
    assert "Alice Agent" not in written and "Bob Agent" not in written


@pytest.mark.parametrize("basis", ["policy_year", "calendar_year"])
def test_every_grouping_shares_out_the_same_exposure(book, make, basis):
    admin = make.user(Role.ADMIN)
    totals = set()
    for group_by in ("duration", "calendar_year", "issue_year", "issue_month", "agent", "branch", "channel",
                     "bank_partner", "product", "product_line"):
        summary, _rows = study(admin, decrement="any", basis=basis, group_by=group_by, **STUDY)
        totals.add((sum(row["actual"] for row in summary.values()),
                    round(sum(row["exposure"] for row in summary.values()), 2)))
    # any exit, as in test_decrement_changes_which_exit_gets_a_full_year: 2 exits over 5.27 years (policy years);
    # on the calendar basis E2 (lapsed), E3 and E4 exit: 3 full years + E1 E5 E6 E8 E11 + E7's 2/366 = 8.01
    assert totals == ({(2, Decimal("5.27"))} if basis == "policy_year" else {(3, Decimal("8.01"))})


def test_bad_arguments_are_refused(app):
    for bad in ({"decrement": "death"}, {"basis": "policy_month"}, {"group_by": "policyholder"}):
        with pytest.raises(ma.ValidationError) as refused:
            ExperienceArgs().load(bad)
        assert set(refused.value.messages) == set(bad)
