"""Rows a caller has already read through the scope rule (insurecrm.scope.CheckedRows): find_visible answers
for them without a query, and only for them and only for that user; anything else is looked up as ever."""

from __future__ import annotations

from insurecrm.models import Role
from insurecrm.scope import CheckedRows, find_visible, scoped_select
from policyholders.models import Policyholder
from tests.helpers import counted_queries


def test_a_vouched_row_is_found_without_a_query_and_nothing_else_is(app, make):
    alice, bob = make.agent(), make.agent()
    mine, theirs, other = make.policyholder(owner=alice), make.policyholder(owner=bob), make.policyholder(owner=alice)
    agent = make.user(Role.AGENT, agent_id=alice.id)
    colleague = make.user(Role.AGENT, agent_id=bob.id)
    make.session.commit()
    with app.test_request_context():
        read = make.session.scalars(scoped_select(Policyholder, agent).where(Policyholder.id == mine.id)).all()
        checked = CheckedRows(agent, read)
        with checked:
            with counted_queries(fresh=False) as statements:
                assert find_visible(Policyholder, mine.id, agent) is read[0]
            assert statements == []
            with counted_queries(fresh=False) as statements:
                assert find_visible(Policyholder, other.id, agent).id == other.id  # not vouched for: asked
                assert find_visible(Policyholder, theirs.id, agent) is None  # outside the scope: still refused
                assert find_visible(Policyholder, mine.id, colleague) is None  # another user: their own scope
            assert len(statements) == 3
        with counted_queries(fresh=False) as statements:
            assert find_visible(Policyholder, mine.id, agent).id == mine.id  # the block is over: asked again
        assert len(statements) == 1
        with checked, counted_queries(fresh=False) as statements:  # made once, entered again (the next row)
            assert find_visible(Policyholder, mine.id, agent) is read[0]
        assert statements == []
        assert find_visible(Policyholder, None, agent) is None
