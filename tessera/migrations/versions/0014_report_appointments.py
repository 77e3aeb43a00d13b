"""report roll-ups of appointments: one row per booked appointment of each closed day

Revision ID: 0014_report_appointments
Revises: 0013_feedback
Create Date: 2026-12-03 09:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_report_appointments'
down_revision = '0013_feedback'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'report_appointment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('service_day', sa.Date(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('slot_hour', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('ending', sa.String(length=16), nullable=True),
        sa.Column('punctuality_minutes', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'],
                                name='fk_report_appointment_site_id_site'),
        sa.PrimaryKeyConstraint('id', name='pk_report_appointment'),
    )
    op.create_index('ix_report_appointment_site_day', 'report_appointment',
                    ['site_id', 'service_day'])
    # Days rolled up before appointments were are rolled up again, with them.
    op.execute("DELETE FROM report_day")


def downgrade() -> None:
    op.drop_index('ix_report_appointment_site_day', table_name='report_appointment')
    op.drop_table('report_appointment')
