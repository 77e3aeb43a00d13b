"""service days: closed dates, walk-in stop, closed-through day; staff page language

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_dates', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('walk_in_stop_minutes', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('closed_through', sa.Date(), nullable=True))
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page_language', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('page_language')
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('closed_through')
        batch_op.drop_column('walk_in_stop_minutes')
        batch_op.drop_column('closed_dates')
