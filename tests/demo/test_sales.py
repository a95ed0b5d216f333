"""The demo book's pipeline and contacts: every stage populated, histories consistent, every channel used."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from agents.models import (
    Activity,
    Competitor,
    Influencer,
    Opportunity,
    OpportunityProduct,
    OpportunityStageChange,
    PipelineStage,
)
from policyholders.models import Interaction, InteractionChannel, ServiceRequest
from tests.demo.conftest import TODAY


def test_every_pipeline_stage_has_opportunities(book, session):
    stages = session.scalars(select(PipelineStage)).all()
    assert len(stages) == 11
    used = {stage_id for (stage_id,) in session.execute(select(Opportunity.stage_id))}
    assert used == {s.id for s in stages}


def test_opportunities_carry_their_stage_history(book, session):
    stages = {s.id: s for s in session.scalars(select(PipelineStage))}
    history = defaultdict(list)
    for change in session.scalars(select(OpportunityStageChange).order_by(OpportunityStageChange.id)):
        history[change.opportunity_id].append(change)
    for opportunity in session.scalars(select(Opportunity)):
        changes = history[opportunity.id]
        assert changes[0].from_stage_id is None and stages[changes[0].to_stage_id].position == 1
        assert all(b.from_stage_id == a.to_stage_id and b.changed_at >= a.changed_at
                   for a, b in zip(changes, changes[1:], strict=False))
        assert changes[-1].to_stage_id == opportunity.stage_id
        assert opportunity.stage_entered_at == changes[-1].changed_at
        stage = stages[opportunity.stage_id]
        assert opportunity.probability == stage.probability
        status = "won" if stage.is_won else "lost" if stage.is_lost else "open"
        assert opportunity.status.value == status
        assert (opportunity.closed_at is not None) == (status != "open")
        assert (opportunity.won_lost_reason is not None) == (status != "open")


def test_opportunities_have_products_influencers_and_competitors(book, session):
    opportunities = {o for (o,) in session.execute(select(Opportunity.id))}
    with_products = {o for (o,) in session.execute(select(OpportunityProduct.opportunity_id))}
    assert with_products == opportunities
    roles = {i.role.value for i in session.scalars(select(Influencer))}
    assert roles == {"coach", "user", "technical_buyer", "economic_buyer"}
    competitors = session.scalars(select(Competitor)).all()
    assert competitors and all(c.strengths and c.weaknesses and c.opportunities and c.threats for c in competitors)
    assert all(-2 <= c.price_score <= 2 for c in competitors)


def test_activities_planned_and_done(book, session):
    activities = session.scalars(select(Activity)).all()
    done = [a for a in activities if a.status.value == "done"]
    planned = [a for a in activities if a.status.value == "planned"]
    assert done and planned
    assert all(a.actual_start and a.actual_start.date() < TODAY for a in done)
    assert any(a.planned_start.date() > TODAY for a in planned)
    assert any(a.kind.value == "callback" and a.policy_id for a in activities)


def test_interactions_on_every_channel_service_requests_and_complaints(book, session):
    interactions = session.scalars(select(Interaction)).all()
    assert {i.channel for i in interactions} == set(InteractionChannel)
    assert all(i.occurred_at.date() < TODAY for i in interactions)
    requests = session.scalars(select(ServiceRequest)).all()
    assert {r.kind.value for r in requests} == {"service", "complaint"}
    resolved = [r for r in requests if r.status.value in ("resolved", "closed")]
    assert resolved and all(r.resolved_at and r.resolution for r in resolved)
    assert any(r.cost > 0 for r in resolved)
    assert any(r.status.value in ("open", "in_progress") and r.due_at.date() < TODAY for r in requests)
