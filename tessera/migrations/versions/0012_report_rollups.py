"""report roll-ups: one row per step of each closed service day, rebuilt from the events

Revision ID: 0012_report_rollups
Revises: 0011_security
Create Date: 2026-12-02 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_report_rollups'
down_revision = '0011_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'report_step',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('service_day', sa.Date(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('ordinal', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=True),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('arrival_hour', sa.Integer(), nullable=False),
        sa.Column('arrival_weekday', sa.Integer(), nullable=False),
        sa.Column('queued', sa.Boolean(), nullable=False),
        sa.Column('waited_minutes', sa.Float(), nullable=True),
        sa.Column('handling_minutes', sa.Float(), nullable=True),
        sa.Column('ending', sa.String(length=16), nullable=True),
        sa.Column('in_language', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], name='fk_report_step_site_id_site'),
        sa.PrimaryKeyConstraint('id', name='pk_report_step'),
    )
    op.create_index('ix_report_step_site_day', 'report_step', ['site_id', 'service_day'])
    op.create_table(
        'report_day',
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('service_day', sa.Date(), nullable=False),
        sa.Column('rolled_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], name='fk_report_day_site_id_site'),
        sa.PrimaryKeyConstraint('site_id', 'service_day', name='pk_report_day'),
    )
    op.create_table(
        'report_watermark',
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'],
                                name='fk_report_watermark_site_id_site'),
        sa.PrimaryKeyConstraint('site_id', name='pk_report_watermark'),
    )


def downgrade() -> None:
    op.drop_table('report_watermark')
    op.drop_table('report_day')
    op.drop_index('ix_report_step_site_day', table_name='report_step')
    op.drop_table('report_step')
