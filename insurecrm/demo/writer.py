"""Writing generated rows: Core bulk inserts, or COPY on PostgreSQL, in the session's transaction.

Rows carry explicit ids, so parents and children go out table by table in dependency order
(``metadata.sorted_tables``) without a round trip per row. Column defaults the ORM would apply
(``created_at``, ``version``...) are filled in here once per batch. Afterwards the PostgreSQL
sequences are moved past the ids used, and the business-number counters past the serials used.
"""

from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Integer, Table, func, insert, select, text, update
from sqlalchemy.orm import Session

from insurecrm.demo.context import Rows
from insurecrm.name_sort import name_sort_key
from insurecrm.registry import metadata
from policies.models import NumberSequence
from policyholders.name_keys import name_key

#: below this many rows a COPY is not worth its set-up
COPY_MIN_ROWS = 100


def id_tables() -> list[Table]:
    """Tables whose primary key is a single integer ``id`` (the ones whose ids the generator allocates)."""
    return [t for t in metadata.sorted_tables
            if [c.name for c in t.primary_key.columns] == ["id"] and isinstance(t.c.id.type, Integer)]


def first_free_ids(session: Session) -> dict[str, int]:
    """Per table, the first id after those already used."""
    return {t.name: (session.scalar(select(func.max(t.c.id))) or 0) + 1 for t in id_tables()}


def current_serials(session: Session) -> dict[str, int]:
    return {name: value for name, value in session.execute(select(NumberSequence.name, NumberSequence.value))}


class BookWriter:
    """Inserts :class:`~insurecrm.demo.context.Rows` and counts what it wrote."""

    def __init__(self, session: Session, *, use_copy: bool | None = None) -> None:
        self.session = session
        self.dialect = session.connection().dialect.name
        self.use_copy = self.dialect == "postgresql" if use_copy is None else use_copy
        self.counts: Counter[str] = Counter()
        self._tables = {t.name: t for t in metadata.sorted_tables}

    def write(self, rows: Rows) -> None:
        for name, table in self._tables.items():
            batch = rows.tables.get(name)
            if batch:
                self._write(table, batch)
                self.counts[name] += len(batch)

    def _write(self, table: Table, batch: list[dict[str, Any]]) -> None:
        defaults = _defaults(table)
        if "name_sort_key" in table.c:  # what the ORM's mapper event does for one record (insurecrm.name_sort)
            for row in batch:
                row.setdefault("name_sort_key", name_sort_key(row["name"]))
        if table.name == "policyholders":  # policyholders.models' mapper event for the duplicates' name key
            for row in batch:
                row.setdefault("name_key", name_key(row["name"]))
        if self.use_copy and len(batch) >= COPY_MIN_ROWS and not any(isinstance(c.type, JSON) for c in table.c):
            self._copy(table, batch, defaults)
        else:
            self.session.execute(insert(table), [{**defaults, **row} for row in batch])

    def _copy(self, table: Table, batch: list[dict[str, Any]], defaults: dict[str, Any]) -> None:
        from psycopg import sql  # PostgreSQL only: psycopg is an optional dependency

        columns = [c.name for c in table.c if c.name in defaults or c.name in batch[0]]
        values = itemgetter(*columns)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns)))
        raw = self.session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in batch:
                copy.write_row(values({**defaults, **row}))

    def finish(self, serials: dict[str, int]) -> None:
        """Move the number counters and (on PostgreSQL) the id sequences past what was written."""
        existing = current_serials(self.session)
        for name, value in sorted(serials.items()):
            if name not in existing:
                self.session.execute(insert(NumberSequence).values(name=name, value=value))
            elif value > existing[name]:
                self.session.execute(update(NumberSequence).where(NumberSequence.name == name).values(value=value))
        if self.dialect == "postgresql":
            for table in id_tables():
                if self.counts[table.name]:
                    self.session.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), max(id)) FROM \"{table.name}\""
                    ))


def _defaults(table: Table) -> dict[str, Any]:
    """Values for the columns a row leaves out: the column default (evaluated once), else NULL."""
    defaults: dict[str, Any] = {}
    for column in table.c:
        if column.default is not None:
            defaults[column.name] = column.default.arg(None) if column.default.is_callable else column.default.arg
        elif column.nullable and column.server_default is None:
            defaults[column.name] = None
    return defaults
