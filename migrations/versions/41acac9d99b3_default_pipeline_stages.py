"""default pipeline stages (SPEC §4): a fresh database has a working sales pipeline

Revision ID: 41acac9d99b3
Revises: c7dc9bd79f0a
Create Date: 2026-11-22 14:55:29.786890
"""

from alembic import op
import sqlalchemy as sa


revision = '41acac9d99b3'
down_revision = 'c7dc9bd79f0a'
branch_labels = None
depends_on = None


#: The stages as they stood when this migration was written; later renames are the admin's, not ours.
STAGES = [
    # code, name, 中文名, probability %, max days in the stage
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
]

stages = sa.table(
    "pipeline_stages",
    sa.column("code", sa.String), sa.column("name", sa.String), sa.column("name_zh", sa.String),
    sa.column("position", sa.Integer), sa.column("probability", sa.Numeric(7, 4)),
    sa.column("product_line", sa.String), sa.column("max_days", sa.Integer), sa.column("is_won", sa.Boolean),
    sa.column("is_lost", sa.Boolean), sa.column("active", sa.Boolean),
)


def upgrade() -> None:
    if op.get_bind().execute(sa.select(sa.func.count()).select_from(stages)).scalar():
        return  # a pipeline exists already: never touch it
    op.bulk_insert(stages, [
        {"code": code, "name": name, "name_zh": name_zh, "position": position, "probability": probability,
         "product_line": None, "max_days": max_days, "is_won": code == "signed", "is_lost": code == "lost",
         "active": True}
        for position, (code, name, name_zh, probability, max_days) in enumerate(STAGES, start=1)
    ])


def downgrade() -> None:
    op.execute(stages.delete().where(stages.c.product_line.is_(None),
                                     stages.c.code.in_([code for code, *_ in STAGES])))
