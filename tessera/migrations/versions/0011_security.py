"""security: token expiry, server-side staff sessions, device secrets and pairing

Revision ID: 0011_security
Revises: 0010_waiting_list
Create Date: 2026-12-02 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_security'
down_revision = '0010_waiting_list'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
    op.create_table(
        'staff_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'],
                                name='fk_staff_session_staff_id_staff', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_staff_session'),
        sa.UniqueConstraint('key_hash', name='uq_staff_session_key_hash'),
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('paired_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('pairing_code_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pairing_expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_device_secret_hash', ['secret_hash'])


def downgrade() -> None:
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_constraint('uq_device_secret_hash', type_='unique')
        for column in ('last_seen_at', 'pairing_expires_at', 'pairing_code_hash', 'paired_at',
                       'secret_hash'):
            batch_op.drop_column(column)
    op.drop_table('staff_session')
    with op.batch_alter_table('staff_token', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
