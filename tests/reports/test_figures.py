"""The maintained report figures (issue 9, point 11): the daily refresh stores each policy's and policyholder's
figures of the default period, computed by the reports' own SQL; the contribution report reads them for that period
and gives the very rows of the live SQL; a day's changes recompute only the policyholders they touch."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from insurecrm import clock, jobs
from insurecrm.db import db
from insurecrm.models import Role, User
from policies.models import Claim, ClaimStatus, Policy
from policies.payments import apply_payment
from reports import contribution as contribution_module
from reports.contribution import ContributionArgs, _whole_book, contribution
from reports.earned import money, policy_figures
from reports.figures import REFRESH_JOB
from reports.filters import Filters
from reports.models import PolicyFigures, PolicyholderFigures
from tests.reports.test_contribution import TODAY, book  # noqa: F401 - the hand-built book of the report's tests
from tests.reports.test_earned import claim, local, service_request, table_rows

REFRESHED = datetime(2027, 1, 10, 1, 0, tzinfo=UTC)  # the refresh of 2027-01-10, in the night
NEXT_DAY = datetime(2027, 1, 11, 1, 0, tzinfo=UTC)


def refresh(day: date, at: datetime):
    with clock.frozen(at):
        return jobs.run_job(jobs.registered([REFRESH_JOB])[0], day)


def report(user, *, live: bool = False, monkeypatch=None, **args):
    """Every table of the contribution report as the outputs show it, and its notes."""
    if live:
        monkeypatch.setattr(contribution_module, "maintained_as_of", lambda *_args: None)
    result = contribution(user, ContributionArgs().load(args), TODAY)
    if live:
        monkeypatch.undo()
    return {table.key: table_rows(result, table.key) for table in result.tables}, [str(n) for n in result.notes]


def readers(make, book) -> list:  # noqa: F811
    return [make.user(Role.ADMIN), make.user(Role.ACTUARY),
            make.user(Role.BRANCH_MANAGER, org_unit_id=book["mine"].id), make.user(Role.AGENT, agent_id=book["me"].id)]


PARTS = ("earned", "incurred", "paid", "claims", "commission", "service_cost", "contribution")


def live_policy_rows() -> dict[int, tuple]:
    """Every policy's figures of the default period by the live SQL (the rows the refresh must have stored)."""
    figures = policy_figures(date(2026, 1, 1), date(2026, 12, 31), Policy.id.is_not(None))
    return _rows(figures.c)


def stored_policy_rows() -> dict[int, tuple]:
    return _rows(PolicyFigures.__table__.c)


def _rows(columns) -> dict[int, tuple]:
    """``policy_id → (policyholder_id, the parts to the 6 places of the report's amounts before the cent)``."""
    parts = [columns[part] if part == "claims" else money(columns[part]).label(part) for part in PARTS]
    return {row[0]: tuple(row[1:]) for row in db.session.execute(
        select(columns.policy_id, columns.policyholder_id, *parts))}


def refreshed_at() -> dict[tuple[str, int], datetime]:
    return {**{("policy", row.policy_id): row.refreshed_at for row in db.session.scalars(select(PolicyFigures))},
            **{("holder", row.policyholder_id): row.refreshed_at
               for row in db.session.scalars(select(PolicyholderFigures))}}


def test_before_any_refresh_the_report_is_the_live_sql(make, book, monkeypatch):  # noqa: F811
    admin = make.user(Role.ADMIN)
    tables, notes = report(admin)
    assert not any("Figures as of" in note for note in notes)
    assert tables == report(admin, live=True, monkeypatch=monkeypatch)[0]
    assert len(tables["policyholders"]) == 5


def test_the_maintained_report_gives_the_live_rows_for_every_reader(make, book, monkeypatch):  # noqa: F811
    # a service request naming no policy for h4 (h1 has some too): the policyholder's own costs
    service_request(make, book["h4"], local(date(2026, 9, 1)), "12.34")
    run = refresh(date(2027, 1, 10), REFRESHED)
    assert run.counts == {"holders_refreshed": 6, "policies_refreshed": 6, "full_refresh": 1}
    # the stored rows are the live SQL's, policy by policy (h3's unpaid policy and h6's of 2024 have nothing in
    # 2026: no row)
    assert stored_policy_rows() == live_policy_rows()
    assert len(stored_policy_rows()) == 4
    # the admin and the actuary without filters read the sums per policyholder as stored; the others, and any filter,
    # sum the stored figures of the policies in scope
    assert [_whole_book(reader, Filters.from_args({}, TODAY)) for reader in readers(make, book)] == [
        True, True, False, False]
    assert not _whole_book(make.user(Role.ADMIN), Filters.from_args({"channel": "agency"}, TODAY))
    for reader in readers(make, book):
        for args in ({}, {"channel": "agency"}, {"org_unit_id": book["mine"].id}):
            maintained, notes = report(reader, **args)
            assert "Figures as of 2027-01-10: the daily refresh of the last twelve complete months." in notes
            assert maintained == report(reader, live=True, monkeypatch=monkeypatch, **args)[0], (reader.role, args)
            assert maintained["policyholders"]  # every reader has rows to compare


def test_another_period_is_computed_live(make, book):  # noqa: F811
    refresh(date(2027, 1, 10), REFRESHED)
    db.session.execute(PolicyholderFigures.__table__.update().values(earned=123456))  # the stored rows would show this
    admin = make.user(Role.ADMIN)
    tables, notes = report(admin, start="2026-01-01", end="2026-11-30")
    assert not any("Figures as of" in note for note in notes)
    assert Decimal("123456.00") not in {row["earned"] for row in tables["policyholders"]}
    # the whole relationship is another period too
    assert not any("Figures as of" in note for note in report(admin, since_first_policy="true")[1])
    # the default period reads the stored rows (which this test spoiled)
    assert {row["earned"] for row in report(admin)[0]["policyholders"]} == {Decimal("123456.00")}


def test_a_day_of_changes_recomputes_only_the_policyholders_it_touched(make, book, monkeypatch):  # noqa: F811
    refresh(date(2027, 1, 10), REFRESHED)
    before = refreshed_at()
    with clock.frozen(NEXT_DAY.replace(hour=0)):
        # h3 pays the premium of 2026-06-01 late; h2's rejected claim is approved after all
        apply_payment(db.session.get(Policy, _policy_of(book["h3"])), Decimal("1200.00"), date(2027, 1, 10))
        rejected = db.session.scalar(select(Claim).where(Claim.status == ClaimStatus.REJECTED))
        rejected.status, rejected.rejection_reason = ClaimStatus.APPROVED, None
        db.session.commit()
    run = refresh(date(2027, 1, 11), NEXT_DAY)
    assert run.counts == {"holders_refreshed": 2, "policies_refreshed": 2}
    after = refreshed_at()
    touched = {key for key in after if after[key] != before.get(key)}
    h2, h3 = book["h2"].id, book["h3"].id
    assert touched == {("holder", h2), ("holder", h3), ("policy", _policy_of(book["h2"])),
                       ("policy", _policy_of(book["h3"]))}
    assert set(after) == set(before) | {("policy", _policy_of(book["h3"]))}  # paid now: it earned in 2026
    # and the figures are the live SQL's again
    assert stored_policy_rows() == live_policy_rows()
    admin = make.user(Role.ADMIN)
    maintained = report(admin)[0]
    assert maintained == report(admin, live=True, monkeypatch=monkeypatch)[0]
    by_holder = {row["policyholder"]: row for row in maintained["policyholders"]}
    assert by_holder[book["h3"].name]["earned"] == Decimal("0.00") + _earned_2026_of_a_year_from_june()
    assert by_holder[book["h2"].name]["incurred"] == Decimal("5900.00")


def test_a_rerun_of_the_date_recomputes_the_same_and_a_new_month_everything(make, book, monkeypatch):  # noqa: F811
    from reports.figures import refresh as refresh_now

    refresh(date(2027, 1, 10), REFRESHED)
    with clock.frozen(NEXT_DAY):
        claim(make, db.session.get(Policy, _policy_of(book["h1"])), date(2026, 12, 1), "40.00")
    refresh(date(2027, 1, 11), NEXT_DAY)
    stored = stored_policy_rows(), _holder_rows()
    assert refresh(date(2027, 1, 11), NEXT_DAY) is None  # done for its date
    with clock.frozen(NEXT_DAY):  # a run that crashed before its record, run again: the same rows
        assert refresh_now(date(2027, 1, 11)) == {"holders_refreshed": 1, "policies_refreshed": 1}
    assert (stored_policy_rows(), _holder_rows()) == stored
    # February: the period moves on (2026-02-01 .. 2027-01-31): every policyholder again, for the new period
    run = refresh(date(2027, 2, 1), datetime(2027, 2, 1, 1, 0, tzinfo=UTC))
    assert run.counts["full_refresh"] == 1
    assert {(row.period_start, row.period_end) for row in db.session.scalars(select(PolicyholderFigures))} == {
        (date(2026, 2, 1), date(2027, 1, 31))}
    # a late run for a January date leaves February's figures alone
    assert refresh(date(2027, 1, 20), datetime(2027, 2, 2, 1, 0, tzinfo=UTC)).counts == {
        "holders_refreshed": 0, "policies_refreshed": 0}
    assert {row.period_end for row in db.session.scalars(select(PolicyFigures))} == {date(2027, 1, 31)}
    # January's report falls back to the live SQL: the figures are not its period's
    january = contribution(make.user(Role.ADMIN), ContributionArgs().load({}), TODAY)
    assert not any("Figures as of" in str(note) for note in january.notes)


def _holder_rows() -> dict[int, tuple]:
    columns = PolicyholderFigures.__table__.c
    return {row[0]: tuple(row[1:]) for row in db.session.execute(select(columns.policyholder_id, *(
        money(columns[part]) for part in ("earned", "incurred", "paid", "commission", "service_cost",
                                          "own_service_cost", "contribution", "margin"))))}


def _policy_of(holder) -> int:
    return db.session.scalar(select(Policy.id).where(Policy.policyholder_id == holder.id))


def _earned_2026_of_a_year_from_june() -> Decimal:
    # 1200.00 paid for cover 2026-06-01 .. 2027-05-31 (365 days): 214 of them in 2026
    return (Decimal("1200.00") * 214 / 365).quantize(Decimal("0.01"))


def test_a_new_demo_book_has_its_figures(session, monkeypatch):
    from insurecrm.demo import book as demo_book
    from insurecrm.demo import build_demo_book
    from tests.demo.conftest import _hash_once

    monkeypatch.setattr(demo_book, "hash_password", _hash_once)
    build_demo_book(policyholders=60, seed=7, password="demo-password", today=date(2026, 6, 15), progress=False)
    with clock.frozen(datetime(2026, 6, 15, 9, 0, tzinfo=UTC)):
        admin = db.session.scalar(select(User).where(User.role == Role.ADMIN))
        result = contribution(admin, ContributionArgs().load({}), clock.today())
        assert "Figures as of 2026-06-14" in " ".join(str(note) for note in result.notes)
        maintained = table_rows(result, "policyholders")
        monkeypatch.setattr(contribution_module, "maintained_as_of", lambda *_args: None)
        live = table_rows(contribution(admin, ContributionArgs().load({}), clock.today()), "policyholders")
    assert maintained == live
    assert len(maintained) > 20


def test_a_policy_moved_to_another_policyholder_recomputes_both(make, book, monkeypatch):  # noqa: F811
    refresh(date(2027, 1, 10), REFRESHED)
    moved = db.session.get(Policy, _policy_of(book["h4"]))
    with clock.frozen(NEXT_DAY.replace(hour=0)):
        moved.policyholder_id = book["h5"].id
        db.session.commit()
    run = refresh(date(2027, 1, 11), NEXT_DAY)
    assert run.counts == {"holders_refreshed": 2, "policies_refreshed": 2}  # h4 (no policy left) and h5 (two)
    assert stored_policy_rows() == live_policy_rows()
    assert db.session.get(PolicyholderFigures, book["h4"].id) is None
    admin = make.user(Role.ADMIN)
    assert report(admin)[0] == report(admin, live=True, monkeypatch=monkeypatch)[0]


def test_a_run_that_crashed_between_batches_finishes_when_run_again(make, book, app, monkeypatch):  # noqa: F811
    from reports import figures

    monkeypatch.setitem(app.config, "JOBS_BATCH_SIZE", 1)
    monkeypatch.setattr(figures, "FULL_BATCHES", 2)  # batches of two policyholders
    calls, refresh_holders = [], figures.refresh_holders

    def crash_on_the_third_batch(*args):
        calls.append(args[0])
        if len(calls) == 3:
            raise RuntimeError("the process dies")
        return refresh_holders(*args)

    monkeypatch.setattr(figures, "refresh_holders", crash_on_the_third_batch)
    with pytest.raises(RuntimeError):
        refresh(date(2027, 1, 10), REFRESHED)
    assert len(_holder_rows()) > 0  # the first two batches were committed
    monkeypatch.setattr(figures, "refresh_holders", refresh_holders)
    run = refresh(date(2027, 1, 10), REFRESHED)
    assert run.counts["full_refresh"] == 1
    assert stored_policy_rows() == live_policy_rows()
    admin = make.user(Role.ADMIN)
    assert report(admin)[0] == report(admin, live=True, monkeypatch=monkeypatch)[0]
