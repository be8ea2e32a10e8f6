"""bot leases: one engine worker owns each bot at a time

Revision ID: 0009
Revises: 0014
Create Date: 2026-12-03 06:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.storage.dbtypes

revision: str = '0009'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bot_leases',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('expires_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acquired_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', engine.storage.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('bot_leases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bot_leases_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bot_leases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bot_leases_expires_at'))
    op.drop_table('bot_leases')
