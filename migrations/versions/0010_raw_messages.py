"""raw market-data messages kept for audit

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 06:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.storage.dbtypes

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('raw_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('arrivals', sa.LargeBinary(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('raw_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_raw_messages_received_at'), ['received_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('raw_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_raw_messages_received_at'))
    op.drop_table('raw_messages')
