"""Pipeline stages: the SPEC §4 defaults, and admins renaming and re-weighting them per product line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from agents.models import PipelineStage
from agents.pipeline.stages import DEFAULT_STAGES, ensure_default_stages
from insurecrm.models import Role


def test_default_stages_are_the_spec_table_inserted_once(session):
    assert ensure_default_stages(session) == 11
    assert ensure_default_stages(session) == 0
    stages = session.scalars(select(PipelineStage).order_by(PipelineStage.position)).all()
    assert [(s.name_zh, s.probability) for s in stages[:3]] == [
        ("初次接触", Decimal("5")), ("表示兴趣", Decimal("15")), ("会见项目决策者", Decimal("30"))]
    assert [s.probability for s in stages] == [Decimal(p) for p in (5, 15, 30, 40, 50, 60, 70, 80, 90, 100, 0)]
    signed, lost = stages[-2], stages[-1]
    assert (signed.code, signed.is_won, signed.is_lost, signed.max_days) == ("signed", True, False, None)
    assert (lost.code, lost.is_won, lost.is_lost) == ("lost", False, True)
    assert all(s.max_days for s in stages[:-2]) and all(s.product_line is None for s in stages)
    assert len({s["code"] for s in DEFAULT_STAGES}) == len(DEFAULT_STAGES)


def test_existing_stages_are_never_replaced(session, make):
    make.stage(code="custom")
    assert ensure_default_stages(session) == 0


def test_everyone_internal_lists_the_stages_in_order(api, make, session):
    ensure_default_stages(session)
    make.stage(code="initial_contact", product_line="life", position=1)
    agent = api(make.user(Role.AGENT, agent_id=make.agent().id))
    default = agent.get("/api/v1/pipeline-stages?product_line=default").json
    assert default["meta"]["total"] == 11
    assert default["items"][0]["code"] == "initial_contact" and default["items"][0]["probability"] == "5.0000"
    life = agent.get("/api/v1/pipeline-stages?product_line=life").json
    assert [(item["code"], item["product_line"]) for item in life["items"]] == [("initial_contact", "life")]
    assert agent.get("/api/v1/pipeline-stages?product_line=spaceships").status_code == 422
    referrer = api(make.user(Role.BANK_REFERRER, referrer_id=make.referrer().id))
    assert referrer.get("/api/v1/pipeline-stages").status_code == 403


def test_admin_renames_and_reweights_a_stage(api, make, session):
    ensure_default_stages(session)
    stage = session.scalar(select(PipelineStage).where(PipelineStage.code == "presentation"))
    admin = api(make.user(Role.ADMIN))
    response = admin.patch(f"/api/v1/pipeline-stages/{stage.id}", json={"name": "Product demo", "name_zh": "产品演示",
                                                                        "probability": "65", "max_days": 10})
    assert response.status_code == 200, response.json
    assert (response.json["name"], response.json["probability"], response.json["max_days"]) == (
        "Product demo", "65.0000", 10)


def test_bad_stage_changes_are_refused_and_nothing_is_written(api, make, session):
    ensure_default_stages(session)
    stage = session.scalar(select(PipelineStage).where(PipelineStage.code == "presentation"))
    signed = session.scalar(select(PipelineStage).where(PipelineStage.code == "signed"))
    admin = api(make.user(Role.ADMIN))
    response = admin.patch(f"/api/v1/pipeline-stages/{stage.id}", json={"probability": "120", "max_days": 0,
                                                                        "code": "renamed"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"probability", "max_days", "code"}
    response = admin.patch(f"/api/v1/pipeline-stages/{signed.id}", json={"probability": "90", "name": "Done"})
    assert set(response.json["errors"]) == {"probability"}
    session.expire_all()
    assert (session.get(PipelineStage, stage.id).probability, session.get(PipelineStage, signed.id).name) == (
        Decimal("60"), "Signed")


def test_admin_adds_stages_per_product_line(api, make, session, count):
    ensure_default_stages(session)
    admin = api(make.user(Role.ADMIN))
    stage = {"code": "medical_check", "name": "Medical check", "position": 5, "probability": "45",
             "product_line": "life", "max_days": 30}
    response = admin.post("/api/v1/pipeline-stages", json=stage)
    assert response.status_code == 201, response.json
    assert response.json["product_line"] == "life"
    same_code_other_line = admin.post("/api/v1/pipeline-stages", json={**stage, "code": "presentation"})
    assert same_code_other_line.status_code == 201
    before = count(PipelineStage)
    for body, fields in (
        ({**stage}, {"code"}),
        ({**stage, "code": "presentation", "product_line": None}, {"code"}),
        ({**stage, "code": "won_again", "is_won": True}, {"probability"}),
        ({**stage, "code": "both", "is_won": True, "is_lost": True, "probability": "100"}, {"is_lost"}),
        ({"code": "Bad Code", "position": -1, "probability": "x", "product_line": "boats"},
         {"code", "name", "position", "probability", "product_line"}),
    ):
        response = admin.post("/api/v1/pipeline-stages", json=body)
        assert response.status_code == 422, body
        assert set(response.json["errors"]) == fields
    assert count(PipelineStage) == before


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST, Role.ACTUARY])
def test_only_admins_change_stages(api, make, session, count, role):
    stage = make.stage(name="Kept")
    client = api(make.user(role))
    assert client.patch(f"/api/v1/pipeline-stages/{stage.id}", json={"name": "Changed"}).status_code == 403
    body = {"code": "new_stage", "name": "New", "position": 3, "probability": "10"}
    assert client.post("/api/v1/pipeline-stages", json=body).status_code == 403
    assert count(PipelineStage) == 1
    session.expire_all()
    assert session.get(PipelineStage, stage.id).name == "Kept"
