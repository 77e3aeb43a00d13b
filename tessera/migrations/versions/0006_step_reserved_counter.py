"""step reserved for a named desk (a transfer keeps the visitor's place)

Revision ID: 0006_step_reserved_counter
Revises: 0005
Create Date: 2026-12-08 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_step_reserved_counter'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reserved_counter_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_step_reserved_counter_id_counter', 'counter',
                                    ['reserved_counter_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.drop_constraint('fk_step_reserved_counter_id_counter', type_='foreignkey')
        batch_op.drop_column('reserved_counter_id')
