"""loyalty weights: the weights of the loyalty score, as an admin saved them (issue 9)

``loyalty_weights``: at most one row (id 1), one weight per part of the score (tenure, renewals, product lines,
on-time payment, referrals: 0 to 100 each, adding up to 100) and the points complaints may take away (0 to 100).
Empty until an admin first saves the weights on /admin/loyalty-weights: the defaults in code apply until then.

Revision ID: 849abbafec2d
Revises: 80c45d3ec9b4
Create Date: 2026-12-06 19:48:59.895738
"""

from alembic import op
import sqlalchemy as sa
import insurecrm.db


revision = '849abbafec2d'
down_revision = '80c45d3ec9b4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_weights',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tenure', sa.Integer(), nullable=False),
    sa.Column('renewals', sa.Integer(), nullable=False),
    sa.Column('product_lines', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('referrals', sa.Integer(), nullable=False),
    sa.Column('complaints', sa.Integer(), nullable=False),
    sa.Column('created_at', insurecrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', insurecrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('complaints BETWEEN 0 AND 100', name=op.f('ck_loyalty_weights_complaints_range')),
    sa.CheckConstraint('id = 1', name=op.f('ck_loyalty_weights_single_row')),
    sa.CheckConstraint('on_time BETWEEN 0 AND 100', name=op.f('ck_loyalty_weights_on_time_range')),
    sa.CheckConstraint('product_lines BETWEEN 0 AND 100', name=op.f('ck_loyalty_weights_product_lines_range')),
    sa.CheckConstraint('referrals BETWEEN 0 AND 100', name=op.f('ck_loyalty_weights_referrals_range')),
    sa.CheckConstraint('renewals BETWEEN 0 AND 100', name=op.f('ck_loyalty_weights_renewals_range')),
    sa.CheckConstraint('tenure + renewals + product_lines + on_time + referrals = 100', name=op.f('ck_loyalty_weights_parts_sum')),
    sa.CheckConstraint('tenure BETWEEN 0 AND 100', name=op.f('ck_loyalty_weights_tenure_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_weights'))
    )


def downgrade() -> None:
    op.drop_table('loyalty_weights')
