"""the hall message: a line a manager sets for a site's call displays

Revision ID: 0015_hall_message
Revises: 0014_report_appointments
Create Date: 2026-12-03 10:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_hall_message'
down_revision = '0014_report_appointments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('site') as batch:
        batch.add_column(sa.Column('hall_message', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('site') as batch:
        batch.drop_column('hall_message')
