"""messages: the outbox of confirmations, reminders and changes sent to visitors

Revision ID: 0009_messages
Revises: 0008_check_in
Create Date: 2026-12-02 06:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_messages'
down_revision = '0008_check_in'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'],
                                name='fk_message_appointment_id_appointment'),
        sa.PrimaryKeyConstraint('id', name='pk_message'),
        sa.UniqueConstraint('appointment_id', 'kind', 'channel',
                            name='uq_message_appointment_id_kind_channel'),
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_pending', ['sent_at', 'due_at'])


def downgrade() -> None:
    op.drop_table('message')
