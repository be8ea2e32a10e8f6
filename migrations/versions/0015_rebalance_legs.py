"""rebalance proposals: the basket's legs on one proposal, child proposals per leg

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-03 07:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legs', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_proposals_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key('fk_proposals_parent_id', 'proposals', ['parent_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_constraint('fk_proposals_parent_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_proposals_parent_id'))
        batch_op.drop_column('parent_id')
        batch_op.drop_column('legs')
