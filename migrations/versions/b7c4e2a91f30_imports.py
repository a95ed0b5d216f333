"""imports: the runs of file imports, their files in chunks, and their reports

An uploaded file is kept in ``import_file_chunks`` (1 MiB a row) until it is imported or refused, so that any host
can check or import it; ``import_runs`` records who brought which file in, when, how far the work is and what came
of it; ``import_issues`` the problems found, row by row.

Revision ID: b7c4e2a91f30
Revises: a11d0b1e5e01
Create Date: 2026-12-07 02:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

from insurecrm.db import UTCDateTime

revision = 'b7c4e2a91f30'
down_revision = 'a11d0b1e5e01'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'import_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('file_format', sa.String(length=8), nullable=False),
        sa.Column('encoding', sa.String(length=32), nullable=True),
        sa.Column('column_map', sa.JSON(), nullable=False),
        sa.Column('mode', sa.Enum('check', 'import', name='importmode', native_enum=False, length=32),
                  nullable=False),
        sa.Column('status', sa.Enum('queued', 'running', 'checked', 'refused', 'imported', 'failed',
                                    name='importstatus', native_enum=False, length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('rows_total', sa.Integer(), nullable=True),
        sa.Column('rows_done', sa.Integer(), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('issues_count', sa.Integer(), nullable=False),
        sa.Column('imported_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_import_runs_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_runs')),
    )
    op.create_index(op.f('ix_import_runs_status'), 'import_runs', ['status'], unique=False)
    op.create_index(op.f('ix_import_runs_user_id'), 'import_runs', ['user_id'], unique=False)
    op.create_table(
        'import_file_chunks',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['import_runs.id'], name=op.f('fk_import_file_chunks_run_id_import_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'seq', name=op.f('pk_import_file_chunks')),
    )
    op.create_table(
        'import_issues',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('column', sa.String(length=120), nullable=True),
        sa.Column('value', sa.String(length=255), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('severity', sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['import_runs.id'], name=op.f('fk_import_issues_run_id_import_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_issues')),
    )
    op.create_index(op.f('ix_import_issues_run_id'), 'import_issues', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_import_issues_run_id'), table_name='import_issues')
    op.drop_table('import_issues')
    op.drop_table('import_file_chunks')
    op.drop_index(op.f('ix_import_runs_user_id'), table_name='import_runs')
    op.drop_index(op.f('ix_import_runs_status'), table_name='import_runs')
    op.drop_table('import_runs')
