"""Migration f63178090349: the outbox's task rows become activities assigned to a person, and leave the outbox."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from insurecrm import migrate
from tests import databases

BEFORE = "81ac00d6c865"  # the revision before it
TASKS = "f63178090349"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    yield from databases.empty_engine(request.param, tmp_path, "insurecrm_task_migration")


def _insert(connection, table: str, **values) -> int:
    columns = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    return connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"),
                              values).scalar_one()


def _book(connection) -> dict[str, int]:
    """A company, a branch led by a manager, an agent, a policyholder, a policy and its renewal case, and the
    outbox rows the old jobs wrote: a reminder task, an escalation task and an email."""
    now = "2026-11-20 01:00:00"
    company = _insert(connection, "org_units", code="C", name="Company", kind="company", path="/", created_at=now,
                      updated_at=now)
    connection.execute(sa.text("UPDATE org_units SET path = :path WHERE id = :id"),
                       {"path": f"/{company}/", "id": company})
    branch = _insert(connection, "org_units", code="B", name="Branch", kind="branch", parent_id=company,
                     path=f"/{company}/", created_at=now, updated_at=now)
    connection.execute(sa.text("UPDATE org_units SET path = :path WHERE id = :id"),
                       {"path": f"/{company}/{branch}/", "id": branch})
    agent = _insert(connection, "agents", code="A1", name="Agent", org_unit_id=branch, channel="agency",
                    status="active", hire_date="2020-01-01", created_at=now, updated_at=now)
    manager = _insert(connection, "users", username="manager", display_name="Manager", password_hash="x",
                      role="branch_manager", active=True, preferred_language="en", org_unit_id=branch,
                      session_token="t" * 43, created_at=now, updated_at=now)
    holder = _insert(connection, "policyholders", name="Wang Fang", kind="person", status="active",
                     owner_agent_id=agent, org_unit_id=branch, version=1, created_at=now, updated_at=now,
                     **_holder_defaults(connection))
    product = _insert(connection, "products", code="P", name="Health", line="health", term_months=12,
                      renewable=True, frequencies=json.dumps(["annual"]), **_product_defaults(connection),
                      created_at=now, updated_at=now)
    policy = _insert(connection, "policies", number="HE2026000000011", policyholder_id=holder, product_id=product,
                     servicing_agent_id=agent, org_unit_id=branch, channel="agency", business_type="new",
                     issue_date="2026-01-01", effective_date="2026-01-01", expiry_date="2026-12-20",
                     sum_insured=100000, premium=1200, frequency="annual", status="in_force",
                     status_date="2026-01-01", version=1, created_at=now, updated_at=now,
                     **_policy_defaults(connection))
    case = _insert(connection, "renewal_cases", policy_id=policy, due_date="2026-12-20", opened_on="2026-10-21",
                   assigned_agent_id=agent, org_unit_id=branch, status="open", version=1, created_at=now,
                   updated_at=now)

    def outbox(key, kind, channel, agent_id, payload):
        return _insert(connection, "outbox", idempotency_key=key, kind=kind, channel=channel, language="zh",
                       policyholder_id=holder, policy_id=policy, agent_id=agent_id, body="",
                       payload=json.dumps(payload), status="pending", attempts=0, created_at=now,
                       recipient="wang@example.com" if channel == "email" else None)

    reminder = outbox(f"renewal_reminder:policy={policy}:offset=30", "renewal_reminder", "task", agent,
                      {"renewal_case_id": case, "policy_number": "HE2026000000011", "policyholder_name": "Wang Fang"})
    connection.execute(sa.text("INSERT INTO renewal_reminders (renewal_case_id, offset_days, channel, outbox_id, "
                               "created_at) VALUES (:case, 30, 'task', :outbox, :now)"),
                       {"case": case, "outbox": reminder, "now": now})
    outbox(f"renewal_escalation:case={case}", "renewal_escalation", "task", None,
           {"renewal_case_id": case, "org_unit_id": branch, "policy_number": "HE2026000000011"})
    outbox("birthday:holder=1:year=2026", "birthday", "email", agent, {"policyholder_name": "Wang Fang"})
    return {"agent": agent, "manager": manager, "case": case, "branch": branch, "policy": policy}


def _defaults(connection, table: str, skip: set[str]) -> dict:
    """Values for the NOT NULL columns without a default that a test does not care about."""
    values = {}
    for column in sa.inspect(connection).get_columns(table):
        if column["name"] in skip or column["nullable"] or column.get("default") is not None or \
                column.get("autoincrement") is True or column["name"] == "id":
            continue
        values[column["name"]] = False if isinstance(column["type"], sa.Boolean) else \
            0 if isinstance(column["type"], sa.Integer | sa.Numeric) else "x"
    return values


def _holder_defaults(connection):
    return _defaults(connection, "policyholders", {"name", "kind", "status", "owner_agent_id", "org_unit_id",
                                                   "version", "created_at", "updated_at"})


def _product_defaults(connection):
    return _defaults(connection, "products", {"code", "name", "line", "term_months", "renewable", "frequencies",
                                              "created_at", "updated_at"})


def _policy_defaults(connection):
    return _defaults(connection, "policies", {
        "number", "policyholder_id", "product_id", "servicing_agent_id", "org_unit_id", "channel", "business_type",
        "issue_date", "effective_date", "expiry_date", "sum_insured", "premium", "frequency", "status",
        "status_date", "version", "created_at", "updated_at"})


def test_outbox_tasks_become_activities_of_their_person_and_leave_the_outbox(engine):
    migrate.upgrade(BEFORE, engine=engine)
    with engine.begin() as connection:
        book = _book(connection)
    migrate.upgrade(TASKS, engine=engine)
    with engine.connect() as connection:
        outbox = connection.execute(sa.text("SELECT kind, channel FROM outbox")).all()
        tasks = connection.execute(sa.text(
            "SELECT source_key, reason, agent_id, assignee_user_id, org_unit_id, renewal_case_id, status, due_date, "
            "subject, contact_name FROM activities ORDER BY id")).mappings().all()
        reminder_outbox = connection.execute(sa.text("SELECT outbox_id FROM renewal_reminders")).scalar_one()
    assert outbox == [("birthday", "email")]  # no task is left in the outbox; messages stay
    assert [(t["reason"], t["agent_id"], t["assignee_user_id"]) for t in tasks] == [
        ("renewal_call", book["agent"], None), ("renewal_escalation", None, book["manager"])]
    assert all(t["org_unit_id"] == book["branch"] and t["renewal_case_id"] == book["case"] for t in tasks)
    assert all(t["status"] == "planned" and str(t["due_date"]) == "2026-11-20" for t in tasks)
    assert tasks[0]["source_key"] == f"renewal_reminder:policy={book['policy']}:offset=30"
    assert tasks[0]["contact_name"] == "Wang Fang" and "HE2026000000011" in tasks[0]["subject"]
    assert reminder_outbox is None
    migrate.upgrade("head", engine=engine)  # and the revisions after it apply over the moved tasks
    assert migrate.drift(engine) == []
