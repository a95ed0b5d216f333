"""opportunities: the admins' list of loss reasons, the won policy, a prospect's phone

An opportunity is lost with a reason from a list admins keep (``opportunity_loss_reasons``, seeded with the
default reasons: price, competitor, no need, no budget, timing, other), and won into a policy it names
(``opportunities.policy_id``: the policy the win created or linked). A prospect keeps the phone the referral or
the agent gave (``opportunities.prospect_phone``) until it becomes a policyholder.

Revision ID: c9b3aff027d8
Revises: 078aaf936b50
Create Date: 2026-12-06 22:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = 'c9b3aff027d8'
down_revision = '078aaf936b50'
branch_labels = None
depends_on = None

# agents.pipeline.opportunities.DEFAULT_LOSS_REASONS, as of this revision
DEFAULT_LOSS_REASONS = (
    ("price", "Price", "价格", 1),
    ("competitor", "Competitor", "竞争对手", 2),
    ("no_need", "No need", "没有需求", 3),
    ("no_budget", "No budget", "没有预算", 4),
    ("timing", "Timing", "时机不对", 5),
    ("other", "Other", "其他", 6),
)


def upgrade() -> None:
    reasons = op.create_table(
        'opportunity_loss_reasons',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('name_zh', sa.String(length=120), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_loss_reasons')),
        sa.UniqueConstraint('code', name=op.f('uq_opportunity_loss_reasons_code')),
    )
    op.bulk_insert(reasons, [{'code': code, 'name': name, 'name_zh': name_zh, 'position': position, 'active': True}
                             for code, name, name_zh, position in DEFAULT_LOSS_REASONS])
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prospect_phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('policy_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('loss_reason_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_opportunities_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunities_loss_reason_id'), ['loss_reason_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_opportunities_policy_id_policies'), 'policies',
                                    ['policy_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_opportunities_loss_reason_id_opportunity_loss_reasons'),
                                    'opportunity_loss_reasons', ['loss_reason_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_opportunities_loss_reason_id_opportunity_loss_reasons'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_opportunities_policy_id_policies'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_opportunities_loss_reason_id'))
        batch_op.drop_index(batch_op.f('ix_opportunities_policy_id'))
        batch_op.drop_column('loss_reason_id')
        batch_op.drop_column('policy_id')
        batch_op.drop_column('prospect_phone')
    op.drop_table('opportunity_loss_reasons')
