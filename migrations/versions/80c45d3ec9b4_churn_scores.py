"""churn scores: the churn early warning of each active policyholder and the reasons behind it (issue 9)

``churn_scores``: one row per policyholder, the latest date scored and the score (0 to 100);
``churn_reasons``: the reasons of that score, one per policyholder and code, with the weight and the id of the
record behind it. Written by the daily job ``reports.churn_scores``; empty until it first runs.

Revision ID: 80c45d3ec9b4
Revises: b7d3e5a1c9f2
Create Date: 2026-12-06 19:35:36.122791
"""

from alembic import op
import sqlalchemy as sa


revision = '80c45d3ec9b4'
down_revision = 'b7d3e5a1c9f2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('churn_reasons',
    sa.Column('policyholder_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'], name=op.f('fk_churn_reasons_policyholder_id_policyholders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policyholder_id', 'code', name=op.f('pk_churn_reasons'))
    )
    op.create_table('churn_scores',
    sa.Column('policyholder_id', sa.Integer(), nullable=False),
    sa.Column('scored_on', sa.Date(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.CheckConstraint('score BETWEEN 0 AND 100', name=op.f('ck_churn_scores_score_range')),
    sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'], name=op.f('fk_churn_scores_policyholder_id_policyholders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policyholder_id', name=op.f('pk_churn_scores'))
    )
    with op.batch_alter_table('churn_scores', schema=None) as batch_op:
        batch_op.create_index('ix_churn_scores_score', ['score'], unique=False)
        batch_op.create_index(batch_op.f('ix_churn_scores_scored_on'), ['scored_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('churn_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_churn_scores_scored_on'))
        batch_op.drop_index('ix_churn_scores_score')

    op.drop_table('churn_scores')
    op.drop_table('churn_reasons')
