"""program figures per year (budget, target, contributions, coverage start, income, ages, desil), 2026 seeded

Revision ID: 5c1d0e7a9b21
Revises: f2e077412a6f
Create Date: 2026-11-25 00:30:00.000000
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5c1d0e7a9b21'
down_revision: str | None = 'f2e077412a6f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ('budget', sa.Integer()),
    ('target', sa.Integer()),
    ('jkk_per_month', sa.Integer()),
    ('jkm_per_month', sa.Integer()),
    ('coverage_start', sa.Date()),
    ('declared_income', sa.Integer()),
    ('age_min', sa.Integer()),
    ('age_max', sa.Integer()),
    ('desil_threshold', sa.Integer()),
)

# Kabupaten Samosir's 2026 figures (the program this bot was built for); another kabupaten replaces them
# with `lanjutkan program set`. JKK 1 % and JKM Rp6.800 of a declared income of Rp1.000.000 a month.
SAMOSIR_2026 = {
    'year': 2026, 'new_quota': 320, 'new_established': 0, 'budget': 395_904_000, 'target': 1815,
    'jkk_per_month': 10_000, 'jkm_per_month': 6_800, 'coverage_start': dt.date(2026, 1, 1),
    'declared_income': 1_000_000, 'age_min': 15, 'age_max': 65, 'desil_threshold': 4,
}


def upgrade() -> None:
    with op.batch_alter_table('programyear', schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
    program = sa.table('programyear', sa.column('year', sa.Integer()), sa.column('new_quota', sa.Integer()),
                       sa.column('new_established', sa.Integer()),
                       *(sa.column(name, kind) for name, kind in COLUMNS))
    connection = op.get_bind()
    existing = connection.execute(sa.select(program.c.year).where(program.c.year == 2026)).first()
    if existing is None:
        op.bulk_insert(program, [SAMOSIR_2026])
    else:  # places already counted this year stay; the figures are filled in
        figures = {k: v for k, v in SAMOSIR_2026.items() if k not in {'year', 'new_quota', 'new_established'}}
        connection.execute(program.update().where(program.c.year == 2026).values(**figures))


def downgrade() -> None:
    with op.batch_alter_table('programyear', schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
