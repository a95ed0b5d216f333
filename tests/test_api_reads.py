"""API reads run without a transaction around them (no BEGIN and ROLLBACK round trips); writes keep theirs.

The tests' own session is bound to an outer transaction, where this does not apply: this test runs an application
on a database of its own, as a server does.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from insurecrm import create_app
from insurecrm.auth import issue_token
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.registry import metadata
from tests import databases
from tests.factories import Factory

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def server_app(backend):
    """An application on a fresh database of its own, its session bound to the engine (as in production)."""
    url = databases.create_pg_database("insurecrm_reads")
    try:
        app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "reads", "WTF_CSRF_ENABLED": False})
        metadata.create_all(db.engine)
        yield app
    finally:
        db.session.remove()
        db.engine.dispose()
        databases.drop_pg_database(url)
        db.configure(backend)  # the rest of the session's tests use the backend's database again


def test_reads_in_autocommit_writes_in_a_transaction_on_the_same_pooled_connection(server_app):
    with server_app.app_context():
        make = Factory(db.session)
        agent = make.agent()
        holder = make.policyholder(agent, name="Zhang Wei")
        token, _row = issue_token(make.user(Role.AGENT, agent_id=agent.id))
        db.session.commit()
        holder_id = holder.id
    headers = {"Authorization": f"Bearer {token}"}
    seen: list[tuple[str, bool]] = []

    def record(conn, _cursor, statement, *_args):
        seen.append((statement.split()[0], conn.connection.dbapi_connection.autocommit))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        client = server_app.test_client()
        read = client.get(f"/api/v1/policyholders/{holder_id}", headers=headers)
        assert read.status_code == 200 and read.json["name"] == "Zhang Wei"
        assert seen and all(autocommit for _statement, autocommit in seen)
        seen.clear()
        stale = client.patch(f"/api/v1/policyholders/{holder_id}", json={"version": 99, "name": "Li"}, headers=headers)
        assert stale.status_code == 409
        write = client.patch(f"/api/v1/policyholders/{holder_id}", json={"version": 1, "name": "Wei Zhang"},
                             headers=headers)
        assert write.status_code == 200
        assert seen and not any(autocommit for _statement, autocommit in seen)
        assert client.get(f"/api/v1/policyholders/{holder_id}", headers=headers).json["name"] == "Wei Zhang"
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert db.engine.pool.checkedout() == 0 and db.engine.pool.checkedin() >= 1
