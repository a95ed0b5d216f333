"""Loyalty (忠诚度): each part of the score and the score itself, worked out by hand on a small book, inside each
role's scope; the weights an admin saves change the score; the actuary sees pseudonyms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import BusinessType, Installment, InstallmentStatus, PolicyStatus, ProductLine
from policyholders.models import PolicyholderRelationship, RelationshipKind, ServiceKind
from reports.catalogue import REPORTS, WITH_AGENTS
from reports.filters import ReportArgs
from reports.loyalty import DEFAULT_WEIGHTS, PARTS, current_weights, loyalty, save_weights
from tests.reports.test_earned import local, service_request, table_rows

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
TODAY = date(2027, 1, 15)


def D(text: str) -> Decimal:  # noqa: N802 - reads like the literal it is
    return Decimal(text)


def run(user, **args):
    return loyalty(user, ReportArgs().load({**YEAR, **args}), TODAY)


def installment(make, policy, sequence: int, due: date, paid_on: date | None = None, *, waived: bool = False):
    """An installment of 100.00 due on ``due``, paid in full on ``paid_on`` (unpaid without), or waived."""
    status = InstallmentStatus.WAIVED if waived else InstallmentStatus.PAID if paid_on else InstallmentStatus.DUE
    return make._add(Installment(policy_id=policy.id, sequence=sequence, due_date=due, amount=D("100.00"),
                                 paid_amount=D("100.00") if paid_on else D("0"), paid_date=paid_on, status=status))


def related(make, one, other, kind=RelationshipKind.SPOUSE):
    return make._add(PolicyholderRelationship(from_policyholder_id=one.id, to_policyholder_id=other.id, kind=kind))


def complaint(make, holder, day: date):
    return service_request(make, holder, local(day), "0", kind=ServiceKind.COMPLAINT)


@pytest.fixture
def book(make):
    """Branch ``mine`` (agents ``me`` and ``colleague``), branch ``far`` (``stranger``); the period is 2026, so the
    parts are taken on 2026-12-31. Products by line: L life, H health, M motor, A accident, P property."""
    company = make.org_unit()
    mine, far = make.org_unit(company), make.org_unit(company)
    me, colleague, stranger = make.agent(mine), make.agent(mine), make.agent(far)
    line = {code: make.product(line=value) for code, value in (("L", ProductLine.LIFE), ("H", ProductLine.HEALTH),
                                                                ("M", ProductLine.MOTOR), ("A", ProductLine.ACCIDENT),
                                                                ("P", ProductLine.PROPERTY))}
    h1, h2, h3, h7 = (make.policyholder(owner=me) for _ in range(4))
    h4, h5 = make.policyholder(owner=colleague), make.policyholder(owner=stranger)
    prospect, quoted_only = make.policyholder(owner=me), make.policyholder(owner=me)

    # h1: life since 2019-03-01 (in force); a health renewal that expired in 2026, and its renewal, in force
    p1 = make.policy(h1, line["L"], effective_date=date(2019, 3, 1), expiry_date=date(2029, 3, 1))
    make.policy(h1, line["H"], effective_date=date(2025, 6, 1), expiry_date=date(2026, 6, 1),
                business_type=BusinessType.RENEWAL, status=PolicyStatus.EXPIRED)
    p1c = make.policy(h1, line["H"], effective_date=date(2026, 6, 1), expiry_date=date(2027, 6, 1),
                      business_type=BusinessType.RENEWAL)
    installment(make, p1, 1, date(2026, 3, 1), date(2026, 2, 28))  # early: on time
    installment(make, p1, 2, date(2026, 6, 1), date(2026, 6, 5))  # late
    installment(make, p1, 3, date(2026, 9, 1), date(2026, 9, 1))  # on the day: on time
    installment(make, p1, 4, date(2026, 10, 1), waived=True)  # waived: neither due nor paid
    installment(make, p1, 5, date(2027, 3, 1), date(2026, 12, 1))  # due after the period's end: not yet due
    installment(make, p1c, 1, date(2026, 6, 1))  # unpaid
    complaint(make, h1, date(2026, 4, 1))
    complaint(make, h1, date(2025, 12, 31))  # before the period
    service_request(make, h1, local(date(2026, 5, 1)), "0")  # a request, not a complaint

    # h2: motor since 2024-05-01, one installment paid early; four complaints; a renewal cancelled in cooling-off
    p2 = make.policy(h2, line["M"], effective_date=date(2024, 5, 1), expiry_date=date(2027, 5, 1))
    installment(make, p2, 1, date(2026, 5, 1), date(2026, 4, 20))
    make.policy(h2, line["H"], effective_date=date(2026, 3, 1), business_type=BusinessType.RENEWAL,
                status=PolicyStatus.CANCELLED, cooling_off_cancellation=True)
    for day in (date(2026, 1, 5), date(2026, 2, 5), date(2026, 3, 5), date(2026, 12, 31)):
        complaint(make, h2, day)

    # h3: a life policy of 2018 that expired, paid 9 days late; a renewal only quoted
    p3 = make.policy(h3, line["L"], effective_date=date(2018, 1, 1), expiry_date=date(2019, 1, 1),
                     status=PolicyStatus.EXPIRED)
    installment(make, p3, 1, date(2018, 1, 1), date(2018, 1, 10))
    make.policy(h3, line["H"], effective_date=date(2026, 6, 1), business_type=BusinessType.RENEWAL,
                status=PolicyStatus.QUOTED)

    # h7: since 2010, six renewals (three in force, of three more lines), no installment on file
    make.policy(h7, line["L"], effective_date=date(2010, 1, 1), expiry_date=date(2040, 1, 1))
    for product in (line["H"], line["A"], line["P"]):
        make.policy(h7, product, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1),
                    business_type=BusinessType.RENEWAL)
        make.policy(h7, product, effective_date=date(2025, 1, 1), expiry_date=date(2026, 1, 1),
                    business_type=BusinessType.RENEWAL, status=PolicyStatus.EXPIRED)

    # h4 (the colleague's): health from 2026-02-01, paid on the day; h5 (the other branch's)
    p4 = make.policy(h4, line["H"], effective_date=date(2026, 2, 1))
    installment(make, p4, 1, date(2026, 2, 1), date(2026, 2, 1))
    make.policy(h5, line["H"], effective_date=date(2026, 1, 1))
    make.policy(quoted_only, line["H"], status=PolicyStatus.QUOTED)

    # households: h1–h2 (h2 came after h1), h1–h3 (h3 came first), h1 → h4 (the colleague's, after h1)
    related(make, h1, h2)
    related(make, h2, h1)
    related(make, h3, h1, RelationshipKind.SIBLING)
    related(make, h1, h4, RelationshipKind.OTHER)
    return SimpleNamespace(mine=mine, me=me, h1=h1, h2=h2, h3=h3, h4=h4, h5=h5, h7=h7, prospect=prospect,
                           quoted_only=quoted_only)


def parts(row: dict) -> tuple:
    return (row["tenure"], row["renewals"], row["product_lines"], row["installments_due"], row["paid_on_time"],
            row["on_time"], row["referrals"], row["complaints"])


def points(row: dict) -> tuple:
    return tuple(row[f"{part}_points"] for part in (*PARTS, "complaints")) + (row["score"],)


def by_holder(result, key="policyholders") -> dict:
    return {row["policyholder"]: row for row in table_rows(result, key)}


def test_an_agent_sees_each_part_of_their_own_book(make, book):
    result = run(make.user(Role.AGENT, agent_id=book.me.id))
    rows = table_rows(result, "policyholders")
    assert [row["policyholder"] for row in rows] == [book.h7.name, book.h1.name, book.h3.name, book.h2.name]
    found = by_holder(result)
    # h1: 7 completed years (2019-03-01 → 2026-12-31): 25 × 7/10 = 17.5; 2 renewals: 20 × 2/5 = 8; life and health
    # in force: 15 × 2/3 = 10; due by the end: three of p1 (the waived and the 2027 one out) and p1c's one, paid on
    # time 2 (early, on the day): 2/4 → 30 × 0.5 = 15; h2 came after h1 (h3 before; h4 is not in the agent's book):
    # 1 → 10 × 1/3 = 3.3333; one complaint in 2026: 20 × 1/3 = 6.6667 taken; 17.5 + 8 + 10 + 15 + 3.3333 − 6.6667
    assert parts(found[book.h1.name]) == (7, 2, 2, 4, 2, D("0.500000"), 1, 1)
    assert points(found[book.h1.name]) == (D("17.5000"), D("8.0000"), D("10.0000"), D("15.0000"), D("3.3333"),
                                           D("6.6667"), D("47.1666"))
    # h2: 2 years (2024-05-01): 5; no renewal (the one cancelled in cooling-off does not count); motor: 5; 1 of 1 on
    # time: 30; h1 came before: 0; four complaints, capped at 3: 20 taken; 5 + 0 + 5 + 30 + 0 − 20 = 20
    assert parts(found[book.h2.name]) == (2, 0, 1, 1, 1, D("1.000000"), 0, 4)
    assert points(found[book.h2.name]) == (D("5.0000"), D("0.0000"), D("5.0000"), D("30.0000"), D("0.0000"),
                                           D("20.0000"), D("20.0000"))
    # h3: 8 years since 2018-01-01 though nothing is in force: 20; the quoted renewal is no renewal; no line in
    # force; its one installment paid late: 0/1 → 0; h1 came after h3: 1 → 3.3333; 20 + 3.3333
    assert parts(found[book.h3.name]) == (8, 0, 0, 1, 0, D("0.000000"), 1, 0)
    assert points(found[book.h3.name]) == (D("20.0000"), D("0.0000"), D("0.0000"), D("0.0000"), D("3.3333"),
                                           D("0.0000"), D("23.3333"))
    # h7: 16 years, capped at 10: 25; six renewals, capped at 5: 20; four lines, capped at 3: 15; no installment
    # due: no ratio and no points (not a division by zero); 25 + 20 + 15 = 60
    assert parts(found[book.h7.name]) == (16, 6, 4, 0, 0, None, 0, 0)
    assert points(found[book.h7.name]) == (D("25.0000"), D("20.0000"), D("15.0000"), D("0.0000"), D("0.0000"),
                                           D("0.0000"), D("60.0000"))


def test_summary_and_bands(make, book):
    result = run(make.user(Role.AGENT, agent_id=book.me.id))
    # (60 + 47.1666 + 23.3333 + 20) ÷ 4 = 37.624975; one at 50 or more (h7)
    assert table_rows(result, "summary") == [{"policyholders": 4, "average": D("37.6250"), "loyal": 1}]
    assert [(row["band"], row["policyholders"]) for row in table_rows(result, "bands")] == [
        ("0-19", 0), ("20-39", 2), ("40-59", 1), ("60-79", 1), ("80-100", 0)]
    assert result.charts[0].table == "bands"
    # the weights in force are printed with the report
    assert [row["weight"] for row in table_rows(result, "weights")] == list(DEFAULT_WEIGHTS.values())


def test_a_manager_sees_the_branch_and_the_household_in_it(make, book):
    result = run(make.user(Role.BRANCH_MANAGER, org_unit_id=book.mine.id))
    found = by_holder(result)
    assert set(found) == {book.h1.name, book.h2.name, book.h3.name, book.h4.name, book.h7.name}
    # h4 (2026-02-01) is in the branch's book and came after h1: 2 brought in → 10 × 2/3 = 6.6667; 47.1666 + 3.3334
    assert (found[book.h1.name]["referrals"], found[book.h1.name]["score"]) == (2, D("50.5000"))
    # h4: 0 years; health in force: 5; paid on the day: 30
    assert points(found[book.h4.name]) == (D("0.0000"), D("0.0000"), D("5.0000"), D("30.0000"), D("0.0000"),
                                           D("0.0000"), D("35.0000"))
    admin = by_holder(run(make.user(Role.ADMIN)))
    assert book.h5.name in admin and book.prospect.name not in admin and book.quoted_only.name not in admin


def test_the_admins_weights_change_the_score(make, book, session):
    agent = make.user(Role.AGENT, agent_id=book.me.id)
    assert current_weights() == DEFAULT_WEIGHTS
    save_weights({"tenure": 50, "renewals": 0, "product_lines": 0, "on_time": 50, "referrals": 0,
                  "complaints": 100})
    session.commit()
    found = by_holder(run(agent))
    # h1: 50 × 7/10 = 35 + 50 × 0.5 = 25, less 100 × 1/3 = 33.3333 → 26.6667
    assert points(found[book.h1.name])[-2:] == (D("33.3333"), D("26.6667"))
    # h2: 50 × 2/10 = 10 + 50 × 1 = 60, less 100 (three complaints or more): −40, never below 0
    assert points(found[book.h2.name]) == (D("10.0000"), D("0.0000"), D("0.0000"), D("50.0000"), D("0.0000"),
                                           D("100.0000"), D("0.0000"))
    assert [row["weight"] for row in table_rows(run(agent), "weights")] == [50, 0, 0, 50, 0, 100]


def test_a_filter_narrows_the_book_the_parts_are_taken_from(make, book):
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=book.mine.id)
    life = by_holder(run(manager, product_id=str(_product_of(make, book.h1, ProductLine.LIFE))))
    # only life policies: h1's life policy alone (no renewal, one line, three installments of which 2 on time)
    assert parts(life[book.h1.name]) == (7, 0, 1, 3, 2, D("0.666667"), 0, 1)
    assert set(life) == {book.h1.name, book.h3.name, book.h7.name}


def _product_of(make, holder, line) -> int:
    from sqlalchemy import select

    from policies.models import Policy, Product

    return make.session.scalar(select(Product.id).join(Policy, Policy.product_id == Product.id)
                               .where(Policy.policyholder_id == holder.id, Product.line == line).limit(1))


def test_the_actuary_sees_pseudonyms_never_names(make, book):
    result = run(make.user(Role.ACTUARY))
    shown = table_rows(result, "policyholders", pseudonymise=True)
    assert {row["policyholder"] for row in shown} == {pseudonym("policyholder", h.id)
                                                      for h in (book.h1, book.h2, book.h3, book.h4, book.h5, book.h7)}
    names = {h.name for h in (book.h1, book.h2, book.h3, book.h4, book.h5, book.h7)}
    assert not names & {str(value) for row in shown for value in row.values()}
    table = result.table("policyholders")
    assert [c.name_key for c in table.columns if c.kind == "policyholder"] == ["policyholder_name"]
    assert "policyholder_name" not in {c.key for c in table.columns}


def test_the_catalogue_and_the_api(make, book, api):
    assert REPORTS["loyalty"].roles == WITH_AGENTS
    assert len(REPORTS["loyalty"].help) == 2
    body = api(make.user(Role.AGENT, agent_id=book.me.id)).get(
        "/api/v1/reports/loyalty?start=2026-01-01&end=2026-12-31").json
    assert [(row["policyholder"], row["score"]) for row in body["rows"]] == [
        (book.h7.name, "60.0000"), (book.h1.name, "47.1666"), (book.h3.name, "23.3333"), (book.h2.name, "20.0000")]
