"""policyholders: index the other phone, for duplicate checks

The likely-duplicate check (policyholders/duplicates.py) and the search by phone look a number up in both
phone columns; without this index the second one scans the whole book.

Revision ID: 5094144c703e
Revises: 86ccc19b7798
Create Date: 2026-12-04 03:10:03.035144
"""

from alembic import op


revision = '5094144c703e'
down_revision = '86ccc19b7798'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_policyholders_phone_alt', 'policyholders', ['phone_alt'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_policyholders_phone_alt', table_name='policyholders')
