"""appointments: a service's appointment settings, and the appointment table

Revision ID: 0007
Revises: 0006_step_reserved_counter
Create Date: 2026-12-02 00:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006_step_reserved_counter'
branch_labels = None
depends_on = None

ACTIVE_APPOINTMENT = "state IN ('held', 'booked', 'checked_in')"


def upgrade() -> None:
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appointment_settings', sa.JSON(), nullable=True))
    op.create_table(
        'appointment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('start', sa.DateTime(), nullable=False),
        sa.Column('end', sa.DateTime(), nullable=False),
        sa.Column('seat', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('state', sa.Enum('held', 'booked', 'checked_in', 'cancelled', 'missed',
                                   'expired', name='appointment_state', native_enum=False,
                                   length=16), nullable=False),
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('hold_expires_at', sa.DateTime(), nullable=True),
        sa.Column('idempotency_key', sa.String(length=128), nullable=True),
        sa.Column('request_fingerprint', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['service_id'], ['service.id'],
                                name='fk_appointment_service_id_service'),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], name='fk_appointment_site_id_site'),
        sa.PrimaryKeyConstraint('id', name='pk_appointment'),
        sa.UniqueConstraint('site_id', 'idempotency_key',
                            name='uq_appointment_site_id_idempotency_key'),
        sa.UniqueConstraint('token', name='uq_appointment_token'),
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index('ix_appointment_service_start', ['service_id', 'start'])
        for name, columns in (('uq_appointment_seat', ['service_id', 'start', 'seat']),
                              ('uq_appointment_code', ['site_id', 'code'])):
            batch_op.create_index(name, columns, unique=True,
                                  sqlite_where=sa.text(ACTIVE_APPOINTMENT),
                                  postgresql_where=sa.text(ACTIVE_APPOINTMENT))


def downgrade() -> None:
    op.drop_table('appointment')
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_column('appointment_settings')
