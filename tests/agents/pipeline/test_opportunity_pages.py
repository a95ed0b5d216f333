"""The opportunities' pages: list with filters and downloads, board, detail, forms, and the admins' loss reasons."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from agents.models import (
    Competitor,
    Influencer,
    Opportunity,
    OpportunityLossReason,
    OpportunityStageChange,
    OpportunityStatus,
    ReferralStatus,
)
from agents.pipeline import opportunities as svc
from insurecrm.models import Role
from policies.models import Policy, SalesChannel
from tests.agents.pipeline.test_opportunities import book  # noqa: F401 - the fixture
from tests.api_client import csrf_token


@pytest.fixture
def agent_web(web, book):  # noqa: F811
    return web(book.agent_user)


def _opportunity(book, **kw):  # noqa: F811
    data = {"title": "Family health", "policyholder_id": book.holder.id, "expected_premium": Decimal("3600.00"),
            "expected_close_date": date(2026, 12, 20)} | kw
    opportunity = svc.create_opportunity(data, actor=book.agent_user)
    from insurecrm.db import db

    db.session.commit()
    return opportunity


def test_list_filters_by_close_month_and_downloads_the_same_rows(agent_web, book):  # noqa: F811
    december = _opportunity(book, title="December deal")
    _opportunity(book, title="January deal", expected_close_date=date(2027, 1, 15))
    page = agent_web.get("/opportunities?close_month=2026-12").get_data(as_text=True)
    assert "December deal" in page and "January deal" not in page
    assert f'data-opportunity="{december.id}"' in page
    response = agent_web.get("/opportunities/export.csv?close_month=2026-12")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Id", "Title", "Customer"]
    assert [row[1] for row in rows[1:]] == ["December deal"]
    # 3,600.00 at 5%: weighted 180.00
    assert rows[1][5:7] == ["3600.00", "180.00"]
    xlsx = agent_web.get("/opportunities/export.xlsx?close_month=2026-12")
    data = xlsx.data
    xlsx.close()
    sheet = load_workbook(io.BytesIO(data)).worksheets[1]
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][1] == "December deal" and values[1][5] == 3600 and values[1][7].date() == date(2026, 12, 20)


def test_a_bad_filter_is_a_422_page_not_a_500(agent_web):
    assert agent_web.get("/opportunities?close_month=2026-13").status_code == 422
    assert agent_web.get("/opportunities?sort=nope").status_code == 422


def test_board_moves_a_card_with_its_form(agent_web, book, session):  # noqa: F811
    opportunity = _opportunity(book)
    page = agent_web.get("/opportunities/board").get_data(as_text=True)
    assert f'data-opportunity="{opportunity.id}"' in page
    response = agent_web.post(f"/opportunities/{opportunity.id}/move",
                              data={"csrf_token": csrf_token(agent_web), "stage_id": book.stages["verbal_yes"].id,
                                    "next": "board"})
    assert response.status_code == 302 and response.location.endswith("/opportunities/board")
    session.expire_all()
    assert session.get(Opportunity, opportunity.id).probability == Decimal("80")


def test_move_to_the_won_stage_is_refused_on_the_page(agent_web, book, session):  # noqa: F811
    opportunity = _opportunity(book)
    response = agent_web.post(f"/opportunities/{opportunity.id}/move",
                              data={"csrf_token": csrf_token(agent_web), "stage_id": book.stages["signed"].id})
    assert response.status_code == 422
    assert "Win or lose the opportunity instead" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(OpportunityStageChange)
                          .where(OpportunityStageChange.opportunity_id == opportunity.id)) == 1


def test_detail_warns_about_the_economic_buyer_and_compares_competitors(agent_web, book, session):  # noqa: F811
    opportunity = _opportunity(book)
    url = f"/opportunities/{opportunity.id}"
    assert 'data-warning="no_economic_buyer"' in agent_web.get(url).get_data(as_text=True)
    token = csrf_token(agent_web)
    agent_web.post(f"{url}/influencers", data={"csrf_token": token, "name": "Mr Zhao", "role": "economic_buyer",
                                               "attitude": "opponent"})
    page = agent_web.get(url).get_data(as_text=True)
    assert 'data-warning="economic_buyer_opposed"' in page and 'data-warning="no_economic_buyer"' not in page
    influencer = session.scalar(select(Influencer).where(Influencer.opportunity_id == opportunity.id))
    agent_web.post(f"{url}/influencers/{influencer.id}", data={"csrf_token": token, "attitude": "supporter"})
    assert "data-warning" not in agent_web.get(url).get_data(as_text=True)
    response = agent_web.post(f"{url}/competitors", data={
        "csrf_token": token, "name": "Rival Life", "strengths": "Cheap", "brand_score": "2", "price_score": "-1"})
    assert response.status_code == 302
    competitor = session.scalar(select(Competitor).where(Competitor.opportunity_id == opportunity.id))
    page = agent_web.get(url).get_data(as_text=True)
    assert f'data-score="{competitor.id}-brand_score">+2<' in page
    assert f'data-score="{competitor.id}-price_score">-1<' in page
    refused = agent_web.post(f"{url}/competitors", data={"csrf_token": token, "name": "X", "brand_score": "3"})
    assert refused.status_code == 422 and "A score from -2" in refused.get_data(as_text=True)
    agent_web.post(f"{url}/competitors/{competitor.id}", data={"csrf_token": token, "remove": "1"})
    assert session.scalar(select(func.count()).select_from(Competitor)) == 0


def test_new_from_a_referral_offers_the_person_on_file_and_wins_into_an_attributed_policy(web, book, session, make):  # noqa: F811
    holder = make.policyholder(owner=book.specialist, phone="+8613900001111", name="Wang Fang on file")
    client = web(book.specialist_user)
    form = client.get(f"/opportunities/new?referral_id={book.referral.id}").get_data(as_text=True)
    assert "Wang Fang on file" in form and f'value="{holder.id}" style="width:auto" checked' in form
    token = csrf_token(client)
    response = client.post(f"/opportunities/new?referral_id={book.referral.id}", data={
        "csrf_token": token, "referral_id": book.referral.id, "policyholder_id": holder.id, "title": "Referral deal",
        "product_ids": [book.product.id], "expected_premium": "1500", "source": "referral", "team-present": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    opportunity = session.scalar(select(Opportunity).where(Opportunity.referral_id == book.referral.id))
    assert opportunity.policyholder_id == holder.id and book.referral.status == ReferralStatus.ACCEPTED
    response = client.post(f"/opportunities/{opportunity.id}/win", data={
        "csrf_token": token, "product_id": book.product.id, "sum_insured": "100000", "premium": "1500",
        "frequency": "annual", "effective_date": date.today().isoformat()})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.expire_all()
    policy = session.get(Policy, session.get(Opportunity, opportunity.id).policy_id)
    assert (policy.channel, policy.bank_branch_id, policy.referrer_id) == (
        SalesChannel.BANCASSURANCE, book.branch.id, book.referrer.id)


def test_a_refused_form_writes_nothing_and_shows_its_messages(agent_web, book, count):  # noqa: F811
    before = count(Opportunity)
    response = agent_web.post("/opportunities/new", data={
        "csrf_token": csrf_token(agent_web), "title": "", "expected_premium": "-5", "team-present": "1",
        "team-0-agent_id": "999999", "team-0-role": "member"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'id="o-expected_premium-error"' in text and 'id="o-title-error"' in text
    response = agent_web.post("/opportunities/new", data={
        "csrf_token": csrf_token(agent_web), "title": "Team", "prospect_name": "Li", "team-present": "1",
        "team-0-agent_id": "999999", "team-0-role": "member"})
    assert response.status_code == 422 and "No such active agent: 999999." in response.get_data(as_text=True)
    assert count(Opportunity) == before


def test_edit_changes_the_team_and_products(agent_web, book, session):  # noqa: F811
    opportunity = _opportunity(book)
    assert agent_web.get(f"/opportunities/{opportunity.id}/edit").status_code == 200
    response = agent_web.post(f"/opportunities/{opportunity.id}/edit", data={
        "csrf_token": csrf_token(agent_web), "version": opportunity.version, "title": "Renamed",
        "product_ids": [book.product.id], "team-present": "1", "team-0-agent_id": book.specialist.id,
        "team-0-role": "technical", "is_group_deal": "true", "is_group_deal__present": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.expire_all()
    changed = session.get(Opportunity, opportunity.id)
    assert changed.title == "Renamed" and changed.is_group_deal
    assert sorted((m.agent_id, m.role) for m in changed.team) == sorted(
        [(book.agent.id, "lead"), (book.specialist.id, "technical")])
    assert [p.product_id for p in changed.products] == [book.product.id]


def test_lose_on_the_page_with_a_reason(agent_web, book, session):  # noqa: F811
    opportunity = _opportunity(book)
    reason = session.scalar(select(OpportunityLossReason).where(OpportunityLossReason.code == "competitor"))
    response = agent_web.post(f"/opportunities/{opportunity.id}/lose",
                              data={"csrf_token": csrf_token(agent_web), "reason_id": reason.id, "note": "Rival"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Opportunity, opportunity.id).status == OpportunityStatus.LOST


def test_admins_keep_the_loss_reasons(web, make, session, book):  # noqa: F811
    admin = web(make.user(Role.ADMIN))
    token = csrf_token(admin)
    assert admin.post("/admin/loss-reasons", data={"csrf_token": token, "code": "Bad Code", "name": "x"}
                      ).status_code == 422
    assert admin.post("/admin/loss-reasons", data={"csrf_token": token, "code": "underinsured",
                                                   "name": "Underinsured"}).status_code == 302
    added = session.scalar(select(OpportunityLossReason).where(OpportunityLossReason.code == "underinsured"))
    assert added.position == 7
    admin.post("/admin/loss-reasons", data={"csrf_token": token, "reason_id": added.id, "name": "Under-insured",
                                            "name_zh": "保额不足"})
    admin.post("/admin/loss-reasons", data={"csrf_token": token, "reason_id": added.id, "active": "false"})
    session.expire_all()
    assert (added.name, added.name_zh, added.active) == ("Under-insured", "保额不足", False)
    assert 'data-reason="underinsured"' in admin.get("/admin/loss-reasons").get_data(as_text=True)
    assert web(book.agent_user).get("/admin/loss-reasons").status_code == 403


def test_my_day_shows_the_pipeline_to_move_and_overdue_activities_linked_to_their_opportunity(web, book, session):  # noqa: F811
    from datetime import UTC, datetime, timedelta

    from agents.models import Activity, ActivityKind
    from insurecrm import clock

    now = datetime(2026, 12, 9, 4, tzinfo=UTC)  # Wednesday 9 December in Shanghai; the week ends on the 13th
    with clock.frozen(now):
        closing = _opportunity(book, title="Closing Sunday", expected_close_date=date(2026, 12, 13))
        later = _opportunity(book, title="Closing next week", expected_close_date=date(2026, 12, 14))
        stale = _opportunity(book, title="Stuck deal", expected_close_date=date(2027, 3, 1))
        stale.stage_entered_at = now - timedelta(days=15)  # initial contact allows 14 days
        session.add(Activity(agent_id=book.agent.id, org_unit_id=book.agent.org_unit_id, kind=ActivityKind.VISIT,
                             subject="Visit about the deal", planned_start=now - timedelta(days=2),
                             opportunity_id=later.id))
        session.commit()
        page = web(book.agent_user).get("/my-day").get_data(as_text=True)
    pipeline = page[page.index('id="pipeline"'):page.index('id="pipeline-stale"')]
    assert f'data-opportunity="{closing.id}"' in pipeline and f'data-opportunity="{later.id}"' not in pipeline
    stuck = page[page.index('id="pipeline-stale"'):page.index('id="renewals"')]
    assert f'data-opportunity="{stale.id}"' in stuck and f'data-opportunity="{closing.id}"' not in stuck
    overdue = page[page.index('id="overdue"'):]
    assert f'href="/opportunities/{later.id}"' in overdue[:overdue.index("</section>")]


def test_a_prospect_on_file_is_offered_before_a_second_record_is_created(agent_web, book, session, count):  # noqa: F811
    from policyholders.models import Policyholder

    opportunity = svc.create_opportunity({"title": "Prospect", "prospect_name": "Zhou Min",
                                          "prospect_phone": "+8613900002222"}, actor=book.agent_user)
    session.commit()
    url = f"/opportunities/{opportunity.id}/policyholder"
    holders = count(Policyholder)
    warned = agent_web.post(url, data={"csrf_token": csrf_token(agent_web), "name": "Zhou Min",
                                       "phone": "+8613900002222"})
    assert warned.status_code == 200 and "This person may already be on file" in warned.get_data(as_text=True)
    assert count(Policyholder) == holders
    linked = agent_web.post(url, data={"csrf_token": csrf_token(agent_web), "policyholder_id": book.holder.id})
    assert linked.status_code == 302
    session.expire_all()
    assert session.get(Opportunity, opportunity.id).policyholder_id == book.holder.id
    assert count(Policyholder) == holders
