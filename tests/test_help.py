"""The help page explains every figure the pages show, in both languages, to every internal role; each figure
links to its entry, and no page points readers at a developer's file any more."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from insurecrm.help_views import ANCHORS
from insurecrm.models import Role

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = [Role.ADMIN, Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.ACTUARY]


def page(client, language: str = "en") -> str:
    with client.session_transaction() as session:
        session["lang"] = language
    response = client.get("/help")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("role", INTERNAL)
def test_every_internal_role_reads_it_from_the_top_bar(web, make, role):
    client = web(make.user(role))
    html = page(client)
    assert all(f'id="{anchor}"' in html for anchor in ANCHORS)
    assert '<a href="/help" aria-current="page">Help</a>' in html


def test_a_bank_referrer_has_no_figures_to_read_about(web, make):
    client = web(make.user(Role.BANK_REFERRER, referrer_id=make.referrer().id))
    assert client.get("/help").status_code == 403


def test_in_chinese(web, make):
    html = page(web(make.user(Role.AGENT)), "zh")
    assert "数字的计算方法" in html and "续保数 ÷ 到期数" in html and "（未另行配置时为 15%）" in html
    assert "Renewed ÷ due" not in html


def test_every_link_from_a_page_goes_to_an_entry_that_exists():
    templates = [path for path in ROOT.glob("*/templates/**/*.html") if ".venv" not in path.parts]
    # help_link("x"), or url_for("help.index", _anchor="x")
    links = re.compile(r"""help_link\(["']([\w-]+)["']\)|url_for\(["']help[\w.]*["'][^)]*_anchor=["']([\w-]+)["']""")
    linked = {anchor for path in templates for anchor in links.findall(path.read_text()) for anchor in anchor if anchor}
    assert linked and linked <= set(ANCHORS)
    assert [str(path) for path in templates if "docs/metrics.md" in path.read_text()] == []


def test_the_figures_link_to_their_entries(web, make):
    html = web(make.user(Role.ADMIN)).get("/dashboard").get_data(as_text=True)
    assert 'href="/help#in-force"' in html and 'href="/help#lapses"' in html
    assert 'aria-label="How is this computed?"' in html
    board = web(make.user(Role.ADMIN)).get("/renewals/board").get_data(as_text=True)
    assert 'href="/help#renewal-rate"' in board and "docs/metrics.md" not in board


def test_each_scorecard_figure_links_to_its_entry(web, make):
    from agents.models.pipeline import ScorecardMetric

    entries = {f"scorecard-{metric.value.replace('_', '-')}" for metric in ScorecardMetric}
    assert entries | {"scorecard-rank", "scorecard-targets"} <= set(ANCHORS)
    branch = make.org_unit(make.org_unit())
    agent = make.agent(branch)
    manager = web(make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id))
    own = web(make.user(Role.AGENT, agent_id=agent.id)).get("/scorecard").get_data(as_text=True)
    table = manager.get("/scorecards").get_data(as_text=True)
    card = manager.get(f"/scorecards/{agent.id}").get_data(as_text=True)
    for html in (own, table, card):
        assert all(f'href="/help#{anchor}"' in html for anchor in entries), html
        assert 'href="/help#scorecard-rank"' in html
    assert 'href="/help#scorecard-targets"' in card and 'href="/help#scorecard-targets"' in own


def test_the_agendas_link_to_their_entries(web, make):
    branch = make.org_unit(make.org_unit())
    agent = make.agent(branch)
    mine = web(make.user(Role.AGENT, agent_id=agent.id)).get("/agenda").get_data(as_text=True)
    assert 'href="/help#agenda"' in mine
    team = web(make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id)).get("/agenda/team").get_data(as_text=True)
    assert 'href="/help#team-agenda"' in team


def test_the_scorecard_and_agenda_entries_in_both_languages(web, make):
    client = web(make.user(Role.AGENT))
    english = page(client)
    assert "won ÷ (won + lost)" in english and "(1, 2, 2, 4)" in english
    assert "from 30 days ago to a year ahead" in english
    chinese = page(client, "zh")
    assert 'id="scorecard-persistency-13"' in chinese and 'id="team-agenda"' in chinese
