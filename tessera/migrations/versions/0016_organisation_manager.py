"""the organisation manager role: staff.role holds up to 24 characters

Revision ID: 0016_organisation_manager
Revises: 0015_hall_message
Create Date: 2026-12-03 13:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016_organisation_manager'
down_revision = '0015_hall_message'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff') as batch:
        batch.alter_column('role', existing_type=sa.String(length=16),
                           type_=sa.String(length=24), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('staff') as batch:
        batch.alter_column('role', existing_type=sa.String(length=24),
                           type_=sa.String(length=16), existing_nullable=False)
