"""replies traced by Message-ID

Each email the outbox sends keeps its ``Message-ID`` (``outbox.message_id``, unique, made when the row is first
claimed); an inbound email that names one in ``In-Reply-To`` or ``References`` records the row it answers
(``inbound_messages.reply_to_outbox_id``), and its campaign member is found by ``campaign_members.outbox_id``
(indexed). Emails sent before have no Message-ID kept: replies to them are matched by address, as before.

Revision ID: 1bd640adf6ee
Revises: f7a2c4e6b8d1
Create Date: 2026-12-07 10:21:50.414649
"""

import sqlalchemy as sa
from alembic import op

revision = '1bd640adf6ee'
down_revision = 'f7a2c4e6b8d1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_members_outbox_id'), ['outbox_id'], unique=False)

    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to_outbox_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_inbound_messages_reply_to_outbox_id_outbox'), 'outbox',
                                    ['reply_to_outbox_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_outbox_message_id'), ['message_id'])


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_outbox_message_id'), type_='unique')
        batch_op.drop_column('message_id')

    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_inbound_messages_reply_to_outbox_id_outbox'), type_='foreignkey')
        batch_op.drop_column('reply_to_outbox_id')

    with op.batch_alter_table('campaign_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_members_outbox_id'))
