"""name sort keys of policyholders and agents (Chinese names sort by pinyin)

Adds ``name_sort_key`` (insurecrm.name_sort) to ``policyholders`` and ``agents`` (NOT NULL, empty by default, so
that SQLite adds it in place without rebuilding the tables), fills it for every existing row from the name, and
indexes it. Self-contained apart from the key function, which is the one the application keeps the column with.

Revision ID: 4c381f420796
Revises: f63178090349
Create Date: 2026-12-04 02:56:40.755594
"""

from alembic import op
import sqlalchemy as sa

from insurecrm.name_sort import name_sort_key

revision = '4c381f420796'
down_revision = 'f63178090349'
branch_labels = None
depends_on = None

TABLES = ("agents", "policyholders")
KEY_TYPE = sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql')
BATCH = 5000


def upgrade() -> None:
    for name in TABLES:
        op.add_column(name, sa.Column('name_sort_key', KEY_TYPE, nullable=False, server_default=''))
        _backfill(name)
        op.create_index(op.f(f'ix_{name}_name_sort_key'), name, ['name_sort_key'], unique=False)


def _backfill(name: str) -> None:
    """Every row's key from its name, a batch at a time (keyset on id: no offset scans on a large book)."""
    connection = op.get_bind()
    table = sa.table(name, sa.column('id', sa.Integer), sa.column('name', sa.String),
                     sa.column('name_sort_key', sa.String))
    update = sa.update(table).where(table.c.id == sa.bindparam('row_id')).values(name_sort_key=sa.bindparam('key'))
    last = 0
    while True:
        rows = connection.execute(sa.select(table.c.id, table.c.name).where(table.c.id > last)
                                  .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        connection.execute(update, [{"row_id": row.id, "key": name_sort_key(row.name)} for row in rows])
        last = rows[-1].id


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_index(op.f(f'ix_{name}_name_sort_key'), table_name=name)
        if op.get_bind().dialect.name == "sqlite":  # in place (SQLite 3.35+): no rebuild of a referenced table
            op.execute(f'ALTER TABLE "{name}" DROP COLUMN name_sort_key')
        else:
            op.drop_column(name, 'name_sort_key')
