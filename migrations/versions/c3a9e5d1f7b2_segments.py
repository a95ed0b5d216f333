"""segments: saved filters over policyholders

A segment keeps a filter (``criteria``, the JSON the API takes) by name for its owner; it holds no members, its
filter is evaluated when read, inside the reader's scope.

Revision ID: c3a9e5d1f7b2
Revises: b7c4e2a91f30
Create Date: 2026-12-07 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from insurecrm.db import UTCDateTime

revision = 'c3a9e5d1f7b2'
down_revision = 'b7c4e2a91f30'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'segments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('criteria', sa.JSON(), nullable=False),
        sa.Column('owner_user_id', sa.Integer(), nullable=False),
        sa.Column('org_unit_id', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_segments_org_unit_id_org_units')),
        sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], name=op.f('fk_segments_owner_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
        sa.UniqueConstraint('owner_user_id', 'name', name=op.f('uq_segments_owner_user_id_name')),
    )
    op.create_index(op.f('ix_segments_org_unit_id'), 'segments', ['org_unit_id'], unique=False)
    op.create_index(op.f('ix_segments_owner_user_id'), 'segments', ['owner_user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_segments_owner_user_id'), table_name='segments')
    op.drop_index(op.f('ix_segments_org_unit_id'), table_name='segments')
    op.drop_table('segments')
