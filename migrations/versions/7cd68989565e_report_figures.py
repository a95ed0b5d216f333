"""report figures: the maintained figures of the default period, per policy and per policyholder (issue 9, point 11)

``policy_figures``: one row per policy with anything in the default period (earned premium, incurred and paid
claims, commissions, service costs, contribution); ``policyholder_figures``: their sums per policyholder, with the
service costs naming no policy, the contribution and the margin, indexed by contribution. Amounts are NUMERIC
without a scale: the unrounded figures of the live SQL. Written by the daily job ``reports.refresh_figures``; empty
until it first runs. The indexes on ``updated_at`` of claims, payments, service requests and interactions let the
job find the day's changes.

Revision ID: 7cd68989565e
Revises: 849abbafec2d
Create Date: 2026-12-06 19:50:48.517082
"""

from alembic import op
import sqlalchemy as sa
import insurecrm.db


revision = '7cd68989565e'
down_revision = '849abbafec2d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policyholder_figures',
    sa.Column('policyholder_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('earned', sa.Numeric(), nullable=False),
    sa.Column('incurred', sa.Numeric(), nullable=False),
    sa.Column('paid', sa.Numeric(), nullable=False),
    sa.Column('commission', sa.Numeric(), nullable=False),
    sa.Column('service_cost', sa.Numeric(), nullable=False),
    sa.Column('own_service_cost', sa.Numeric(), nullable=True),
    sa.Column('contribution', sa.Numeric(), nullable=False),
    sa.Column('margin', sa.Numeric(), nullable=True),
    sa.Column('refreshed_at', insurecrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'], name=op.f('fk_policyholder_figures_policyholder_id_policyholders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policyholder_id', name=op.f('pk_policyholder_figures'))
    )
    with op.batch_alter_table('policyholder_figures', schema=None) as batch_op:
        batch_op.create_index('ix_policyholder_figures_contribution', ['contribution'], unique=False)

    op.create_table('policy_figures',
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('policyholder_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('earned', sa.Numeric(), nullable=False),
    sa.Column('incurred', sa.Numeric(), nullable=False),
    sa.Column('paid', sa.Numeric(), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('commission', sa.Numeric(), nullable=False),
    sa.Column('service_cost', sa.Numeric(), nullable=False),
    sa.Column('contribution', sa.Numeric(), nullable=False),
    sa.Column('refreshed_at', insurecrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_figures_policy_id_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'], name=op.f('fk_policy_figures_policyholder_id_policyholders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policy_id', name=op.f('pk_policy_figures'))
    )
    with op.batch_alter_table('policy_figures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_figures_policyholder_id'), ['policyholder_id'], unique=False)

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index('ix_claims_updated_at', ['updated_at'], unique=False)

    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_updated_at', ['updated_at'], unique=False)

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_updated_at', ['updated_at'], unique=False)

    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index('ix_service_requests_updated_at', ['updated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_service_requests_updated_at')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_updated_at')

    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_updated_at')

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_updated_at')

    with op.batch_alter_table('policy_figures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_figures_policyholder_id'))

    op.drop_table('policy_figures')
    with op.batch_alter_table('policyholder_figures', schema=None) as batch_op:
        batch_op.drop_index('ix_policyholder_figures_contribution')

    op.drop_table('policyholder_figures')
