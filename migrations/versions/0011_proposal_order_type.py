"""proposals carry the order they place: type and limit price

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-03 06:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.storage.dbtypes

revision: str = '0011'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_type', sqlmodel.sql.sqltypes.AutoString(length=8),
                                      nullable=True))
        batch_op.add_column(sa.Column('limit_price', engine.storage.dbtypes.Money(length=64),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_column('limit_price')
        batch_op.drop_column('order_type')
