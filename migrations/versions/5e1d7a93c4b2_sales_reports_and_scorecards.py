"""sales reports and scorecards: files attached to outbox emails; agents' targets per period and metric

The scheduled sales reports (job ``agents.sales_reports``) queue an email with the report as a PDF: the file is
kept in ``outbox_attachments`` beside its outbox row (deleted with it), so the message sent, or sent again by a
human, carries the very file queued. Branch managers set each agent's targets per month, quarter or year and metric
(``agent_targets``, one per agent, period and metric), shown on the agents' scorecards.

Revision ID: 5e1d7a93c4b2
Revises: 2c05197bba26
Create Date: 2026-12-06 23:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

from insurecrm.db import UTCDateTime

revision = '5e1d7a93c4b2'
down_revision = '2c05197bba26'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_outbox_attachments_outbox_id_outbox'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_attachments')),
    )
    op.create_index(op.f('ix_outbox_attachments_outbox_id'), 'outbox_attachments', ['outbox_id'], unique=False)
    op.create_table(
        'agent_targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('period_kind', sa.Enum('month', 'quarter', 'year', name='scorecardperiod', native_enum=False,
                                         length=32), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('metric', sa.Enum('new_business_premium', 'renewal_rate', 'persistency_13', 'activities_done',
                                    'conversion_rate', 'complaints', name='scorecardmetric', native_enum=False,
                                    length=32), nullable=False),
        sa.Column('target_value', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('set_by_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_targets_agent_id_agents'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['set_by_user_id'], ['users.id'], name=op.f('fk_agent_targets_set_by_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_targets')),
        sa.UniqueConstraint('agent_id', 'period_kind', 'period_start', 'metric',
                            name=op.f('uq_agent_targets_agent_id_period_kind_period_start_metric')),
    )
    op.create_index(op.f('ix_agent_targets_agent_id'), 'agent_targets', ['agent_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_agent_targets_agent_id'), table_name='agent_targets')
    op.drop_table('agent_targets')
    op.drop_index(op.f('ix_outbox_attachments_outbox_id'), table_name='outbox_attachments')
    op.drop_table('outbox_attachments')
