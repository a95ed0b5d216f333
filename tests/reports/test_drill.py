"""A bar of a report grouped by branch, channel or product opens the same report narrowed to that group and broken
down one level finer (the filters on the page kept); a bar of an agent opens the agent's page."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role
from policies.models import Installment, InstallmentStatus
from policyholders.models import Gender, IncomeBand

pytestmark = pytest.mark.usefixtures("december")


@pytest.fixture
def book(make):
    branch = make.org_unit(name="Branch A")
    alice = make.agent(branch, name="Alice")
    holder = make.policyholder(owner=alice)
    policy = make.policy(holder, effective_date=date(2024, 1, 1), expiry_date=date(2030, 1, 1),
                         premium=Decimal("1200.00"))
    # the installment of 2026, paid: premium earned in the default period
    db.session.add(Installment(policy_id=policy.id, sequence=3, due_date=date(2026, 1, 1), amount=Decimal("1200.00"),
                               paid_amount=Decimal("1200.00"), paid_date=date(2026, 1, 1),
                               status=InstallmentStatus.PAID))
    db.session.commit()
    return {"branch": branch, "alice": alice}


def links(html: str, chart: str) -> list[str]:
    figure = json.loads(re.search(rf'data-chart="chart-{chart}">(.*?)</script>', html, re.S).group(1))
    return figure["data"][0]["customdata"]


def test_a_branch_opens_its_agents_with_the_filters_kept(web, make, book):
    client = web(make.user(Role.ADMIN))
    html = client.get("/reports/loss-ratio?group_by=branch&channel=agency").get_data(as_text=True)
    (link,) = links(html, "loss_ratio")
    url = urlsplit(link)
    assert url.path == "/reports/loss-ratio"
    assert parse_qs(url.query) == {"group_by": ["agent"], "org_unit_id": [str(book["branch"].id)],
                                   "channel": ["agency"]}
    page = client.get(link).get_data(as_text=True)
    assert f'href="/dashboard/agents/{book["alice"].id}"' in page  # the agent's row leads to the agent's page
    assert links(page, "loss_ratio") == [f"/dashboard/agents/{book['alice'].id}"]


def test_a_product_opens_its_agents_in_persistency(web, make, book):
    html = web(make.user(Role.ADMIN)).get("/reports/persistency?group_by=product").get_data(as_text=True)
    (link,) = links(html, "persistency")
    assert "product_id=" in link and "group_by=agent" in link


def test_a_policyholder_bar_opens_the_policyholders_page(web, make, book):
    html = web(make.user(Role.ADMIN)).get("/reports/contribution").get_data(as_text=True)
    (link,) = links(html, "top")
    assert re.fullmatch(r"/policyholders/\d+", link)
    assert f'<a href="{link}">' in html  # the table's row too


def test_a_churn_reason_lists_the_policyholders_with_it(web, make, book):
    from reports.models import ChurnReason, ChurnScore

    holder = make.policyholder(owner=book["alice"], name="Wary Holder")
    db.session.add_all([ChurnScore(policyholder_id=holder.id, scored_on=date(2026, 12, 5), score=20),
                        ChurnReason(policyholder_id=holder.id, code="complaint", weight=20, record_id=1)])
    db.session.commit()
    client = web(make.user(Role.ADMIN))
    (link,) = links(client.get("/reports/churn?min_score=5").get_data(as_text=True), "by_reason")
    assert parse_qs(urlsplit(link).query) == {"reason": ["complaint"], "min_score": ["5"]}
    listed = client.get(link).get_data(as_text=True)
    assert "Wary Holder" in listed
    # the reason links to the record behind it (here the complaint, a service request)
    assert '<a href="/service-requests/1">Complaint in the last 90 days</a>' in listed


def test_a_region_opens_its_policyholders_and_a_channel_its_bank_partners(web, make, book):
    client = web(make.user(Role.ADMIN))
    make.policyholder(owner=book["alice"], region="Hangzhou")
    holder = make.policyholder(owner=book["alice"], region="Suzhou")
    make.policy(holder, effective_date=date(2025, 1, 1), expiry_date=date(2028, 1, 1))
    db.session.commit()
    html = client.get("/reports/breakdowns?by=region").get_data(as_text=True)
    assert "/policyholders?region=Suzhou" in links(html, "premium")
    (channel_link,) = links(client.get("/reports/channels").get_data(as_text=True), "money")
    assert parse_qs(urlsplit(channel_link).query) == {"channel": ["agency"], "group_by": ["bank_partner"]}


def test_every_trait_of_the_breakdowns_opens_the_policyholders_with_it(web, make, book):
    client = web(make.user(Role.ADMIN))
    holder = make.policyholder(owner=book["alice"], region="Suzhou", gender=Gender.FEMALE, occupation="Nurse",
                               income_band=IncomeBand.HIGH)
    make.policy(holder, effective_date=date(2025, 1, 1), expiry_date=date(2028, 1, 1))
    db.session.commit()
    for by, value in (("gender", "female"), ("occupation", "Nurse"), ("income_band", "high")):
        html = client.get(f"/reports/breakdowns?by={by}").get_data(as_text=True)
        assert f"/policyholders?{by}={value}" in links(html, "premium")
        assert f'<a href="/policyholders?{by}={value}">' in html  # the table's row too
        listed = client.get(f"/policyholders?{by}={value}").get_data(as_text=True)
        assert f"/policyholders/{holder.id}" in listed
    # two traits crossed: both filters; the group without a value ("—", the first holder's gender) opens nothing
    html = client.get("/reports/breakdowns?by=region&then_by=gender").get_data(as_text=True)
    assert '<a href="/policyholders?region=Suzhou&amp;gender=female">' in html
    assert html.count('<a href="/policyholders?') == 1


def test_a_band_of_loyalty_opens_the_policyholders_scoring_in_it(web, make, book):
    client = web(make.user(Role.ADMIN))
    html = client.get("/reports/loyalty").get_data(as_text=True)
    band_links = links(html, "bands")
    assert [parse_qs(urlsplit(link).query)["band"] for link in band_links] == [
        ["0-19"], ["20-39"], ["40-59"], ["60-79"], ["80-100"]]
    figure = json.loads(re.search(r'data-chart="chart-bands">(.*?)</script>', html, re.S).group(1))
    counts = figure["data"][0]["y"]
    assert sorted(counts) == [0, 0, 0, 0, 1]  # the book's one policyholder, in one band
    holder_link = re.compile(r'<a href="/policyholders/\d+">')
    for link, count in zip(band_links, counts, strict=True):
        listed = client.get(link).get_data(as_text=True)
        assert len(holder_link.findall(listed)) == count
    assert client.get("/reports/loyalty?band=20-38").status_code == 422


def test_an_agent_sees_the_rows_of_agents_without_links_to_the_dashboard_they_may_not_open(web, make, book):
    from agents.models import Opportunity

    stage = make.stage()
    db.session.add(Opportunity(title="Deal", owner_agent_id=book["alice"].id, org_unit_id=book["branch"].id,
                               stage_id=stage.id, probability=stage.probability, expected_premium=Decimal("100.00"),
                               created_at=clock.now()))
    db.session.commit()
    agent_user = make.user(Role.AGENT, agent_id=book["alice"].id)
    page = web(agent_user).get(f"/reports/sales?group_by=agent&period=month&day={clock.today()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Alice" in html and "/dashboard/agents/" not in html
    assert web(agent_user).get(f"/dashboard/agents/{book['alice'].id}").status_code == 403
    manager = web(make.user(Role.BRANCH_MANAGER, org_unit_id=book["branch"].id))
    html = manager.get(f"/reports/sales?group_by=agent&period=month&day={clock.today()}").get_data(as_text=True)
    assert f'href="/dashboard/agents/{book["alice"].id}"' in html
