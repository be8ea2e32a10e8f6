"""futures columns on trades: trading mode, margin mode, leverage, liquidation price,
funding fees

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-03 06:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.storage.dbtypes


revision: str = '0008'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trading_mode', sqlmodel.sql.sqltypes.AutoString(length=8),
                                      server_default='spot', nullable=False))
        batch_op.add_column(sa.Column('margin_mode', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=True))
        batch_op.add_column(sa.Column('leverage', engine.storage.dbtypes.Money(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('liquidation_price', engine.storage.dbtypes.Money(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('funding_fees', engine.storage.dbtypes.Money(length=64),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_column('funding_fees')
        batch_op.drop_column('liquidation_price')
        batch_op.drop_column('leverage')
        batch_op.drop_column('margin_mode')
        batch_op.drop_column('trading_mode')
