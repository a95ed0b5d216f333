"""claims: the kind of loss (death, total disability, total loss end the policy once paid)

Existing claims become ``other``.

Revision ID: 86ccc19b7798
Revises: 1384a2095f27
Create Date: 2026-12-04 02:47:54.865146
"""

from alembic import op
import sqlalchemy as sa
import insurecrm.db


revision = '86ccc19b7798'
down_revision = '1384a2095f27'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('death', 'total_disability', 'medical', 'total_loss', 'damage', 'other', name='claimkind', native_enum=False, length=32), server_default='other', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('kind')
