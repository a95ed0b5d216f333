"""The sales funnel on a small book computed by hand: the open pipeline and its weighted premium per stage,
conversion between stages, median and 90th-percentile days in each stage (odd and even counts), the forecast by
expected close month, win rate and lost reasons, by agent, team and branch, within each role's scope; the page, its
drill-down and the PDF show the same figures."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from agents.models import (
    Opportunity,
    OpportunityLossReason,
    OpportunityStageChange,
    OpportunityStatus,
    OrgUnitKind,
)
from insurecrm.models import Role
from insurecrm.pii import pseudonym
from reports.catalogue import REPORTS, WITH_AGENTS
from reports.funnel import FunnelArgs, funnel
from tests.helpers import saved
from tests.reports.test_earned import table_rows

pytestmark = pytest.mark.usefixtures("december")
D = Decimal
PERIOD = {"start": "2026-01-01", "end": "2026-06-30"}


def run(user, **args):
    return funnel(user, FunnelArgs().load({**PERIOD, **args}), date(2026, 12, 6))


def noon(month: int, day: int, year: int = 2026) -> datetime:
    """Noon in Shanghai: whole days between two of them."""
    return datetime(year, month, day, 4, 0, tzinfo=UTC)


@pytest.fixture
def book(make, session):
    """Stages (default pipeline): Contact 10%, Proposal 50%, Negotiation 80%, Signed (won), Lost.

    | deal | owner | premium | history (noon, Shanghai) | now | close date |
    | o1 | Ann | 1000 | Contact 1 Jan, Proposal 11 Jan, Negotiation 31 Jan, Signed 10 Feb | won 10 Feb | |
    | o2 | Ann | 2000 | Contact 5 Jan, Proposal 9 Jan, Lost 1 Mar ("Price") | lost 1 Mar | |
    | o3 | Bob | 3000 | Contact 1 Feb | open | 2026-07-15 |
    | o4 | Bob | 500 | Contact 1 Feb, Negotiation 7 Feb (skips Proposal) | open | 2026-07-20 |
    | o5 | Ann | 1200 | Contact 1 Mar, Proposal 3 Mar | open | 2026-08-10 |
    | o6 | Bob | 800 | Contact 20 Dec 2025, Proposal 2 Jan, Lost 12 Jan (text "Went elsewhere") | lost 12 Jan | |
    | o7 | Ann | 100 | Contact 20 Jun, Proposal 5 Jul (after the period) | open | 2026-07-15 |
    | o8 | Bob | 400 | Contact 10 Jan, Proposal 17 Jan | open | none |

    Ann works in team N1 under branch North; Bob in branch South itself.
    """
    company = make.org_unit(name="HQ")
    north = make.org_unit(company, name="North", kind=OrgUnitKind.BRANCH)
    n1 = make.org_unit(north, name="N1", kind=OrgUnitKind.TEAM)
    south = make.org_unit(company, name="South", kind=OrgUnitKind.BRANCH)
    ann, bob = make.agent(n1, code="A1", name="Ann"), make.agent(south, code="A2", name="Bob")
    contact = make.stage(name="Contact", name_zh="初次接触", position=1, probability=D("10"), max_days=14)
    proposal = make.stage(name="Proposal", position=2, probability=D("50"))
    negotiation = make.stage(name="Negotiation", position=3, probability=D("80"))
    signed = make.stage(name="Signed", position=4, probability=D("100"), is_won=True)
    lost = make.stage(name="Lost", position=5, probability=D("0"), is_lost=True)
    price = saved(make, OpportunityLossReason(code="price_t", name="Price", name_zh="价格", position=1))

    def deal(agent, premium, history, *, status=OpportunityStatus.OPEN, close=None, **kw):
        stage, entered = history[-1]
        opportunity = saved(make, Opportunity(
            title=f"Deal {premium}", owner_agent_id=agent.id, org_unit_id=agent.org_unit_id, stage_id=stage.id,
            stage_entered_at=entered, probability=stage.probability, expected_premium=D(premium),
            expected_close_date=close, status=status,
            closed_at=entered if status != OpportunityStatus.OPEN else None, **kw))
        previous = None
        for stage, at in history:
            session.add(OpportunityStageChange(opportunity_id=opportunity.id, from_stage_id=previous,
                                               to_stage_id=stage.id, changed_at=at))
            previous = stage.id
        session.commit()
        return opportunity

    won, gone = OpportunityStatus.WON, OpportunityStatus.LOST
    deals = {
        "o1": deal(ann, "1000", [(contact, noon(1, 1)), (proposal, noon(1, 11)), (negotiation, noon(1, 31)),
                                 (signed, noon(2, 10))], status=won),
        "o2": deal(ann, "2000", [(contact, noon(1, 5)), (proposal, noon(1, 9)), (lost, noon(3, 1))], status=gone,
                   loss_reason_id=price.id, won_lost_reason="Too dear"),
        "o3": deal(bob, "3000", [(contact, noon(2, 1))], close=date(2026, 7, 15)),
        "o4": deal(bob, "500", [(contact, noon(2, 1)), (negotiation, noon(2, 7))], close=date(2026, 7, 20)),
        "o5": deal(ann, "1200", [(contact, noon(3, 1)), (proposal, noon(3, 3))], close=date(2026, 8, 10)),
        "o6": deal(bob, "800", [(contact, noon(12, 20, 2025)), (proposal, noon(1, 2)), (lost, noon(1, 12))],
                   status=gone, won_lost_reason="Went elsewhere"),
        "o7": deal(ann, "100", [(contact, noon(6, 20)), (proposal, noon(7, 5))], close=date(2026, 7, 15)),
        "o8": deal(bob, "400", [(contact, noon(1, 10)), (proposal, noon(1, 17))]),
    }
    return {"north": north, "n1": n1, "south": south, "ann": ann, "bob": bob, "contact": contact,
            "proposal": proposal, **deals}


def stage_figures(result) -> list[tuple]:
    return [(row["stage"], row["open"], row["expected_premium"], row["weighted_premium"], row["entered"],
             row["moved_on"], row["conversion"], row["stays"], row["median_days"], row["p90_days"])
            for row in table_rows(result, "stages")]


def deal_figures(result, key="by_group") -> list[tuple]:
    return [(row.get("group"), row["opportunities"], row["open"], row["expected_premium"], row["weighted_premium"],
             row["won"], row["lost"], row["win_rate"], row["won_premium"], row["lost_premium"])
            for row in table_rows(result, key)]


def test_per_stage_pipeline_conversion_and_time_in_stage(make, book):
    assert stage_figures(run(make.user(Role.ADMIN))) == [
        # open: o3 (3000 × 10% = 300). Entered in the period: o1 o2 o3 o4 o5 o7 o8 (o6 came in 2025) = 7, of which
        # o1 o2 o5 o8 (Proposal) and o4 (Negotiation) moved on by 30 June (o7 on 5 July: too late): 5/7.
        # Stays ended in the period: o5 2, o2 4, o4 6, o8 7, o1 10, o6 13 days (even count, 6):
        # median: h = 5 × 1/2 = 2.5 → 6 + 0.5 × (7 − 6) = 6.5; 90th: h = 5 × 0.9 = 4.5 → 10 + 0.5 × (13 − 10) = 11.5
        ("Contact", 1, D("3000.00"), D("300.00"), 7, 5, D("0.714286"), 6, D("6.5000"), D("11.5000")),
        # open: o5 1200, o7 100, o8 400 = 1700 × 50% = 850. Entered: o1 o2 o5 o6 o8 = 5 (o7 in July); moved on to a
        # later stage: o1 only (o2 and o6 were lost): 1/5. Stays ended: o6 10, o1 20, o2 51 (odd count, 3):
        # median 20; 90th: h = 2 × 0.9 = 1.8 → 20 + 0.8 × (51 − 20) = 44.8
        ("Proposal", 3, D("1700.00"), D("850.00"), 5, 1, D("0.200000"), 3, D("20.0000"), D("44.8000")),
        # open: o4 500 × 80% = 400. Entered: o1, o4; o1 went on to Signed: 1/2. One stay ended: o1's 10 days
        ("Negotiation", 1, D("500.00"), D("400.00"), 2, 1, D("0.500000"), 1, D("10.0000"), D("10.0000")),
        # closing stages: no conversion, no stay ends
        ("Signed", 0, D("0.00"), D("0.00"), 1, 0, None, 0, None, None),
        ("Lost", 0, D("0.00"), D("0.00"), 2, 0, None, 0, None, None),
    ]


def test_forecast_by_expected_close_month(make, book):
    rows = [(row["close_month"], row["open"], row["expected_premium"], row["weighted_premium"])
            for row in table_rows(run(make.user(Role.ADMIN)), "forecast")]
    assert rows == [
        # o3 3000 × 10% = 300, o4 500 × 80% = 400, o7 100 × 50% = 50
        ("2026-07", 3, D("3600.00"), D("750.00")),
        # o5 1200 × 50%
        ("2026-08", 1, D("1200.00"), D("600.00")),
        # o8 has no close date: 400 × 50%
        (None, 1, D("400.00"), D("200.00")),
    ]


def test_win_rate_by_agent_and_in_total(make, book):
    result = run(make.user(Role.ADMIN))
    assert deal_figures(result) == [
        # o1 won, o2 lost in the period; o5 (1200 × 50%) and o7 (100 × 50%) open
        ("Ann", 4, 2, D("1300.00"), D("650.00"), 1, 1, D("0.500000"), D("1000.00"), D("2000.00")),
        # o6 lost; o3 (300), o4 (400), o8 (200) open
        ("Bob", 4, 3, D("3900.00"), D("900.00"), 0, 1, D("0.000000"), D("0.00"), D("800.00")),
    ]
    # 1 won of 3 closed
    assert deal_figures(result, "total") == [
        (None, 8, 5, D("5200.00"), D("1550.00"), 1, 2, D("0.333333"), D("1000.00"), D("2800.00"))]


def test_by_team_and_by_branch(make, book):
    admin = make.user(Role.ADMIN)
    by_team = [(row[0], row[1], row[7]) for row in deal_figures(run(admin, group_by="team"))]
    assert by_team == [("N1", 4, D("0.500000")), ("South", 4, D("0.000000"))]
    # N1 is under North; South is a branch itself
    by_branch = [(row[0], row[1], row[4]) for row in deal_figures(run(admin, group_by="branch"))]
    assert by_branch == [("North", 4, D("650.00")), ("South", 4, D("900.00"))]


def test_lost_reasons_from_the_list_or_the_stored_text(make, book):
    rows = [(row["reason"], row["lost"], row["lost_premium"])
            for row in table_rows(run(make.user(Role.ADMIN)), "lost_reasons")]
    # o2 with a reason of the admins' list (its note is not the reason); o6 lost before the list: its text
    assert rows == [("Price", 1, D("2000.00")), ("Went elsewhere", 1, D("800.00"))]
    # the actuary reads no free text
    hidden = [(row["reason"], row["lost"]) for row in table_rows(run(make.user(Role.ACTUARY)), "lost_reasons")]
    assert hidden == [("Price", 1), (None, 1)]


def test_each_role_sees_its_own_book(make, book):
    manager = run(make.user(Role.BRANCH_MANAGER, org_unit_id=book["north"].id))
    # North: Ann's o1 o2 o5 o7 only
    assert [row[:3] for row in deal_figures(manager, "total")] == [(None, 4, 2)]
    assert [row[0] for row in deal_figures(manager)] == ["Ann"]
    contact = stage_figures(manager)[0]
    # Contact: entered by o1 o2 o5 o7, moved on o1 o2 o5 (3/4); stays o5 2, o2 4, o1 10: median 4, 90th 8.8
    assert contact[4:] == (4, 3, D("0.750000"), 3, D("4.0000"), D("8.8000"))
    bob = run(make.user(Role.AGENT, agent_id=book["bob"].id))
    assert [row[0] for row in deal_figures(bob)] == ["Bob"]
    assert [(row["close_month"], row["open"]) for row in table_rows(bob, "forecast")] == [("2026-07", 2), (None, 1)]
    # an agent's own filter narrows an admin's view the same way
    assert deal_figures(run(make.user(Role.ADMIN), agent_id=book["bob"].id), "total") == deal_figures(bob, "total")
    actuary = table_rows(run(make.user(Role.ACTUARY)), "by_group", pseudonymise=True)
    assert [row["group"] for row in actuary] == [pseudonym("agent", book["ann"].id), pseudonym("agent", book["bob"].id)]


def test_a_period_moves_conversion_and_time_in_stage_but_not_the_open_pipeline(make, book):
    # July: o7 leaves Contact (15 days) — entered in June, so no July entry into Contact; it enters Proposal
    [contact, proposal, *_rest] = stage_figures(run(make.user(Role.ADMIN), start="2026-07-01", end="2026-07-31"))
    assert contact == ("Contact", 1, D("3000.00"), D("300.00"), 0, 0, None, 1, D("15.0000"), D("15.0000"))
    assert proposal[4:7] == (1, 0, D("0.000000"))


def test_agents_specialists_and_analysts_may_run_it(app):
    assert REPORTS["funnel"].roles == WITH_AGENTS | {Role.BANCASSURANCE_SPECIALIST}
    assert Role.BANK_REFERRER not in REPORTS["funnel"].roles


def test_a_specialist_sees_their_bank_partners_opportunities(make, book, session):
    partner = make.bank_partner()
    specialist = make.agent(book["south"], code="S1", name="Sia")
    specialist.bank_partners.append(partner)
    book["o3"].bank_partner_id = partner.id
    session.commit()
    result = run(make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=specialist.id))
    # o3 only (Bob's, through the specialist's bank partner): open in Contact, 3000 × 10%
    assert deal_figures(result) == [("Bob", 1, 1, D("3000.00"), D("300.00"), 0, 0, None, D("0.00"), D("0.00"))]
    assert [row[:4] for row in stage_figures(result)][0] == ("Contact", 1, D("3000.00"), D("300.00"))


def test_the_page_and_the_pdf_show_the_figures(make, web, book):
    client = web(make.user(Role.ADMIN))
    query = "start=2026-01-01&end=2026-06-30"
    page = client.get(f"/reports/funnel?{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "71.43%" in html and "44.8000" in html and "2026-08" in html
    pdf = client.get(f"/reports/funnel.pdf?{query}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_data())).pages)
    for figure in ("71.43%", "11.5000", "44.8000", "33.33%", "2026-07", "Went elsewhere"):
        assert figure in text, figure
    refused = client.get("/reports/funnel?group_by=policyholder&start=2026-07-01&end=2026-01-01")
    assert refused.status_code == 422


def test_stage_and_reason_names_in_the_readers_language(make, web, book):
    client = web(make.user(Role.ADMIN))
    with client.session_transaction() as session:
        session["lang"] = "zh"
    csv = client.get("/reports/funnel.csv?table=stages&start=2026-01-01&end=2026-06-30").get_data(as_text=True)
    # Chinese names where a stage has one (Contact), the English name otherwise
    assert "初次接触" in csv and "Contact" not in csv and "Proposal" in csv
    reasons = client.get("/reports/funnel.csv?table=lost_reasons&start=2026-01-01&end=2026-06-30")
    assert "价格" in reasons.get_data(as_text=True)


def test_bars_drill_down_to_the_opportunities(app, make, web, book):
    from reports.funnel import OPPORTUNITIES_ENDPOINT, opportunities_link

    assert OPPORTUNITIES_ENDPOINT in app.view_functions
    with app.test_request_context("/reports/funnel"):
        link = opportunities_link(book["ann"].id, lambda row: {"stage_id": row["stage_id"], "status": "open"})
        url = link({"stage_id": book["contact"].id})
    assert url.startswith("/opportunities?")
    assert f"stage_id={book['contact'].id}" in url and "status=open" in url and f"owner_agent_id={book['ann'].id}" \
        in url
    client = web(make.user(Role.ADMIN))
    html = client.get("/reports/funnel?start=2026-01-01&end=2026-06-30").get_data(as_text=True)
    # the Contact bar opens the open opportunities in Contact: o3 only; July's bar those closing in July
    assert f"/opportunities?stage_id={book['contact'].id}&amp;status=open" in html
    assert "/opportunities?close_month=2026-07&amp;status=open" in html
    # and so do the chart's bars (plotly's customdata, escaped for a JSON script element)
    assert f"\\u002fopportunities?stage_id={book['contact'].id}\\u0026status=open" in html
    listed = client.get(f"/opportunities?stage_id={book['contact'].id}&status=open").get_data(as_text=True)
    assert "Deal 3000" in listed and "Deal 1200" not in listed
    july = client.get("/opportunities?close_month=2026-07&status=open").get_data(as_text=True)
    assert all(f"Deal {premium}" in july for premium in (3000, 500, 100))
    assert "Deal 1200" not in july
