"""activities: recurring series (series id, position in the series, recurrence end date)

A recurring activity is planned as its occurrences, expanded from the recurrence rule (python-dateutil's rrule),
each an activity of its own so that it is rescheduled, completed or cancelled alone. ``series_id`` links them (the
id of the first occurrence), ``series_position`` numbers them in the rule's order, so that "this and the following"
can be rescheduled or cancelled together, and ``recurrence_until`` keeps the date the rule runs to.

Revision ID: 856c30fba9c8
Revises: c9b3aff027d8
Create Date: 2026-12-06 22:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '856c30fba9c8'
down_revision = 'c9b3aff027d8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('series_position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recurrence_until', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_activities_series_id'), ['series_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_activities_series_id_activities'), 'activities', ['series_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_activities_series_id_activities'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_activities_series_id'))
        batch_op.drop_column('recurrence_until')
        batch_op.drop_column('series_position')
        batch_op.drop_column('series_id')
