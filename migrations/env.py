"""Alembic environment: runs with the connection given by :mod:`insurecrm.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from insurecrm.db import UTCDateTime
from insurecrm.registry import metadata


def _compare_type(context, inspected_column, metadata_column, inspected_type, metadata_type):
    # UTCDateTime is a TypeDecorator over DateTime(timezone=True): compare what it stores
    if isinstance(metadata_type, UTCDateTime):
        return context.impl.compare_type(inspected_column, metadata_column.copy(type_=metadata_type.impl))
    return None


def compare_options() -> dict:
    return {"compare_type": _compare_type, "compare_server_default": False, "render_as_batch": True,
            "target_metadata": metadata}


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
