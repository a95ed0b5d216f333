"""Building the demo book: empty database only, users for every role, deterministic, usable afterwards."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask.cli import ScriptInfo
from sqlalchemy import func, select, text

from agents.models import Agent, OrgUnit, agent_bank_partners
from insurecrm.cli import main
from insurecrm.demo import book as demo_book
from insurecrm.demo import book_is_empty, build_demo_book, print_logins
from insurecrm.demo.book import BookGenerator, load_stages
from insurecrm.demo.context import BookPlan
from insurecrm.demo.digest import book_digest, rows_digest
from insurecrm.models import AuditLog, Role, User
from insurecrm.passwords import verify_password
from policies.models import Policy, ProductLine
from policies.numbers import allocate_policy_number
from policyholders.models import Policyholder
from tests.demo.conftest import PASSWORD, SEED, SIZE, TODAY, _hash_once


def _digest_of_generation(seed: int) -> str:
    plan = BookPlan(policyholders=SIZE, seed=seed, today=TODAY, password_hash="unused", stages=load_stages())
    return rows_digest(rows for rows, _count in BookGenerator(plan).chunks())


def test_book_is_empty_until_the_demo_is_built(session):
    assert book_is_empty()
    build_demo_book(policyholders=20, seed=1, password=PASSWORD, today=TODAY, progress=False)
    assert not book_is_empty()
    assert session.scalar(select(func.count()).select_from(Policyholder)) == 20


def test_same_seed_gives_the_same_book(book, session):
    assert book_digest(session) == _digest_of_generation(SEED)
    assert _digest_of_generation(SEED + 1) != _digest_of_generation(SEED)


def test_organisation_and_users_for_every_role_with_working_links(book, session):
    users = session.scalars(select(User)).all()
    by_role = {role: [u for u in users if u.role == role] for role in Role}
    assert all(by_role.values()), {role: len(found) for role, found in by_role.items()}
    names = {u.username for u in users}
    assert {"admin", "manager1", "agent1", "specialist1", "referrer1", "actuary1"} <= names
    stationed = {agent_id for (agent_id,) in session.execute(select(agent_bank_partners.c.agent_id))}
    for user in by_role[Role.AGENT]:
        assert user.agent.channel.value == "agency" and user.agent.status.value == "active"
    for user in by_role[Role.BANCASSURANCE_SPECIALIST]:
        assert user.agent.channel.value == "bancassurance" and user.agent_id in stationed
    assert all(u.org_unit.kind.value == "branch" for u in by_role[Role.BRANCH_MANAGER])
    assert all(u.referrer is not None for u in by_role[Role.BANK_REFERRER])
    assert len({u.password_hash for u in users}) == 1  # hashed once
    assert verify_password(users[0].password_hash, PASSWORD)
    units = {u.id: u for u in session.scalars(select(OrgUnit))}
    for unit in units.values():
        parent_path = units[unit.parent_id].path if unit.parent_id else "/"
        assert unit.path == f"{parent_path}{unit.id}/"
    assert 3 <= sum(u.kind.value == "branch" for u in units.values()) <= 4
    agents = session.scalars(select(Agent)).all()
    assert {a.channel.value for a in agents} == {"agency", "bancassurance", "direct", "telesales"}
    assert all(a.licence_number and a.licence_expiry for a in agents)
    assert all(a.manager_id for a in agents if units[a.org_unit_id].kind.value == "team")


def test_one_audit_row_for_the_book_and_a_second_book_is_refused(book, session):
    rows = session.scalars(select(AuditLog).where(AuditLog.entity_type == "demo_book")).all()
    assert len(rows) == 1
    assert rows[0].action == "create" and rows[0].actor_label == "cli:demo"
    assert rows[0].changes["policyholders"] == [None, SIZE]
    assert rows[0].changes["policies"] == [None, book["policies"]]
    before = session.scalar(select(func.count()).select_from(Policy))
    with pytest.raises(RuntimeError, match="empty one only"):
        build_demo_book(policyholders=10, seed=2, password=PASSWORD, today=TODAY, progress=False)
    assert session.scalar(select(func.count()).select_from(Policy)) == before


def test_later_inserts_get_fresh_ids_and_numbers(book, session):
    unit = session.scalars(select(OrgUnit)).first()
    holder = Policyholder(name="新客户", org_unit_id=unit.id)
    session.add(holder)
    session.flush()
    assert holder.id > SIZE
    number = allocate_policy_number(ProductLine.HEALTH, TODAY.year)
    assert session.scalar(select(func.count()).where(Policy.number == number)) == 0


def test_cli_loads_the_demo_once_and_prints_logins(app, session):
    script = ScriptInfo(create_app=lambda: app)
    runner = app.test_cli_runner()
    args = ["demo", "--policyholders", "12", "--seed", "3", "--password", "s3cret", "--if-empty"]
    first = runner.invoke(main, args, obj=script)
    assert first.exit_code == 0, first.output
    assert "password: s3cret" in first.output and "agent1" in first.output
    again = runner.invoke(main, args, obj=script)
    assert again.exit_code == 0 and "already has data" in again.output
    assert "(the password you chose)" in again.output
    refused = runner.invoke(main, args[:-1], obj=script)
    assert refused.exit_code == 1 and "empty one only" in refused.output


def test_print_logins_without_users(session, capsys):
    print_logins(password=None)
    assert "No users yet" in capsys.readouterr().out


def test_book_as_of_another_day_is_dated_accordingly(session):
    build_demo_book(policyholders=10, seed=5, password=PASSWORD, today=date(2024, 3, 1), progress=False)
    assert session.scalar(select(func.max(Policy.issue_date))) <= date(2024, 3, 1)


def test_every_name_has_its_pinyin_sort_key(book, session):
    from agents.models import Agent
    from insurecrm.name_sort import name_sort_key
    from policyholders.models import Policyholder

    for model in (Policyholder, Agent):
        rows = session.execute(select(model.name, model.name_sort_key)).all()
        assert rows and all(key == name_sort_key(name) for name, key in rows)


def planner_statistics(session, table: str) -> int:
    """How many column statistics the database keeps for ``table`` (what ``ANALYZE`` writes)."""
    if session.get_bind().dialect.name == "sqlite":
        if not session.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
            return 0
        return session.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}).scalar()
    return session.execute(text("SELECT count(*) FROM pg_stats WHERE tablename = :t AND schemaname = 'public'"),
                           {"t": table}).scalar()


def test_the_book_ends_with_fresh_planner_statistics(session, monkeypatch):
    # without them the planner takes the filled tables for empty and picks plans hundreds of times slower
    monkeypatch.setattr(demo_book, "hash_password", _hash_once)
    before = {table: planner_statistics(session, table) for table in ("policies", "installments", "activities")}
    build_demo_book(policyholders=30, seed=SEED, password=PASSWORD, today=TODAY, progress=False)
    after = {table: planner_statistics(session, table) for table in before}
    assert all(after[table] > before[table] for table in before), (before, after)


def test_agents_find_churn_warnings_from_the_start(book, session):
    # the book ends with the night's work of the day before: the churn scores are there for My day and the report
    from reports.models import ChurnScore

    scores = session.scalars(select(ChurnScore)).all()
    assert scores and all(score.scored_on == TODAY - timedelta(days=1) for score in scores)
    assert any(score.score > 0 for score in scores)
