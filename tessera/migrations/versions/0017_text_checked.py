"""checked translations per text (service texts, category names); retiring services

Revision ID: 0017_text_checked
Revises: 0016_organisation_manager
Create Date: 2026-12-03 13:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_text_checked'
down_revision = '0016_organisation_manager'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('service_text') as batch:
        batch.add_column(sa.Column('checked', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    with op.batch_alter_table('category') as batch:
        batch.add_column(sa.Column('unchecked_languages', sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))
    with op.batch_alter_table('service') as batch:
        batch.add_column(sa.Column('retiring', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # Until now a site said which languages were unchecked, for all its texts at once:
    # each text in such a language starts unchecked.
    connection = op.get_bind()
    site = sa.table('site', sa.column('id', sa.String), sa.column('unchecked_translations',
                                                                  sa.JSON))
    service = sa.table('service', sa.column('id', sa.Integer), sa.column('site_id', sa.String))
    service_text = sa.table('service_text', sa.column('service_id', sa.Integer),
                            sa.column('language', sa.String), sa.column('checked', sa.Boolean))
    category = sa.table('category', sa.column('id', sa.Integer),
                        sa.column('site_id', sa.String), sa.column('name', sa.JSON),
                        sa.column('unchecked_languages', sa.JSON))
    for site_id, unchecked in connection.execute(sa.select(site.c.id,
                                                           site.c.unchecked_translations)):
        if not unchecked:
            continue
        of_site = sa.select(service.c.id).where(service.c.site_id == site_id)
        connection.execute(service_text.update().where(
            service_text.c.service_id.in_(of_site), service_text.c.language.in_(unchecked))
            .values(checked=False))
        for category_id, name in connection.execute(
                sa.select(category.c.id, category.c.name).where(category.c.site_id == site_id)):
            connection.execute(category.update().where(category.c.id == category_id).values(
                unchecked_languages=[code for code in name or {} if code in unchecked]))


def downgrade() -> None:
    with op.batch_alter_table('service') as batch:
        batch.drop_column('retiring')
    with op.batch_alter_table('category') as batch:
        batch.drop_column('unchecked_languages')
    with op.batch_alter_table('service_text') as batch:
        batch.drop_column('checked')
