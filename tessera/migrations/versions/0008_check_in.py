"""check-in: a step's appointment due time, an appointment's ticket

Revision ID: 0008_check_in
Revises: 0007
Create Date: 2026-12-02 01:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_check_in'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appointment_due', sa.DateTime(), nullable=True))
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ticket_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_appointment_ticket_id_ticket', 'ticket',
                                    ['ticket_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_appointment_ticket_id_ticket', type_='foreignkey')
        batch_op.drop_column('ticket_id')
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.drop_column('appointment_due')
