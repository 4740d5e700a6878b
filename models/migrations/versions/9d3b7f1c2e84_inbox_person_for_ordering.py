"""inbox rows name their person: several processes apply one person's updates in the order received

Revision ID: 9d3b7f1c2e84
Revises: 7a4e9c2b5d10
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '9d3b7f1c2e84'
down_revision: str | None = '7a4e9c2b5d10'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('inboundupdate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.create_index('ix_inbound_person', ['channel', 'person', 'seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inboundupdate', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_person')
        batch_op.drop_column('person')
