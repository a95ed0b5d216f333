"""daily jobs: indexes of the day's work (issue 8, point 8)

Each daily job's query starts from an index bounded by the day's work, not from the whole book:

- ``policies (status, expiry_date)``: the running policies whose term has ended (grace and lapse);
- ``policies (issue_date)``: the policies issued within the cooling-off period (new-policy callbacks);
- ``installments (status, due_date)`` and ``installments (paid_date)``: the installments unpaid on a date
  (entering grace, lapsing, judged on the payments known on that date);
- ``policies (updated_at)``, ``policyholders (updated_at)``, ``activities (updated_at)`` and
  ``activities (actual_start)``: the policyholders whose key-customer service call may have come due.

Named apart from the runner's migration of the same issue; the lead re-chains them at merge.

Revision ID: b7d3e5a1c9f2
Revises: 4c381f420796
Create Date: 2026-12-04 21:40:00
"""

from alembic import op

revision = 'b7d3e5a1c9f2'
down_revision = '4c381f420796'
branch_labels = None
depends_on = None

INDEXES = [
    ('ix_policies_status_expiry_date', 'policies', ['status', 'expiry_date']),
    ('ix_policies_issue_date', 'policies', ['issue_date']),
    ('ix_policies_updated_at', 'policies', ['updated_at']),
    ('ix_installments_status_due_date', 'installments', ['status', 'due_date']),
    ('ix_installments_paid_date', 'installments', ['paid_date']),
    ('ix_policyholders_updated_at', 'policyholders', ['updated_at']),
    ('ix_activities_updated_at', 'activities', ['updated_at']),
    ('ix_activities_actual_start', 'activities', ['actual_start']),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
