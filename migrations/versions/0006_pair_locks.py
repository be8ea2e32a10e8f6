"""pair locks set by protections

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 22:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.storage.dbtypes


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pair_locks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=True),
    sa.Column('pair', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('until', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('unlocked_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pair_locks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pair_locks_bot_id'), ['bot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pair_locks_until'), ['until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pair_locks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pair_locks_until'))
        batch_op.drop_index(batch_op.f('ix_pair_locks_bot_id'))
    op.drop_table('pair_locks')
