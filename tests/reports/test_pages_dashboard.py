"""The manager dashboard and the agent drill-down: figures in scope, charts, pseudonyms, fixed queries."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Date, event, literal, select

from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import BusinessType, PolicyStatus, PolicyStatusChange, PremiumFrequency
from policyholders.models import ServiceCategory, ServiceKind, ServiceRequest, ServiceStatus
from reports import services

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # noon in Shanghai: "this month" is June 2026


@pytest.fixture(autouse=True)
def _june_2026(app):
    with clock.frozen(NOW):
        yield


def lapse(make, holder, on: date, **kw):
    policy = make.policy(holder, status=PolicyStatus.LAPSED, status_date=on, **kw)
    db.session.add(PolicyStatusChange(policy_id=policy.id, from_status=PolicyStatus.GRACE,
                                      to_status=PolicyStatus.LAPSED, effective_date=on, reason="No payment"))
    db.session.commit()
    return policy


def service_request(holder, agent, *, due: datetime, status=ServiceStatus.OPEN, subject="Change address"):
    request = ServiceRequest(policyholder_id=holder.id, kind=ServiceKind.SERVICE, category=ServiceCategory.OTHER,
                             status=status, subject=subject, due_at=due, assigned_agent_id=agent.id)
    db.session.add(request)
    db.session.commit()
    return request


@pytest.fixture
def book(make):
    """Two branches of one company: Alice's book in branch A, Bob's in branch B."""
    company = make.org_unit(name="Company")
    branch_a, branch_b = make.org_unit(company, name="Branch A"), make.org_unit(company, name="Branch B")
    alice = make.agent(branch_a, name="Alice Wong")
    bob = make.agent(branch_b, name="Bob Lee")
    holder = make.policyholder(owner=alice, name="Holder Alpha", phone="+8613800000001")
    written = make.policy(holder, premium=Decimal("100.00"), frequency=PremiumFrequency.MONTHLY,
                          effective_date=date(2026, 6, 3), number="P-JUNE-NEW")
    make.policy(holder, premium=Decimal("500.00"), business_type=BusinessType.RENEWAL,
                effective_date=date(2026, 1, 1), number="P-RENEWAL")
    make.policy(holder, premium=Decimal("50.00"), status=PolicyStatus.QUOTED, effective_date=date(2026, 6, 5))
    lapse(make, holder, date(2026, 6, 10), effective_date=date(2025, 6, 1), number="P-LAPSED")
    lapse(make, holder, date(2026, 3, 10), effective_date=date(2025, 3, 1))
    service_request(holder, alice, due=NOW - timedelta(days=1), subject="Overdue change")
    service_request(holder, alice, due=NOW + timedelta(days=3))
    service_request(holder, alice, due=NOW - timedelta(days=9), status=ServiceStatus.RESOLVED)
    make.policy(make.policyholder(owner=bob, name="Holder Beta"), premium=Decimal("999.00"),
                effective_date=date(2026, 6, 1), number="P-BOB")
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=branch_a.id)
    return {"alice": alice, "bob": bob, "manager": manager, "written": written, "holder": holder}


def figure(html: str, chart: str) -> dict:
    return json.loads(re.search(rf'data-chart="{chart}">(.*?)</script>', html, re.S).group(1))


def count(html: str, label: str) -> str:
    return re.search(rf"<strong>([^<]*)</strong>\s*{label}", html).group(1)


def test_manager_sees_their_subtree(web, book):
    html = web(book["manager"]).get("/dashboard").get_data(as_text=True)
    assert count(html, "policies in force") == "2"
    assert count(html, "annualised premium in force") == "CN¥1,700.00"  # 100 × 12 + 500
    assert count(html, "new policies this month") == "1"  # the quote and the renewal are not new business
    assert count(html, "new business premium this month") == "CN¥1,200.00"
    assert count(html, "lapses this month") == "1"
    assert count(html, "open service requests") == "2"
    assert count(html, "past their SLA") == "1"
    assert "Alice Wong" in html and "Branch A" in html
    assert "Bob Lee" not in html and "999" not in html
    assert f'/dashboard/agents/{book["alice"].id}"' in html


def test_admin_sees_the_company(web, make, book):
    html = web(make.user(Role.ADMIN)).get("/dashboard").get_data(as_text=True)
    assert count(html, "policies in force") == "3"
    assert count(html, "annualised premium in force") == "CN¥2,699.00"
    assert count(html, "new policies this month") == "2"
    assert "Alice Wong" in html and "Bob Lee" in html and "Whole company" in html


def test_actuary_sees_pseudonyms_only(web, make, book):
    client = web(make.user(Role.ACTUARY))
    html = client.get("/dashboard").get_data(as_text=True)
    assert count(html, "policies in force") == "3"
    assert "Alice Wong" not in html and "Bob Lee" not in html
    with client.application.test_request_context():
        assert pseudonym("agent", book["alice"].id) in html
    page = client.get(f"/dashboard/agents/{book['alice'].id}").get_data(as_text=True)
    assert "P-JUNE-NEW" in page
    for secret in ("Alice Wong", "Holder Alpha", "+8613800000001", "Overdue change", "No payment"):
        assert secret not in page


def test_charts_are_embedded_json_drawn_by_the_vendored_plotly(web, book):
    html = web(book["manager"]).get("/dashboard").get_data(as_text=True)
    trend = figure(html, "chart-trend")
    premium, lapses = trend["data"]
    assert len(premium["x"]) == 12 and premium["x"][-1] == "Jun 2026" and premium["x"][0] == "Jul 2025"
    assert premium["y"][-1] == 1200.0 and lapses["y"][-1] == 1 and lapses["y"][-4] == 1  # June and March
    agents = figure(html, "chart-agents")
    assert agents["data"][0]["x"] == [1700.0] and agents["data"][0]["y"][0].startswith("Alice Wong")
    assert re.findall(r'<script[^>]*\ssrc="([^"]+)"', html) == ["/static/vendor/htmx/htmx.min.js", "/static/js/app.js",
                                                                 "/vendor/plotly.min.js"]
    assert "cdn" not in html.lower()


def test_chart_json_cannot_end_its_script_element(web, make, book):
    book["alice"].name = "</script><script>alert(1)</script>"
    db.session.commit()
    html = web(book["manager"]).get("/dashboard").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert figure(html, "chart-agents")["data"][0]["y"][0].startswith("</script><script>")


def test_drill_down_shows_the_agents_book(web, book):
    html = web(book["manager"]).get(f"/dashboard/agents/{book['alice'].id}").get_data(as_text=True)
    assert count(html, "policyholders") == "1"
    assert count(html, "policies in force") == "2"
    assert count(html, "lapses this month") == "1"
    assert "P-JUNE-NEW" in html and "P-RENEWAL" in html and "P-LAPSED" in html
    assert "Holder Alpha" in html and "Overdue change" in html and "No payment" in html


def test_drill_down_outside_the_subtree_is_404(web, book):
    assert web(book["manager"]).get(f"/dashboard/agents/{book['bob'].id}").status_code == 404
    assert web(book["manager"]).get("/dashboard/agents/999999").status_code == 404


def test_in_force_list_is_paged(web, book, make):
    for _ in range(26):
        make.policy(book["holder"])
    client = web(book["manager"])
    first = client.get(f"/dashboard/agents/{book['alice'].id}").get_data(as_text=True)
    assert "Page 1 of 2" in first and "page=2" in first
    second = client.get(f"/dashboard/agents/{book['alice'].id}?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second


@pytest.mark.parametrize("role", [Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.BANK_REFERRER])
def test_other_roles_are_refused(web, make, book, role):
    client = web(make.user(role))
    assert client.get("/dashboard").status_code == 403
    assert client.get(f"/dashboard/agents/{book['alice'].id}").status_code == 403


def test_anonymous_goes_to_login(client):
    assert client.get("/dashboard").status_code == 302


def test_empty_book_renders(web, make):
    html = web(make.user(Role.ADMIN)).get("/dashboard").get_data(as_text=True)
    assert count(html, "policies in force") == "0"


@contextmanager
def counted():
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def grow(make, unit, agents: int) -> None:
    for _ in range(agents):
        agent = make.agent(unit)
        holder = make.policyholder(owner=agent)
        make.policy(holder, effective_date=date(2026, 6, 2))
        lapse(make, holder, date(2026, 6, 9))
        service_request(holder, agent, due=NOW - timedelta(days=1))


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/agents/{alice}"])
def test_queries_do_not_grow_with_the_book(web, make, book, path):
    client = web(book["manager"])
    url = path.format(alice=book["alice"].id)
    unit = book["alice"].org_unit
    sizes = []
    for agents in (1, 6):
        grow(make, unit, agents)
        for _ in range(5):
            make.policy(book["holder"])
        db.session.expunge_all()  # a cold request, as in production: nothing cached in the session or in g
        with client.application.app_context(), counted() as statements:
            assert client.get(url).status_code == 200
        sizes.append(len(statements))
    assert sizes[0] == sizes[1]


# -- the aggregates behind the pages (reports.services) ---------------------------------------------------

def test_month_start_counts_back_across_years():
    assert services.month_start(date(2026, 1, 31)) == date(2026, 1, 1)
    assert services.month_start(date(2026, 1, 31), 1) == date(2025, 12, 1)
    assert services.month_start(date(2026, 6, 15), 11) == date(2025, 7, 1)
    assert services.month_start(date(2026, 12, 15), -1) == date(2027, 1, 1)


def test_month_bucket_is_the_same_text_on_every_database(session):
    bucket = services.month_bucket(literal(date(2025, 12, 31), Date()))
    assert session.scalar(select(bucket)) == "2025-12"


def test_trend_counts_written_business_only(make):
    admin = make.user(Role.ADMIN)
    june, december = date(2026, 6, 2), date(2025, 12, 30)
    make.policy(effective_date=june, premium=Decimal("10.00"))
    make.policy(effective_date=june, business_type=BusinessType.TRANSFER_IN, premium=Decimal("20.00"))
    make.policy(effective_date=june, status=PolicyStatus.CANCELLED, cooling_off_cancellation=True)
    make.policy(effective_date=june, status=PolicyStatus.QUOTED)
    make.policy(effective_date=december, premium=Decimal("5.00"), frequency=PremiumFrequency.QUARTERLY)
    make.policy(effective_date=date(2025, 6, 30))  # thirteen months ago: outside the trend
    trend = services.monthly_trend(admin, date(2026, 6, 15))
    assert [row["month"] for row in trend][::11] == [date(2025, 7, 1), date(2026, 6, 1)]
    by_month = {row["month"]: (row["new_policies"], row["new_premium"]) for row in trend}
    assert by_month[date(2026, 6, 1)] == (2, Decimal("30.00"))
    assert by_month[date(2025, 12, 1)] == (1, Decimal("20.00"))
    assert sum(count for count, _premium in by_month.values()) == 3


def test_agent_figures_count_only_what_the_user_sees(make, book):
    figures = services.agent_figures(book["manager"], [book["alice"].id, book["bob"].id], date(2026, 6, 15), NOW)
    alice, bob = figures[book["alice"].id], figures[book["bob"].id]
    assert (alice.in_force_policies, alice.in_force_premium, alice.new_policies, alice.lapses) == (
        2, Decimal("1700.00"), 1, 1)
    assert (alice.open_requests, alice.sla_breaches) == (2, 1)
    assert bob == services.AgentFigures()  # outside the manager's branch: nothing counted
