"""order types: time in force, trigger/trailing prices, post/reduce-only, emulation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 06:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.storage.dbtypes


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('type', existing_type=sqlmodel.sql.sqltypes.AutoString(length=8),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=24),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('time_in_force',
                                      sqlmodel.sql.sqltypes.AutoString(length=8),
                                      server_default='GTC', nullable=False))
        batch_op.add_column(sa.Column('trigger_price', engine.storage.dbtypes.Money(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('trailing_pct', engine.storage.dbtypes.Money(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('trail_ref', engine.storage.dbtypes.Money(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('post_only', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('reduce_only', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('emulated', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('triggered_at',
                                      engine.storage.dbtypes.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('reserved', engine.storage.dbtypes.Money(length=64),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for name in ('reserved', 'triggered_at', 'emulated', 'reduce_only', 'post_only',
                     'trail_ref', 'trailing_pct', 'trigger_price', 'time_in_force'):
            batch_op.drop_column(name)
        batch_op.alter_column('type', existing_type=sqlmodel.sql.sqltypes.AutoString(length=24),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=8),
                              existing_nullable=False)
