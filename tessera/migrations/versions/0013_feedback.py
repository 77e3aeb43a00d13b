"""feedback: a visitor's score and reason chips, once per finished ticket

Revision ID: 0013_feedback
Revises: 0012_report_rollups
Create Date: 2026-12-03 08:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_feedback'
down_revision = '0012_report_rollups'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feedback',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('given_at', sa.DateTime(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.CheckConstraint('score BETWEEN 1 AND 5', name='ck_feedback_score_range'),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], name='fk_feedback_site_id_site'),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name='fk_feedback_ticket_id_ticket'),
        sa.PrimaryKeyConstraint('id', name='pk_feedback'),
        sa.UniqueConstraint('ticket_id', name='uq_feedback_ticket_id'),
    )
    op.create_index('ix_feedback_site_given_at', 'feedback', ['site_id', 'given_at'])


def downgrade() -> None:
    op.drop_index('ix_feedback_site_given_at', table_name='feedback')
    op.drop_table('feedback')
