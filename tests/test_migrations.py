"""Migrations build the whole schema on an empty database, and the result equals the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from insurecrm import migrate
from tests import databases


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request, tmp_path):
    yield from databases.empty_engine(request.param, tmp_path, "insurecrm_migrate")


def test_upgrade_builds_schema_equal_to_models(empty_engine):
    migrate.upgrade(engine=empty_engine)
    assert migrate.drift(empty_engine) == []
    tables = set(sa.inspect(empty_engine).get_table_names())
    assert {"policyholders", "policies", "renewal_cases", "audit_log", "outbox"} <= tables


def test_drift_is_reported_when_database_differs(empty_engine):
    migrate.upgrade(engine=empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE policyholders ADD COLUMN shoe_size INTEGER"))
    differences = migrate.drift(empty_engine)
    assert any("shoe_size" in str(d) for d in differences)


def test_downgrade_to_base_and_up_again(empty_engine):
    migrate.upgrade(engine=empty_engine)
    migrate.downgrade("base", engine=empty_engine)
    assert set(sa.inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine=empty_engine)
    assert migrate.drift(empty_engine) == []


def test_a_migrated_database_has_the_default_pipeline(empty_engine):
    from agents.pipeline.stages import DEFAULT_STAGES

    migrate.upgrade(engine=empty_engine)
    with empty_engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT code, probability FROM pipeline_stages ORDER BY position")).all()
    assert [(code, int(p)) for code, p in rows] == [(s["code"], int(s["probability"])) for s in DEFAULT_STAGES]
