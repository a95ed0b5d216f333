"""Commission statements per agent and per bank partner for a month (reports/commission.py): the lines are the
ledger's rows earned in the month, the totals reconcile to the ledger summed independently, each role reads
what is theirs."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from insurecrm.models import Role
from policies.models import Commission, CommissionPayee, PremiumFrequency, SalesChannel
from policies.payments import apply_payment
from policies.schedule import build_schedule

pytestmark = pytest.mark.usefixtures("december")

NOVEMBER = "2026-11-15"


@pytest.fixture
def book(make, session):
    """Branch B1 (agent A1, with a manager) and branch B2 (agent A2). A1 sells an agency policy (monthly 100.00,
    first year at 20%) and a bancassurance policy through bank P (3%; monthly 333.33, first year at 15%); A2 an
    agency policy (monthly 50.00 at 20%). Payments in October and November 2026."""
    company = make.org_unit(name="Company")
    b1, b2 = make.org_unit(name="B1", parent=company), make.org_unit(name="B2", parent=company)
    a1, a2 = make.agent(b1, name="Alice One"), make.agent(b2, name="Bob Two")
    bank = make.bank_partner(code="PBANK", name="P Bank", commission_rate=Decimal("0.0300"))
    other_bank = make.bank_partner(code="QBANK", name="Q Bank", commission_rate=Decimal("0.0200"))
    product = make.product(first_year_commission_rate=Decimal("0.2000"))
    banca_product = make.product(first_year_commission_rate=Decimal("0.1500"))

    def policy(agent, prod, premium, **kw):
        p = make.policy(make.policyholder(owner=agent), prod, premium=Decimal(premium),
                        frequency=PremiumFrequency.MONTHLY, effective_date=date(2026, 9, 1),
                        expiry_date=date(2027, 8, 31), **kw)
        session.add_all(build_schedule(p))
        session.commit()
        return p

    p1 = policy(a1, product, "100.00")
    p2 = policy(a1, banca_product, "333.33", channel=SalesChannel.BANCASSURANCE, bank_partner_id=bank.id,
                bank_branch_id=make.bank_branch(bank, name="P Bank Main Street").id)
    p3 = policy(a2, product, "50.00", channel=SalesChannel.BANCASSURANCE, bank_partner_id=other_bank.id)
    for p, amount, day in [(p1, "200.00", date(2026, 10, 3)), (p1, "100.00", date(2026, 11, 2)),
                           (p2, "333.33", date(2026, 11, 5)), (p2, "333.33", date(2026, 11, 30)),
                           (p3, "50.00", date(2026, 11, 7)), (p3, "50.00", date(2026, 12, 1))]:
        apply_payment(p, amount, day)
    session.commit()
    users = {"a1": make.user(Role.AGENT, agent_id=a1.id), "a2": make.user(Role.AGENT, agent_id=a2.id),
             "manager1": make.user(Role.BRANCH_MANAGER, org_unit_id=b1.id), "admin": make.user(Role.ADMIN),
             "actuary": make.user(Role.ACTUARY), "s1": make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=a1.id)}
    return {"users": users, "a1": a1, "a2": a2, "bank": bank, "other_bank": other_bank, "p1": p1, "p2": p2, "p3": p3}


def table(api, user, name, key, **args):
    response = api(user).get(f"/api/v1/reports/{name}", query_string={"table": key, "per_page": 500, **args})
    assert response.status_code == 200, response.json
    return response.json["rows"]


def ledger(session, **where) -> Decimal:
    """The ledger's own sum of November 2026, under ``where`` (column = value)."""
    stmt = select(func.coalesce(func.sum(Commission.amount), 0)).where(
        Commission.earned_on >= date(2026, 11, 1), Commission.earned_on <= date(2026, 11, 30),
        *(getattr(Commission, key) == value for key, value in where.items()))
    return Decimal(str(session.scalar(stmt))).quantize(Decimal("0.01"))


def test_the_agent_reads_their_own_lines_and_totals(api, book, session):
    lines = table(api, book["users"]["a1"], "commission-statement", "lines", month=NOVEMBER)
    # p1: 100.00 × 20% = 20.00; p2 each month: 333.33 × 15% = 49.9995 → 50.00, the bank 333.33 × 3% = 9.9999 →
    # 10.00, so the agent 40.00 at the net rate 12%
    assert [(row["policy_number"], row["paid_on"], row["base_amount"], row["rate"], row["amount"]) for row in lines] \
        == [(book["p1"].number, "2026-11-02", "100.00", "0.200000", "20.00"),
            (book["p2"].number, "2026-11-05", "333.33", "0.120000", "40.00"),
            (book["p2"].number, "2026-11-30", "333.33", "0.120000", "40.00")]
    assert {row["kind"] for row in lines} == {"First year"}
    [total] = table(api, book["users"]["a1"], "commission-statement", "total", month=NOVEMBER)
    assert (total["lines"], total["first_year"], total["renewal"], total["amount"]) == (3, "100.00", "0.00", "100.00")
    assert Decimal(total["amount"]) == ledger(session, agent_id=book["a1"].id)
    # an agent cannot read another agent's statement by asking for it: the filter narrows their own rows
    assert table(api, book["users"]["a1"], "commission-statement", "lines", month=NOVEMBER,
                 agent_id=book["a2"].id) == []
    # the specialist reads the same statement as the agent whose login it is
    assert table(api, book["users"]["s1"], "commission-statement", "lines", month=NOVEMBER) == lines


def test_every_statement_reconciles_to_the_ledger(api, book, session):
    admin = book["users"]["admin"]
    per_agent = {row["agent_code"]: Decimal(row["amount"])
                 for row in table(api, admin, "commission-statement", "agents", month=NOVEMBER)}
    # A2: 50.00 × 20% = 10.00 less Q Bank's 50.00 × 2% = 1.00: 9.00 (the December payment is not in November)
    assert per_agent == {book["a1"].code: Decimal("100.00"), book["a2"].code: Decimal("9.00")}
    for agent in (book["a1"], book["a2"]):
        assert per_agent[agent.code] == ledger(session, agent_id=agent.id, payee=CommissionPayee.AGENT)
    [total] = table(api, admin, "commission-statement", "total", month=NOVEMBER)
    assert Decimal(total["amount"]) == ledger(session, payee=CommissionPayee.AGENT) == Decimal("109.00")
    partners = {row["partner_code"]: Decimal(row["amount"])
                for row in table(api, admin, "bank-commission-statement", "partners", month=NOVEMBER)}
    assert partners == {"PBANK": Decimal("20.00"), "QBANK": Decimal("1.00")}
    assert partners["PBANK"] == ledger(session, bank_partner_id=book["bank"].id)
    [bank_total] = table(api, admin, "bank-commission-statement", "total", month=NOVEMBER)
    assert Decimal(bank_total["amount"]) == ledger(session, payee=CommissionPayee.BANK_PARTNER)
    # October: only p1's two installments (200.00 × 20% = 40.00)
    [october] = table(api, admin, "commission-statement", "total", month="2026-10-01")
    assert (october["lines"], october["amount"]) == (1, "40.00")


def test_the_bank_statement_lines(api, book):
    lines = table(api, book["users"]["admin"], "bank-commission-statement", "lines", month=NOVEMBER,
                  bank_partner_id=book["bank"].id)
    assert [(row["partner_name"], row["bank_branch"], row["paid_on"], row["rate"], row["amount"]) for row in lines] \
        == [("P Bank", "P Bank Main Street", "2026-11-05", "0.030000", "10.00"),
            ("P Bank", "P Bank Main Street", "2026-11-30", "0.030000", "10.00")]


def test_the_manager_reads_their_branch(api, book):
    manager = book["users"]["manager1"]
    agents = table(api, manager, "commission-statement", "agents", month=NOVEMBER)
    assert [(row["agent_id"], row["agent_code"], row["amount"]) for row in agents] == [
        ("Alice One", book["a1"].code, "100.00")]
    partners = table(api, manager, "bank-commission-statement", "partners", month=NOVEMBER)
    assert [(row["partner_code"], row["amount"]) for row in partners] == [("PBANK", "20.00")]


@pytest.mark.parametrize(("who", "name", "status"), [
    ("a1", "bank-commission-statement", 403), ("s1", "bank-commission-statement", 403),
    ("actuary", "commission-statement", 403), ("actuary", "bank-commission-statement", 403),
    ("manager1", "commission-statement", 200), ("a1", "commission-statement", 200),
])
def test_roles(api, web, book, who, name, status):
    user = book["users"][who]
    assert api(user).get(f"/api/v1/reports/{name}?month={NOVEMBER}").status_code == status
    assert web(user).get(f"/reports/{name}?month={NOVEMBER}").status_code == status


def test_the_files_carry_the_same_lines(web, book):
    client = web(book["users"]["a1"])
    response = client.get(f"/reports/commission-statement.csv?table=lines&month={NOVEMBER}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[2] for row in rows[1:]] == [book["p1"].number, book["p2"].number, book["p2"].number]
    page = client.get(f"/reports/commission-statement?month={NOVEMBER}")
    assert page.status_code == 200 and book["p2"].number in page.get_data(as_text=True)
    pdf = client.get(f"/reports/commission-statement.pdf?month={NOVEMBER}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
