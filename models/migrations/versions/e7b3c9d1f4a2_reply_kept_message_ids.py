"""replies sent directly keep the ids of their messages that showed a full NIK, for the next turn anywhere

Revision ID: e7b3c9d1f4a2
Revises: c4d8e1f2a3b6
Create Date: 2026-12-03 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e7b3c9d1f4a2'
down_revision: str | None = 'c4d8e1f2a3b6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kept', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.drop_column('kept')
