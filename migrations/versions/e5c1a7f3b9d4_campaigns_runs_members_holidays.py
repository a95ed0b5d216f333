"""campaigns: runs, members, messages per language, holidays

The ``campaigns`` and ``campaign_members`` tables of the first schema were never written by any service: they are
dropped and made again as campaigns now are — a segment, a schedule (once, daily, the holiday calendar), a control
group, a budget, a message per language (``campaign_messages``), one run per date (``campaign_runs``), the members
of each run with what each was sent (``campaign_members``) — beside the holiday calendar (``holidays``).

Revision ID: e5c1a7f3b9d4
Revises: d4b8f6e2a0c3
Create Date: 2026-12-07 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from insurecrm.db import UTCDateTime

revision = 'e5c1a7f3b9d4'
down_revision = 'd4b8f6e2a0c3'
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def _timestamps() -> list[sa.Column]:
    return [sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
            sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    _drop_first_schema()
    op.create_table(
        'campaigns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('kind', _enum('campaignkind', 'renewal', 'new_policy_callback', 'birthday', 'holiday_care',
                                'cross_sell', 'reactivation', 'custom'), nullable=False),
        sa.Column('channel', _enum('campaignchannel', 'email', 'sms', 'agent_task'), nullable=False),
        sa.Column('status', _enum('campaignstatus', 'draft', 'active', 'paused', 'ended'), nullable=False),
        sa.Column('segment_id', sa.Integer(), nullable=True),
        sa.Column('owner_user_id', sa.Integer(), nullable=True),
        sa.Column('org_unit_id', sa.Integer(), nullable=True),
        sa.Column('schedule', _enum('campaignschedule', 'once', 'daily', 'holidays'), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=False),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('control_percent', sa.Integer(), nullable=False),
        sa.Column('conversion_window_days', sa.Integer(), nullable=False),
        sa.Column('cost_per_message', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('budget', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('system_key', sa.String(length=32), nullable=True),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_campaigns_org_unit_id_org_units')),
        sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], name=op.f('fk_campaigns_owner_user_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_campaigns_segment_id_segments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
        sa.UniqueConstraint('system_key', name=op.f('uq_campaigns_system_key')),
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        for column in ('org_unit_id', 'owner_user_id', 'segment_id', 'status'):
            batch_op.create_index(batch_op.f(f'ix_campaigns_{column}'), [column], unique=False)
    op.create_table(
        'campaign_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'],
                                name=op.f('fk_campaign_messages_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_messages')),
        sa.UniqueConstraint('campaign_id', 'language', name=op.f('uq_campaign_messages_campaign_id_language')),
    )
    with op.batch_alter_table('campaign_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_messages_campaign_id'), ['campaign_id'], unique=False)
    op.create_table(
        'campaign_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('run_date', sa.Date(), nullable=False),
        sa.Column('status', _enum('runstatus', 'running', 'done', 'failed'), nullable=False),
        sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_runs_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_runs')),
        sa.UniqueConstraint('campaign_id', 'run_date', name=op.f('uq_campaign_runs_campaign_id_run_date')),
    )
    with op.batch_alter_table('campaign_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_runs_campaign_id'), ['campaign_id'], unique=False)
    op.create_table(
        'campaign_members',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('policyholder_id', sa.Integer(), nullable=False),
        sa.Column('outcome', _enum('memberoutcome', 'control', 'sent', 'task', 'no_consent', 'over_cap',
                                   'over_budget'), nullable=False),
        sa.Column('touched_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=True),
        sa.Column('activity_id', sa.Integer(), nullable=True),
        sa.Column('responded_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('response', sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(['activity_id'], ['activities.id'],
                                name=op.f('fk_campaign_members_activity_id_activities'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'],
                                name=op.f('fk_campaign_members_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_campaign_members_outbox_id_outbox'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'],
                                name=op.f('fk_campaign_members_policyholder_id_policyholders'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['run_id'], ['campaign_runs.id'], name=op.f('fk_campaign_members_run_id_campaign_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_members')),
        sa.UniqueConstraint('run_id', 'policyholder_id', name=op.f('uq_campaign_members_run_id_policyholder_id')),
    )
    with op.batch_alter_table('campaign_members', schema=None) as batch_op:
        for column in ('campaign_id', 'run_id', 'policyholder_id', 'touched_at'):
            batch_op.create_index(batch_op.f(f'ix_campaign_members_{column}'), [column], unique=False)
    op.create_table(
        'holidays',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_holidays')),
        sa.UniqueConstraint('day', name=op.f('uq_holidays_day')),
    )


def _drop_first_schema() -> None:
    op.drop_table('campaign_members')
    op.drop_table('campaigns')


def downgrade() -> None:
    for table in ('holidays', 'campaign_members', 'campaign_runs', 'campaign_messages', 'campaigns'):
        op.drop_table(table)
    op.create_table(
        'campaigns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', _enum('campaignkind', 'renewal', 'new_policy_callback', 'care', 'cross_sell',
                                'reactivation'), nullable=False),
        sa.Column('channel', _enum('campaignchannel', 'email', 'sms', 'agent_task'), nullable=False),
        sa.Column('status', _enum('campaignstatus', 'draft', 'active', 'paused', 'ended'), nullable=False),
        sa.Column('org_unit_id', sa.Integer(), nullable=True),
        sa.Column('segment_filter', sa.JSON(), nullable=False),
        sa.Column('schedule', sa.String(length=64), nullable=True),
        sa.Column('subject_template', sa.String(length=255), nullable=True),
        sa.Column('body_template', sa.Text(), nullable=True),
        sa.Column('start_date', sa.Date(), nullable=True),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('created_by_user_id', sa.Integer(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'],
                                name=op.f('fk_campaigns_created_by_user_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_campaigns_org_unit_id_org_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_org_unit_id'), ['org_unit_id'], unique=False)
    op.create_table(
        'campaign_members',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('policyholder_id', sa.Integer(), nullable=False),
        sa.Column('status', _enum('memberstatus', 'targeted', 'contacted', 'responded', 'converted', 'opted_out'),
                  nullable=False),
        sa.Column('contacted_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('responded_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('response', sa.String(length=255), nullable=True),
        sa.Column('converted_policy_id', sa.Integer(), nullable=True),
        sa.Column('premium_won', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'],
                                name=op.f('fk_campaign_members_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['converted_policy_id'], ['policies.id'],
                                name=op.f('fk_campaign_members_converted_policy_id_policies')),
        sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'],
                                name=op.f('fk_campaign_members_policyholder_id_policyholders'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_members')),
        sa.UniqueConstraint('campaign_id', 'policyholder_id',
                            name=op.f('uq_campaign_members_campaign_id_policyholder_id')),
    )
    with op.batch_alter_table('campaign_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_members_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_members_policyholder_id'), ['policyholder_id'], unique=False)
