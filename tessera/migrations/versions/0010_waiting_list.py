"""waiting list: visitors waiting for a place in a service between two days

Revision ID: 0010_waiting_list
Revises: 0009_messages
Create Date: 2026-12-02 06:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_waiting_list'
down_revision = '0009_messages'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'waiting_list_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'],
                                name='fk_waiting_list_entry_appointment_id_appointment'),
        sa.ForeignKeyConstraint(['service_id'], ['service.id'],
                                name='fk_waiting_list_entry_service_id_service'),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'],
                                name='fk_waiting_list_entry_site_id_site'),
        sa.PrimaryKeyConstraint('id', name='pk_waiting_list_entry'),
        sa.UniqueConstraint('token', name='uq_waiting_list_entry_token'),
    )
    with op.batch_alter_table('waiting_list_entry', schema=None) as batch_op:
        batch_op.create_index('ix_waiting_list_entry_service_state', ['service_id', 'state'])


def downgrade() -> None:
    op.drop_table('waiting_list_entry')
