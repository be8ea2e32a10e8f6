"""algo orders: TWAP/VWAP parents, slices linked from orders.algo_id

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-03 05:54:41.582350
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.storage.dbtypes

revision: str = '0014'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('algo_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=True),
    sa.Column('trade_id', sa.Integer(), nullable=True),
    sa.Column('symbol', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('intent', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('amount', engine.storage.dbtypes.Money(length=64), nullable=False),
    sa.Column('limit_price', engine.storage.dbtypes.Money(length=64), nullable=True),
    sa.Column('slices', sa.Integer(), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('started_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('arrival_price', engine.storage.dbtypes.Money(length=64), nullable=False),
    sa.Column('slices_done', sa.Integer(), nullable=False),
    sa.Column('slices_sent', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('filled', engine.storage.dbtypes.Money(length=64), nullable=False),
    sa.Column('average_price', engine.storage.dbtypes.Money(length=64), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('updated_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], ),
    sa.ForeignKeyConstraint(['trade_id'], ['trades.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('algo_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_algo_orders_bot_id'), ['bot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_algo_orders_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_algo_orders_trade_id'), ['trade_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('algo_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_algo_id'), ['algo_id'], unique=False)
        batch_op.create_foreign_key('fk_orders_algo_id', 'algo_orders', ['algo_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint('fk_orders_algo_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_algo_id'))
        batch_op.drop_column('algo_id')

    with op.batch_alter_table('algo_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_algo_orders_trade_id'))
        batch_op.drop_index(batch_op.f('ix_algo_orders_state'))
        batch_op.drop_index(batch_op.f('ix_algo_orders_bot_id'))

    op.drop_table('algo_orders')
