"""Pipeline stages (销售机会阶段): the default stages of SPEC §4 and the rules for changing them."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import ValidationError
from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from agents.models import PipelineStage
from insurecrm.db import db

WON_PROBABILITY = Decimal("100")
LOST_PROBABILITY = Decimal("0")

# (code, name, 中文名, probability in per cent, max days in the stage before the opportunity is stale)
_TABLE: tuple[tuple[str, str, str, int, int | None], ...] = (
    ("initial_contact", "Initial contact", "初次接触", 5, 14),
    ("interest_shown", "Interest shown", "表示兴趣", 15, 21),
    ("met_decision_maker", "Met the decision maker", "会见项目决策者", 30, 21),
    ("needs_identified", "Needs identified", "导出需求", 40, 21),
    ("proposal_submitted", "Proposal submitted", "提交解决方案", 50, 14),
    ("presentation", "Presentation", "演示", 60, 14),
    ("proposal_revised", "Proposal revised after evaluation", "评价、修改方案", 70, 21),
    ("verbal_yes", "Verbal yes", "客户口头答应", 80, 14),
    ("contract_negotiation", "Contract negotiation", "合同谈判", 90, 30),
    ("signed", "Signed", "签订合同", 100, None),
    ("lost", "Lost", "丢单", 0, None),
)

#: The default pipeline (``product_line`` None), in order; the last two close an opportunity.
DEFAULT_STAGES: tuple[dict, ...] = tuple(
    {"code": code, "name": name, "name_zh": name_zh, "probability": Decimal(probability), "position": position,
     "max_days": max_days, "is_won": code == "signed", "is_lost": code == "lost", "product_line": None,
     "active": True}
    for position, (code, name, name_zh, probability, max_days) in enumerate(_TABLE, start=1)
)


def ensure_default_stages(session: Session) -> int:
    """Insert :data:`DEFAULT_STAGES` when no stage exists yet; returns how many rows were inserted.

    Safe to call on every start, migration or demo load: an existing (perhaps renamed) pipeline is
    never touched.
    """
    if session.scalar(select(PipelineStage.id).limit(1)) is not None:
        return 0
    session.execute(insert(PipelineStage), [dict(stage) for stage in DEFAULT_STAGES])
    return len(DEFAULT_STAGES)


def create_stage(data: dict) -> PipelineStage:
    """Add a stage to the default pipeline or to a product line's; refuses a code already used in that
    pipeline, or a won/lost stage whose probability is not 100/0 (422)."""
    errors = _probability_errors(data.get("is_won", False), data.get("is_lost", False), data["probability"])
    same_pipeline = (
        PipelineStage.product_line.is_(None) if data.get("product_line") is None
        else PipelineStage.product_line == data["product_line"]
    )
    if db.session.scalar(select(exists().where(PipelineStage.code == data["code"], same_pipeline))):
        errors["code"] = [f"The pipeline already has a stage {data['code']}."]
    if errors:
        raise ValidationError(errors)
    stage = PipelineStage(**data)
    db.session.add(stage)
    db.session.flush()
    return stage


def update_stage(stage: PipelineStage, data: dict) -> PipelineStage:
    """Rename a stage or change its probability, position, limit in days or activity; a won stage keeps
    100% and a lost stage 0% (422)."""
    errors = _probability_errors(stage.is_won, stage.is_lost, data.get("probability", stage.probability))
    if errors:
        raise ValidationError(errors)
    for key, value in data.items():
        setattr(stage, key, value)
    db.session.flush()
    return stage


def _probability_errors(is_won: bool, is_lost: bool, probability: Decimal) -> dict[str, list[str]]:
    # the forecast multiplies expected premium by probability: a closed stage must be certain
    if is_won and probability != WON_PROBABILITY:
        return {"probability": ["A won stage has a probability of 100."]}
    if is_lost and probability != LOST_PROBABILITY:
        return {"probability": ["A lost stage has a probability of 0."]}
    return {}
