"""churn: indexes of the day's candidates

The daily job ``reports.churn_scores`` rescores only the policyholders whose reasons may have changed since its
run for the day before (``reports.churn.day_candidates``): it finds the renewal cases changed since then
(``renewal_cases.updated_at``), the complaints leaving the 90-day window (``service_requests.opened_at``) and the
rejected claims leaving the 180-day window (``claims.report_date``) by these indexes.

Revision ID: eb3eb49bdf02
Revises: 7cd68989565e
Create Date: 2026-12-06 20:00:48.533792
"""

from alembic import op
import sqlalchemy as sa
import insurecrm.db


revision = 'eb3eb49bdf02'
down_revision = '7cd68989565e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index('ix_claims_report_date', ['report_date'], unique=False)

    with op.batch_alter_table('renewal_cases', schema=None) as batch_op:
        batch_op.create_index('ix_renewal_cases_updated_at', ['updated_at'], unique=False)

    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index('ix_service_requests_opened_at', ['opened_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_service_requests_opened_at')

    with op.batch_alter_table('renewal_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_renewal_cases_updated_at')

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_report_date')
