"""secret rotation: progress per table, the key id each registry batch was hashed with

Revision ID: c4d8e1f2a3b6
Revises: 9d3b7f1c2e84
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'c4d8e1f2a3b6'
down_revision: str | None = '9d3b7f1c2e84'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'secretrotation',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('registrybatch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hash_key', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('registrybatch', schema=None) as batch_op:
        batch_op.drop_column('hash_key')
    op.drop_table('secretrotation')
