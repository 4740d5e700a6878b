"""replies in the outbox: a turn's reply recorded with its change, sent after the commit

Revision ID: 3f6c2a1d7e58
Revises: 0ee05863b3d3
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '3f6c2a1d7e58'
down_revision: str | None = '0ee05863b3d3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('payload', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('update_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('progress', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index('ix_outbound_chat', ['channel', 'chat_id', 'id'], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM outboundmessage WHERE reply")
    op.execute("UPDATE outboundmessage SET status = 'pending' WHERE status = 'direct'")
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_chat')
        batch_op.drop_column('progress')
        batch_op.drop_column('holder')
        batch_op.drop_column('update_id')
        batch_op.drop_column('payload')
        batch_op.drop_column('reply')
