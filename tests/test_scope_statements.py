"""Statements built once per scope (insurecrm.scope.StatementPerScope) and the count of a list (insurecrm.api.count_of):
a statement is shared only by readers whose scope is the same SQL with the same values, and a count counts what the
page's statement gives."""

from __future__ import annotations

from flask import g
from sqlalchemy import select

from insurecrm.api import count_of
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import StatementPerScope, scoped_select
from policyholders.models import Policyholder, PolicyholderTag


def test_a_statement_is_built_once_per_scope_and_never_shared_across_scopes(app, make):
    branch = make.org_unit()
    alice, bob = make.agent(branch), make.agent(branch)
    holders = {agent.id: make.policyholder(owner=agent) for agent in (alice, bob)}
    built = []

    def build(condition):
        built.append(condition)
        return select(Policyholder.id).where(condition)

    per_scope = StatementPerScope(Policyholder, build)
    readers = {"alice": make.user(Role.AGENT, agent_id=alice.id),
               "alice again": make.user(Role.AGENT, agent_id=alice.id),
               "bob": make.user(Role.AGENT, agent_id=bob.id), "admin": make.user(Role.ADMIN),
               "manager": make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id)}
    with app.test_request_context():
        statements = {name: per_scope(user) for name, user in readers.items()}
        seen = {name: set(db.session.scalars(statement)) for name, statement in statements.items()}
    assert statements["alice"] is statements["alice again"]  # two users with one scope share it
    assert len(built) == 4 and len({id(statement) for statement in statements.values()}) == 4
    assert seen["alice"] == {holders[alice.id].id} and seen["bob"] == {holders[bob.id].id}
    assert seen["manager"] == seen["admin"] >= {holders[alice.id].id, holders[bob.id].id}


def test_a_full_cache_starts_again_and_still_answers_by_scope(app, make):
    agents = [make.agent() for _ in range(3)]
    holders = [make.policyholder(owner=agent) for agent in agents]
    per_scope = StatementPerScope(Policyholder, lambda condition: select(Policyholder.id).where(condition), size=2)
    with app.test_request_context():
        for _round in range(2):
            for agent, holder in zip(agents, holders, strict=True):
                user = make.user(Role.AGENT, agent_id=agent.id)
                assert list(db.session.scalars(per_scope(user))) == [holder.id]
    assert len(per_scope._built) <= 2


def test_the_count_of_a_list_counts_the_rows_of_its_page_statement(app, make):
    agent = make.agent()
    tagged = make.policyholder(owner=agent)
    make.policyholder(owner=agent)
    db.session.add_all([PolicyholderTag(policyholder_id=tagged.id, tag="vip"),
                        PolicyholderTag(policyholder_id=tagged.id, tag="golf")])
    db.session.commit()
    with app.test_request_context():
        g.user = make.user(Role.AGENT, agent_id=agent.id)
        plain = scoped_select(Policyholder).order_by(Policyholder.id)
        joined = scoped_select(Policyholder).join(PolicyholderTag).order_by(Policyholder.id)  # a row per tag
        grouped = select(Policyholder.owner_agent_id).where(Policyholder.owner_agent_id == agent.id).group_by(
            Policyholder.owner_agent_id)
        assert db.session.scalar(count_of(plain)) == 2
        assert db.session.scalar(count_of(joined)) == 2 == len(db.session.scalars(joined).all())
        assert db.session.scalar(count_of(grouped)) == 1
        assert db.session.scalar(count_of(plain.limit(1))) == 1
