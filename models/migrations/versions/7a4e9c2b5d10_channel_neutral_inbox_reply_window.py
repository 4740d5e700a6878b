"""channel-neutral inbox (string ids, a received sequence), reply windows, outbox purpose and message ids

Revision ID: 7a4e9c2b5d10
Revises: 3f6c2a1d7e58
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '7a4e9c2b5d10'
down_revision: str | None = '3f6c2a1d7e58'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The inbox is rebuilt: its key was (channel, integer id); a WhatsApp message id is a string, and the
    # order of a replay is the order received, not the ids' (a wamid has none).
    op.rename_table('inboundupdate', 'inboundupdate_old')
    with op.batch_alter_table('inboundupdate_old', schema=None) as batch_op:
        batch_op.drop_index('ix_inboundupdate_handled_at')
    op.create_table(
        'inboundupdate',
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('update_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('handled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('seq'),
        sa.UniqueConstraint('channel', 'update_id', name='uq_inbound_channel_update'),
    )
    op.create_index('ix_inboundupdate_handled_at', 'inboundupdate', ['handled_at'], unique=False)
    op.execute(
        "INSERT INTO inboundupdate (channel, update_id, payload, received_at, handled_at)"
        " SELECT channel, CAST(update_id AS VARCHAR(128)), payload, received_at, handled_at"
        " FROM inboundupdate_old ORDER BY received_at, update_id"
    )
    op.drop_table('inboundupdate_old')

    op.create_table(
        'chatwindow',
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('last_inbound_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('template_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('channel', 'chat_id'),
    )
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.alter_column(
            'update_id',
            existing_type=sa.BigInteger(),
            type_=sqlmodel.sql.sqltypes.AutoString(length=128),
            existing_nullable=True,
            postgresql_using='update_id::varchar(128)',
        )
        batch_op.add_column(sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(
            sa.Column('message_ref', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.create_index('ix_outboundmessage_message_ref', ['message_ref'], unique=False)
    with op.batch_alter_table('cardcopy', schema=None) as batch_op:
        batch_op.alter_column(
            'message_ref',
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            type_=sqlmodel.sql.sqltypes.AutoString(length=128),
            existing_nullable=True,
        )


def downgrade() -> None:
    op.execute("UPDATE outboundmessage SET status = 'pending' WHERE status = 'waiting'")
    with op.batch_alter_table('cardcopy', schema=None) as batch_op:
        batch_op.alter_column(
            'message_ref',
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=128),
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_nullable=True,
        )
    # Ids that are not numbers (WhatsApp's) cannot go back into an integer column.
    op.execute("UPDATE outboundmessage SET update_id = NULL WHERE channel <> 'telegram'")
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.drop_index('ix_outboundmessage_message_ref')
        batch_op.drop_column('message_ref')
        batch_op.drop_column('purpose')
        batch_op.alter_column(
            'update_id',
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=128),
            type_=sa.BigInteger(),
            existing_nullable=True,
            postgresql_using='update_id::bigint',
        )
    op.drop_table('chatwindow')
    op.execute("DELETE FROM inboundupdate WHERE channel <> 'telegram'")
    op.rename_table('inboundupdate', 'inboundupdate_new')
    with op.batch_alter_table('inboundupdate_new', schema=None) as batch_op:
        batch_op.drop_index('ix_inboundupdate_handled_at')
    op.create_table(
        'inboundupdate',
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('handled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('channel', 'update_id'),
    )
    op.create_index('ix_inboundupdate_handled_at', 'inboundupdate', ['handled_at'], unique=False)
    op.execute(
        "INSERT INTO inboundupdate (channel, update_id, payload, received_at, handled_at)"
        " SELECT channel, CAST(update_id AS BIGINT), payload, received_at, handled_at FROM inboundupdate_new"
    )
    op.drop_table('inboundupdate_new')
