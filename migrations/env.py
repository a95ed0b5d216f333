"""Alembic environment: runs with the connection given by :mod:`insurecrm.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from insurecrm.migrate import compare_options


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, **compare_options())
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
