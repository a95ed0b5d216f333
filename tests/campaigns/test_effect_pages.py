"""The campaign effectiveness pages (policyholders/campaigns/effect_views.py), their downloads and the API
(effect_routes.py): the figures of effect.py, in English and Chinese, 404 for a campaign out of scope, 403 for
agents."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook
from pypdf import PdfReader

from insurecrm.labels import label
from policyholders.campaigns.uplift import uplift
from tests.campaigns.test_effect import TOUCH, by_outcome, policy, run_at


@pytest.fixture
def measured(org, book, campaign_of, make, session):
    """A campaign run with a control group (3 of 13), two treated members and one control member converted."""
    campaign = campaign_of(name="Health cross-sell", control_percent=20)
    run = run_at(campaign)
    session.commit()
    groups = by_outcome(session, run)
    policy(make, groups["sent"][0], 3, premium=Decimal("1000.00"))
    policy(make, groups["sent"][1], 4, premium=Decimal("234.50"))
    policy(make, groups["control"][0], 5)
    session.commit()
    return campaign


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def as_language(client, language: str):
    with client.session_transaction() as session:
        session["lang"] = language
    return client


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_pages_show_the_figures_in_both_languages(app, web, org, measured, language):
    client = as_language(web(org.manager), language)
    app.jinja_env.cache.clear()
    page = html(client.get(f"/campaigns/{measured.id}/effect"))
    listing = html(client.get("/campaigns/effect"))
    for text in (page, listing):
        assert "Health cross-sell" in text and "data-chart=" in text
        assert "<script>" not in text  # no inline script: the CSP; charts are JSON drawn by app.js
    with force_locale(language):
        assert label("active", "campaign_status") in listing
    assert "¥1,234.50" in page or "1,234.50" in page  # premium won
    assert 'lang="zh-CN"' in page if language == "zh" else 'lang="en"' in page
    if language == "en":
        assert "20.0% of the members converted, against 33.3% of the control group." in page
        assert "(95% confidence: between −61.4% and 27.9%)" in page.replace("-", "−")
        assert "may be chance" in page  # -13.3 points, between -61.4% and 27.9%: the interval holds zero
    assert f'href="/campaigns/{measured.id}/effect"' in listing


def test_a_campaign_without_a_control_group_says_so(web, org, book, campaign_of, session):
    campaign = campaign_of(control_percent=0)
    run_at(campaign)
    session.commit()
    assert "No control group yet" in html(as_language(web(org.admin), "en").get(f"/campaigns/{campaign.id}/effect"))


def test_the_downloads(web, org, measured):
    client = web(org.manager)
    runs = html(client.get(f"/campaigns/{measured.id}/effect.csv"))
    header, row = runs.lstrip("\ufeff").splitlines()[:2]
    assert header.startswith("Run date,Members,Control group,Reached")
    assert row.startswith(f"{TOUCH.date().isoformat()},13,3,") and ",1234.50," in row
    summary = html(client.get(f"/campaigns/{measured.id}/effect.csv?table=campaign"))
    assert "Health cross-sell" in summary
    assert client.get(f"/campaigns/{measured.id}/effect.csv?table=nothing").status_code == 404
    everything = html(client.get("/campaigns/effect.csv"))
    assert "Health cross-sell" in everything and "0.200000" in everything  # the treated conversion rate
    workbook = load_workbook(io.BytesIO(client.get(f"/campaigns/{measured.id}/effect.xlsx").get_data()))
    assert workbook.sheetnames[1:] == ["Campaign", "Funnel", "Runs"]
    funnel = [cell.value for cell in workbook["Funnel"]["B"]][1:]
    assert funnel[:2] == [13, 3] and 7 <= funnel[2] <= 10 and funnel[3:] == [0, 0, 2]
    for url in (f"/campaigns/{measured.id}/effect.pdf", "/campaigns/effect.pdf"):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.get_data())).pages)
        assert "Health cross-sell" in text
    assert "1,234.50" in text or "1234.50" in text


def test_the_api(api, org, measured):
    body = api(org.manager).get(f"/api/v1/campaigns/{measured.id}/effect").get_json()
    effect = body["effect"]
    assert (effect["members"], effect["control"], effect["converted"], effect["control_converted"]) == (13, 3, 2, 1)
    assert effect["premium_won"] == "1234.50" and effect["treated_rate"] == pytest.approx(0.2)
    found = uplift(2, 10, 1, 3)
    assert (effect["uplift_low"], effect["uplift_high"]) == (pytest.approx(found.low), pytest.approx(found.high))
    assert [run["run_date"] for run in body["runs"]] == [TOUCH.date().isoformat()]


def test_the_scope(web, api, org, measured):
    for url in (f"/campaigns/{measured.id}/effect", f"/campaigns/{measured.id}/effect.csv",
                f"/campaigns/{measured.id}/effect.xlsx", f"/campaigns/{measured.id}/effect.pdf"):
        assert web(org.sibling_manager).get(url).status_code == 404
        assert web(org.agent_user).get(url).status_code == 403
        assert web(org.actuary).get(url).status_code == 200
    assert api(org.sibling_manager).get(f"/api/v1/campaigns/{measured.id}/effect").status_code == 404
    assert api(org.agent_user).get(f"/api/v1/campaigns/{measured.id}/effect").status_code == 403
    assert "Health cross-sell" not in html(web(org.sibling_manager).get("/campaigns/effect"))
    assert web(org.agent_user).get("/campaigns/effect").status_code == 403


def test_a_campaign_not_run_yet_has_no_figures(web, org, book, campaign_of):
    campaign = campaign_of(name="Not yet", start_date=TOUCH.date() + timedelta(days=30))
    page = html(as_language(web(org.manager), "en").get(f"/campaigns/{campaign.id}/effect"))
    assert "Not yet" in page and "No control group yet" in page
    assert re.search(r"Nothing yet", page)
