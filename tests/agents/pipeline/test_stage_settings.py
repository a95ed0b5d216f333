"""The stage settings page (/admin/pipeline-stages): admins see the default pipeline and each product line's in
order, rename, re-weight, limit, reorder and add stages through the same rules as the API (422 messages next to
their fields, nothing written); changing a stage never rewrites history; every other role gets 403."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from agents.models import Opportunity, OpportunityStageChange, OpportunityStatus, PipelineStage
from agents.pipeline.stages import ensure_default_stages
from insurecrm.models import Role
from tests.api_client import csrf_token
from tests.helpers import saved

URL = "/admin/pipeline-stages"


def stage(session, code: str, line: str | None = None) -> PipelineStage:
    same_line = PipelineStage.product_line.is_(None) if line is None else PipelineStage.product_line == line
    return session.scalar(select(PipelineStage).where(PipelineStage.code == code, same_line))


def post(client, url: str, **form):
    return client.post(url, data={"csrf_token": csrf_token(client), **form})


@pytest.fixture
def admin(make, web, session):
    ensure_default_stages(session)
    session.commit()
    return web(make.user(Role.ADMIN))


def test_the_pipelines_in_order(admin, make, session):
    make.stage(code="medical_check", name="Medical check", product_line="life", position=3, max_days=30)
    html = admin.get(URL).get_data(as_text=True)
    default, life = html.index("Default pipeline"), html.index(">Life<")
    assert default < html.index("Initial contact") < html.index("Interest shown") < html.index("Signed") < life
    assert life < html.index("Medical check")
    assert "初次接触" in html and ">5%<" in html


def test_an_admin_edits_a_stage(admin, session):
    presentation = stage(session, "presentation")
    form = {"name": "Product demo", "name_zh": "产品演示", "probability": "65", "position": "6", "max_days": "10",
            "active": "true", "active__present": "1"}
    response = post(admin, f"{URL}/{presentation.id}", **form)
    assert response.status_code == 302
    session.expire_all()
    assert (presentation.name, presentation.name_zh, presentation.probability, presentation.max_days) == (
        "Product demo", "产品演示", Decimal("65"), 10)
    assert "Product demo" in admin.get(URL).get_data(as_text=True)
    # the same again: nothing changed, and the page says so
    post(admin, f"{URL}/{presentation.id}", **form)
    assert "No change" in admin.get(URL).get_data(as_text=True)


def test_refused_changes_show_their_messages_and_write_nothing(admin, session):
    signed, presentation = stage(session, "signed"), stage(session, "presentation")
    response = post(admin, f"{URL}/{signed.id}", name="Done", probability="90", position="10",
                    active="true", active__present="1")
    assert response.status_code == 422
    assert "A won stage has a probability of 100." in response.get_data(as_text=True)
    response = post(admin, f"{URL}/{presentation.id}", name="", probability="120", position="6", max_days="0")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.count('class="field-error"') == 3 and 'id="f-max_days-error"' in html
    session.expire_all()
    assert (signed.name, signed.probability) == ("Signed", Decimal("100"))
    assert (presentation.name, presentation.probability, presentation.max_days) == ("Presentation", Decimal("60"), 14)


def test_an_admin_adds_a_stage_to_a_product_lines_pipeline(admin, session):
    new = {"product_line": "life", "code": "medical_check", "name": "Medical check", "probability": "45",
           "position": "5", "max_days": "30", "active": "true", "active__present": "1", "is_won__present": "1",
           "is_lost__present": "1"}
    assert post(admin, URL, **new).status_code == 302
    added = stage(session, "medical_check", "life")
    assert (added.name, added.probability, added.max_days, added.is_won) == ("Medical check", Decimal("45"), 30, False)
    before = session.scalar(select(func.count()).select_from(PipelineStage))
    # the same code in the same pipeline, and a won stage below 100%
    for form, field in (({**new}, "code"), ({**new, "code": "won_again", "is_won": "true"}, "probability")):
        response = post(admin, URL, **form)
        assert response.status_code == 422
        assert f'id="f-{field}-error"' in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(PipelineStage)) == before


def test_reordering_swaps_a_stage_with_its_neighbour(admin, session):
    interest, met = stage(session, "interest_shown"), stage(session, "met_decision_maker")
    assert post(admin, f"{URL}/{met.id}/move", direction="up").status_code == 302
    session.expire_all()
    assert (interest.position, met.position) == (3, 2)
    assert post(admin, f"{URL}/{met.id}/move", direction="sideways").status_code == 422
    session.expire_all()
    assert (interest.position, met.position) == (3, 2)


def test_changing_a_stage_never_rewrites_history(admin, make, session):
    presentation, signed = stage(session, "presentation"), stage(session, "signed")
    unit = make.org_unit()
    agent = make.agent(unit)
    at = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    won = saved(make, Opportunity(title="Won", owner_agent_id=agent.id, org_unit_id=unit.id, stage_id=signed.id,
                                  stage_entered_at=at, probability=Decimal("100"), status=OpportunityStatus.WON,
                                  closed_at=at))
    # closed while the presentation stage weighed 60%, and one still open in it
    lost = saved(make, Opportunity(title="Lost", owner_agent_id=agent.id, org_unit_id=unit.id,
                                   stage_id=presentation.id, stage_entered_at=at, probability=Decimal("60"),
                                   status=OpportunityStatus.LOST, closed_at=at))
    open_deal = saved(make, Opportunity(title="Open", owner_agent_id=agent.id, org_unit_id=unit.id,
                                        stage_id=presentation.id, stage_entered_at=at, probability=Decimal("60")))
    for deal in (won, lost, open_deal):
        session.add(OpportunityStageChange(opportunity_id=deal.id, to_stage_id=presentation.id, changed_at=at))
    session.commit()
    changes = select(OpportunityStageChange.opportunity_id, OpportunityStageChange.to_stage_id,
                     OpportunityStageChange.changed_at).order_by(OpportunityStageChange.id)
    history = session.execute(changes).all()
    assert len(history) == 3
    post(admin, f"{URL}/{presentation.id}", name="Demo", probability="75", position="6", active="true",
         active__present="1")
    session.expire_all()
    assert presentation.probability == Decimal("75")
    assert [deal.probability for deal in (won, lost, open_deal)] == [Decimal("100"), Decimal("60"), Decimal("60")]
    assert session.execute(changes).all() == history


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.ACTUARY,
                                  Role.BANK_REFERRER])
def test_only_admins(make, web, session, role):
    ensure_default_stages(session)
    session.commit()
    presentation = stage(session, "presentation")
    client = web(make.user(role))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}/{presentation.id}").status_code == 403
    assert post(client, f"{URL}/{presentation.id}", name="Changed", probability="1", position="1").status_code == 403
    assert post(client, f"{URL}/{presentation.id}/move", direction="up").status_code == 403
    session.expire_all()
    assert (presentation.name, presentation.position) == ("Presentation", 6)


def test_the_admin_index_links_to_the_page(admin):
    assert f'href="{URL}"' in admin.get("/admin").get_data(as_text=True)
