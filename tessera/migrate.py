"""Schema migrations (Alembic), run from code so the CLI and tests share them."""

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> AlembicConfig:
    """An Alembic configuration for `database_url`, without an alembic.ini."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Bring the database at `database_url` up to the newest schema."""
    command.upgrade(alembic_config(database_url), "head")
