"""policyholders: the birthday, month and day of birth, with its index

The daily job ``policyholders.birthday_greetings`` finds the policyholders born on the logical date's month and
day by the index of ``policyholders.birthday`` (``month * 100 + day`` of ``date_of_birth``), a column the
database computes and stores from the date of birth, rather than reading every date of birth of the book.
SQLite cannot add a stored generated column to a table: the table is rebuilt there.

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


def _birthday():
    # policyholders.models.policyholder.birthday_of, as of this revision
    date_of_birth = sa.column('date_of_birth', sa.Date())
    month_day = sa.extract('month', date_of_birth) * 100 + sa.extract('day', date_of_birth)
    return sa.Computed(sa.cast(month_day, sa.Integer()), persisted=True)


def _recreate() -> str:
    return 'always' if op.get_bind().dialect.name == 'sqlite' else 'auto'


def upgrade() -> None:
    with op.batch_alter_table('policyholders', schema=None, recreate=_recreate()) as batch_op:
        batch_op.add_column(sa.Column('birthday', sa.Integer(), _birthday(), nullable=True))
        batch_op.create_index(batch_op.f('ix_policyholders_birthday'), ['birthday'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('policyholders', schema=None, recreate=_recreate()) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policyholders_birthday'))
        batch_op.drop_column('birthday')
