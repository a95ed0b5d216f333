"""Alembic, driven from the application's settings (no alembic.ini to keep in sync)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine

import migrations
from insurecrm.db import db

MIGRATIONS_DIR = Path(migrations.__file__).parent


def compare_options() -> dict:
    """How autogenerate and ``db check`` compare the database with the models."""
    from insurecrm.registry import metadata

    return {"compare_type": True, "compare_server_default": False, "render_as_batch": True,
            "target_metadata": metadata}


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(revision: str = "head", engine: Engine | None = None) -> None:
    """Migrate the database up to ``revision``, in one transaction."""
    with (engine or db.engine).begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(revision: str, engine: Engine | None = None) -> None:
    with (engine or db.engine).begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def revision(message: str, engine: Engine | None = None) -> None:
    """Write a new migration file from the difference between the models and the database."""
    with (engine or db.engine).begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)


def drift(bind: Engine | Connection | None = None) -> list:
    """Differences between the database's schema and the models (empty when they agree)."""
    bind = bind if bind is not None else db.session.connection()
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return drift(connection)
    context = MigrationContext.configure(bind, opts=compare_options())
    return compare_metadata(context, compare_options()["target_metadata"])
