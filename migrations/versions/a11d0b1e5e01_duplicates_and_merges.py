"""duplicates and merges: the name key of policyholders, dismissed duplicate pairs, merges

Adds ``policyholders.name_key`` (policyholders.name_keys: the name's pinyin words, sorted), filled for every
existing row, indexed with the date of birth; an index on ``id_number`` alone (the duplicates queue pairs the same
number under any ID type); ``policyholder_duplicate_dismissals`` (pairs said to be two people) and
``policyholder_merges`` (each merge, with what it moved, for the redirect of the old id and for undo).

Revision ID: a11d0b1e5e01
Revises: 5e1d7a93c4b2
Create Date: 2026-12-07 02:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

from insurecrm.db import UTCDateTime
from policyholders.name_keys import name_key

revision = 'a11d0b1e5e01'
down_revision = '5e1d7a93c4b2'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    op.add_column('policyholders', sa.Column('name_key', sa.String(length=255), nullable=False, server_default=''))
    _backfill()
    op.create_index('ix_policyholders_date_of_birth_name_key', 'policyholders', ['date_of_birth', 'name_key'],
                    unique=False)
    op.create_index('ix_policyholders_id_number', 'policyholders', ['id_number'], unique=False)
    op.create_table(
        'policyholder_duplicate_dismissals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('policyholder_id', sa.Integer(), nullable=False),
        sa.Column('other_policyholder_id', sa.Integer(), nullable=False),
        sa.Column('dismissed_by_id', sa.Integer(), nullable=True),
        sa.Column('dismissed_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['dismissed_by_id'], ['users.id'], ondelete='SET NULL',
                                name=op.f('fk_policyholder_duplicate_dismissals_dismissed_by_id_users')),
        sa.ForeignKeyConstraint(['other_policyholder_id'], ['policyholders.id'], ondelete='CASCADE',
                                name=op.f('fk_policyholder_duplicate_dismissals_other_policyholder_id_policyholders')),
        sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'], ondelete='CASCADE',
                                name=op.f('fk_policyholder_duplicate_dismissals_policyholder_id_policyholders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_policyholder_duplicate_dismissals')),
        sa.UniqueConstraint('policyholder_id', 'other_policyholder_id',
                            name=op.f('uq_policyholder_duplicate_dismissals_policyholder_id_other_policyholder_id')),
    )
    op.create_index(op.f('ix_policyholder_duplicate_dismissals_other_policyholder_id'),
                    'policyholder_duplicate_dismissals', ['other_policyholder_id'], unique=False)
    op.create_table(
        'policyholder_merges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survivor_id', sa.Integer(), nullable=False),
        sa.Column('merged_id', sa.Integer(), nullable=False),
        sa.Column('merged_by_id', sa.Integer(), nullable=True),
        sa.Column('merged_at', UTCDateTime(), nullable=False),
        sa.Column('merged_row', sa.JSON(), nullable=False),
        sa.Column('survivor_before', sa.JSON(), nullable=False),
        sa.Column('changed_rows', sa.JSON(), nullable=False),
        sa.Column('undone_at', UTCDateTime(), nullable=True),
        sa.Column('undone_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['merged_by_id'], ['users.id'], ondelete='SET NULL',
                                name=op.f('fk_policyholder_merges_merged_by_id_users')),
        sa.ForeignKeyConstraint(['undone_by_id'], ['users.id'], ondelete='SET NULL',
                                name=op.f('fk_policyholder_merges_undone_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_policyholder_merges')),
    )
    op.create_index(op.f('ix_policyholder_merges_merged_at'), 'policyholder_merges', ['merged_at'], unique=False)
    op.create_index(op.f('ix_policyholder_merges_merged_id'), 'policyholder_merges', ['merged_id'], unique=False)
    op.create_index(op.f('ix_policyholder_merges_survivor_id'), 'policyholder_merges', ['survivor_id'], unique=False)


def _backfill() -> None:
    """Every row's key from its name, a batch at a time (keyset on id)."""
    connection = op.get_bind()
    table = sa.table('policyholders', sa.column('id', sa.Integer), sa.column('name', sa.String),
                     sa.column('name_key', sa.String))
    update = sa.update(table).where(table.c.id == sa.bindparam('row_id')).values(name_key=sa.bindparam('key'))
    last = 0
    while True:
        rows = connection.execute(sa.select(table.c.id, table.c.name).where(table.c.id > last)
                                  .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        connection.execute(update, [{"row_id": row.id, "key": name_key(row.name)} for row in rows])
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index(op.f('ix_policyholder_merges_survivor_id'), table_name='policyholder_merges')
    op.drop_index(op.f('ix_policyholder_merges_merged_id'), table_name='policyholder_merges')
    op.drop_index(op.f('ix_policyholder_merges_merged_at'), table_name='policyholder_merges')
    op.drop_table('policyholder_merges')
    op.drop_index(op.f('ix_policyholder_duplicate_dismissals_other_policyholder_id'),
                  table_name='policyholder_duplicate_dismissals')
    op.drop_table('policyholder_duplicate_dismissals')
    op.drop_index('ix_policyholders_id_number', table_name='policyholders')
    op.drop_index('ix_policyholders_date_of_birth_name_key', table_name='policyholders')
    if op.get_bind().dialect.name == "sqlite":  # in place (SQLite 3.35+): no rebuild of a referenced table
        op.execute('ALTER TABLE "policyholders" DROP COLUMN name_key')
    else:
        op.drop_column('policyholders', 'name_key')
