"""one active step per counter

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ACTIVE_AT_DESK = "state IN ('called', 'serving')"


def upgrade() -> None:
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.create_index('uq_step_active_counter', ['counter_id'], unique=True,
                              sqlite_where=sa.text(ACTIVE_AT_DESK),
                              postgresql_where=sa.text(ACTIVE_AT_DESK))


def downgrade() -> None:
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.drop_index('uq_step_active_counter')
