"""program year: intake period, kecamatan allocations, verification rounds, BPJS results, announcements

Revision ID: f1a2b3c4d5e6
Revises: e7b3c9d1f4a2
Create Date: 2026-12-03 19:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'f1a2b3c4d5e6'
down_revision: str | None = 'e7b3c9d1f4a2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('announcement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('audience_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('region_code', sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcement_officer_id'), ['officer_id'], unique=False)

    op.create_table('kecamatanallocation',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kecamatan_code', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('established', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['year'], ['programyear.year'], ),
    sa.PrimaryKeyConstraint('year', 'kecamatan_code')
    )
    op.create_table('programaudit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('programaudit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programaudit_subject'), ['subject'], unique=False)

    op.create_table('verificationround',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verificationround', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verificationround_year'), ['year'], unique=False)

    op.create_table('verificationitem',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('nik_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('nik_encrypted', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('desa_code', sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
    sa.Column('kecamatan_code', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('coverage_start', sa.Date(), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('premarks', sa.JSON(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('reason_text', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['verificationround.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verificationitem', schema=None) as batch_op:
        batch_op.create_index('ix_verification_round_desa_status', ['round_id', 'desa_code', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_verificationitem_kecamatan_code'), ['kecamatan_code'], unique=False)

    with op.batch_alter_table('activeparticipant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kpj_encrypted', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('proposal_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('end_reason', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True))
        batch_op.create_foreign_key('fk_activeparticipant_proposal_id', 'proposal', ['proposal_id'], ['id'])

    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('announcement_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outboundmessage_announcement_id'), ['announcement_id'], unique=False)
        batch_op.create_foreign_key('fk_outboundmessage_announcement_id', 'announcement', ['announcement_id'], ['id'])

    with op.batch_alter_table('programyear', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intake_open', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('intake_close', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('fix_close', sa.Date(), nullable=True))

    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bpjs_status', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
        batch_op.add_column(sa.Column('bpjs_kpj_encrypted', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('bpjs_effective', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('bpjs_note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('bpjs_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_column('bpjs_at')
        batch_op.drop_column('bpjs_note')
        batch_op.drop_column('bpjs_effective')
        batch_op.drop_column('bpjs_kpj_encrypted')
        batch_op.drop_column('bpjs_status')

    with op.batch_alter_table('programyear', schema=None) as batch_op:
        batch_op.drop_column('fix_close')
        batch_op.drop_column('intake_close')
        batch_op.drop_column('intake_open')

    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outboundmessage_announcement_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outboundmessage_announcement_id'))
        batch_op.drop_column('announcement_id')

    with op.batch_alter_table('activeparticipant', schema=None) as batch_op:
        batch_op.drop_constraint('fk_activeparticipant_proposal_id', type_='foreignkey')
        batch_op.drop_column('end_reason')
        batch_op.drop_column('ended_on')
        batch_op.drop_column('proposal_id')
        batch_op.drop_column('kpj_encrypted')

    with op.batch_alter_table('verificationitem', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verificationitem_kecamatan_code'))
        batch_op.drop_index('ix_verification_round_desa_status')

    op.drop_table('verificationitem')
    with op.batch_alter_table('verificationround', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verificationround_year'))

    op.drop_table('verificationround')
    with op.batch_alter_table('programaudit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programaudit_subject'))

    op.drop_table('programaudit')
    op.drop_table('kecamatanallocation')
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announcement_officer_id'))

    op.drop_table('announcement')
