"""announce changes of users and tokens (PostgreSQL)

A statement-level trigger on ``users`` and ``api_tokens`` sends ``NOTIFY insurecrm_auth`` when a change commits, so
that each process's cache of API token checks (insurecrm/token_cache.py) drops what it holds at once. Nothing on
SQLite, which has no notifications (the cache is off there).

Revision ID: f7a2c4e6b8d1
Revises: e5c1a7f3b9d4
Create Date: 2026-12-07 08:45:00.000000
"""

from alembic import op

revision = 'f7a2c4e6b8d1'
down_revision = 'e5c1a7f3b9d4'
branch_labels = None
depends_on = None

TABLES = ("users", "api_tokens")
FUNCTION = """
CREATE OR REPLACE FUNCTION insurecrm_announce_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('insurecrm_auth', TG_TABLE_NAME);
    RETURN NULL;
END $$"""
TRIGGER = """
CREATE TRIGGER {table}_announce_auth_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION insurecrm_announce_auth_change()"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table in TABLES:
        op.execute(TRIGGER.format(table=table))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_announce_auth_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS insurecrm_announce_auth_change()")
