"""per-chat alert modes set from the chat (/notify)

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-03 06:05:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.storage.dbtypes

revision: str = '0012'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notify_modes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destination', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('set_by', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
    sa.Column('updated_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('destination', 'kind')
    )
    with op.batch_alter_table('notify_modes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_modes_destination'), ['destination'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notify_modes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notify_modes_destination'))
    op.drop_table('notify_modes')
