"""inbound messages and consent withdrawals

``inbound_messages``: every SMS and email the gateways deliver to the webhooks, matched to one policyholder or
waiting for a manager; ``consent_withdrawals``: when and how a policyholder withdrew a channel's consent themselves
(the unsubscribe link, an opt-out keyword).

Revision ID: d4b8f6e2a0c3
Revises: c3a9e5d1f7b2
Create Date: 2026-12-07 05:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

from insurecrm.db import UTCDateTime

revision = 'd4b8f6e2a0c3'
down_revision = 'c3a9e5d1f7b2'
branch_labels = None
depends_on = None


def _channel(name: str) -> sa.Enum:
    return sa.Enum('sms', 'email', name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        'inbound_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', _channel('messagechannel'), nullable=False),
        sa.Column('sender', sa.String(length=255), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('in_reply_to', sa.String(length=255), nullable=True),
        sa.Column('external_id', sa.String(length=255), nullable=True),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('match', sa.Enum('matched', 'unknown', 'ambiguous', name='matchoutcome', native_enum=False,
                                   length=32), nullable=False),
        sa.Column('candidates', sa.Integer(), nullable=False),
        sa.Column('policyholder_id', sa.Integer(), nullable=True),
        sa.Column('interaction_id', sa.Integer(), nullable=True),
        sa.Column('opt_out', sa.Boolean(), nullable=False),
        sa.Column('handled_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('handled_by_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['handled_by_user_id'], ['users.id'],
                                name=op.f('fk_inbound_messages_handled_by_user_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['interaction_id'], ['interactions.id'],
                                name=op.f('fk_inbound_messages_interaction_id_interactions'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'],
                                name=op.f('fk_inbound_messages_policyholder_id_policyholders'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
        sa.UniqueConstraint('external_id', name=op.f('uq_inbound_messages_external_id')),
    )
    op.create_index(op.f('ix_inbound_messages_sender'), 'inbound_messages', ['sender'], unique=False)
    op.create_index(op.f('ix_inbound_messages_received_at'), 'inbound_messages', ['received_at'], unique=False)
    op.create_index('ix_inbound_messages_waiting', 'inbound_messages', ['policyholder_id', 'handled_at'],
                    unique=False)
    op.create_table(
        'consent_withdrawals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('policyholder_id', sa.Integer(), nullable=False),
        sa.Column('channel', _channel('messagechannel'), nullable=False),
        sa.Column('method', sa.Enum('link', 'keyword', name='withdrawalmethod', native_enum=False, length=32),
                  nullable=False),
        sa.Column('withdrawn_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('inbound_message_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['inbound_message_id'], ['inbound_messages.id'],
                                name=op.f('fk_consent_withdrawals_inbound_message_id_inbound_messages'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['policyholder_id'], ['policyholders.id'],
                                name=op.f('fk_consent_withdrawals_policyholder_id_policyholders'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_withdrawals')),
    )
    op.create_index(op.f('ix_consent_withdrawals_policyholder_id'), 'consent_withdrawals', ['policyholder_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_consent_withdrawals_policyholder_id'), table_name='consent_withdrawals')
    op.drop_table('consent_withdrawals')
    op.drop_index('ix_inbound_messages_waiting', table_name='inbound_messages')
    op.drop_index(op.f('ix_inbound_messages_received_at'), table_name='inbound_messages')
    op.drop_index(op.f('ix_inbound_messages_sender'), table_name='inbound_messages')
    op.drop_table('inbound_messages')
