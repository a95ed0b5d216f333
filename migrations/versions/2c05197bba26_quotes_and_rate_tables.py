"""quotes: the products' rate tables (rows by age band and gender, a flat premium, loadings per frequency) and the
quotes computed from them

A product is quoted from its rate rows (the annual premium per 1,000 of sum insured for an age band and a gender or
any) or from a flat annual premium (``rate_table_settings``); a loading per premium frequency
(``frequency_loadings``) makes the installment: annual premium × loading ÷ installments a year. A quote
(``quotes``) keeps what it was computed with, for a policyholder or a prospect, saved on an opportunity.

Revision ID: 2c05197bba26
Revises: 856c30fba9c8
Create Date: 2026-12-06 22:55:00.000000
"""

import sqlalchemy as sa
from alembic import op

from insurecrm.db import UTCDateTime

revision = '2c05197bba26'
down_revision = '856c30fba9c8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_rows',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('age_min', sa.Integer(), nullable=False),
        sa.Column('age_max', sa.Integer(), nullable=False),
        sa.Column('gender', sa.String(length=16), nullable=True),
        sa.Column('rate_per_thousand', sa.Numeric(precision=12, scale=4), nullable=False),
        sa.CheckConstraint('age_min >= 0 AND age_min <= age_max AND age_max <= 150',
                           name=op.f('ck_rate_rows_age_band')),
        sa.CheckConstraint('rate_per_thousand >= 0', name=op.f('ck_rate_rows_rate_not_negative')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_rate_rows_product_id_products'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_rows')),
    )
    op.create_index(op.f('ix_rate_rows_product_id'), 'rate_rows', ['product_id'], unique=False)
    op.create_table(
        'rate_table_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('flat_premium', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.CheckConstraint('flat_premium IS NULL OR flat_premium >= 0',
                           name=op.f('ck_rate_table_settings_flat_premium_not_negative')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'],
                                name=op.f('fk_rate_table_settings_product_id_products'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_table_settings')),
        sa.UniqueConstraint('product_id', name=op.f('uq_rate_table_settings_product_id')),
    )
    op.create_table(
        'frequency_loadings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('frequency', sa.String(length=16), nullable=False),
        sa.Column('loading', sa.Numeric(precision=7, scale=4), nullable=False),
        sa.CheckConstraint('loading > 0', name=op.f('ck_frequency_loadings_loading_positive')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_frequency_loadings_product_id_products'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_frequency_loadings')),
        sa.UniqueConstraint('product_id', 'frequency', name=op.f('uq_frequency_loadings_product_id_frequency')),
    )
    op.create_index(op.f('ix_frequency_loadings_product_id'), 'frequency_loadings', ['product_id'], unique=False)
    op.create_table(
        'quotes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('opportunity_id', sa.Integer(), nullable=True),
        sa.Column('policyholder_id', sa.Integer(), nullable=True),
        sa.Column('prospect_name', sa.String(length=120), nullable=True),
        sa.Column('date_of_birth', sa.Date(), nullable=True),
        sa.Column('age', sa.Integer(), nullable=False),
        sa.Column('gender', sa.String(length=16), nullable=True),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('sum_insured', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('frequency', sa.String(length=16), nullable=False),
        sa.Column('rate_per_thousand', sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column('loading', sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column('annual_premium', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('installment_premium', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('created_by_user_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_quotes_created_by_user_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'],
                                name=op.f('fk_quotes_opportunity_id_opportunities'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'],
                                name=op.f('fk_quotes_policyholder_id_policyholders')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_quotes_product_id_products')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes')),
    )
    op.create_index(op.f('ix_quotes_created_at'), 'quotes', ['created_at'], unique=False)
    op.create_index(op.f('ix_quotes_created_by_user_id'), 'quotes', ['created_by_user_id'], unique=False)
    op.create_index(op.f('ix_quotes_opportunity_id'), 'quotes', ['opportunity_id'], unique=False)
    op.create_index(op.f('ix_quotes_policyholder_id'), 'quotes', ['policyholder_id'], unique=False)
    op.create_index(op.f('ix_quotes_product_id'), 'quotes', ['product_id'], unique=False)


def downgrade() -> None:
    for table, columns in (('quotes', ('product_id', 'policyholder_id', 'opportunity_id', 'created_by_user_id',
                                       'created_at')),
                           ('frequency_loadings', ('product_id',)), ('rate_rows', ('product_id',))):
        for column in columns:
            op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
    op.drop_table('quotes')
    op.drop_table('frequency_loadings')
    op.drop_table('rate_table_settings')
    op.drop_table('rate_rows')
