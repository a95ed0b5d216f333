"""policyholders: the birthday, month and day of birth, with its index

The daily job ``policyholders.birthday_greetings`` finds the policyholders born on the logical date's month and
day by the index of ``policyholders.birthday`` (``month * 100 + day`` of ``date_of_birth``), a column the
database computes and stores from the date of birth, rather than reading every date of birth of the book.
SQLite cannot add a stored generated column to a table, and rebuilding the table would cascade the deletion of
its rows to the policyholders' records: there the column is added as a virtual one (computed when read), which
SQLite indexes just the same.

Revision ID: 078aaf936b50
Revises: eb3eb49bdf02
Create Date: 2026-12-06 21:07:45.754836
"""

import sqlalchemy as sa
from alembic import op

revision = '078aaf936b50'
down_revision = 'eb3eb49bdf02'
branch_labels = None
depends_on = None


def _birthday(persisted: bool):
    # policyholders.models.policyholder.birthday_of, as of this revision
    date_of_birth = sa.column('date_of_birth', sa.Date())
    month_day = sa.extract('month', date_of_birth) * 100 + sa.extract('day', date_of_birth)
    return sa.Column('birthday', sa.Integer(), sa.Computed(sa.cast(month_day, sa.Integer()), persisted=persisted),
                     nullable=True)


def upgrade() -> None:
    stored = op.get_bind().dialect.name != 'sqlite'
    op.add_column('policyholders', _birthday(persisted=stored))
    op.create_index('ix_policyholders_birthday', 'policyholders', ['birthday'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_policyholders_birthday', table_name='policyholders')
    op.drop_column('policyholders', 'birthday')
