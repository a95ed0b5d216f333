"""The API serves a policyholder, and a page of 20, in a fixed number of queries: one for the token and its user,
the record with its tags and household relationships (or the page with its tags and its count) — however many
tags, relationships and policyholders there are. Counts, not times: the times are in ``make bench``
(docs/benchmarks.md)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from insurecrm.db import db
from insurecrm.models import Role
from policyholders.models import PolicyholderRelationship, PolicyholderTag, RelationshipKind

#: the transaction control of the tests' rolled-back outer transaction, which a server does not run
TEST_PLUMBING = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def statements():
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(TEST_PLUMBING):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def book(make, session, agent, size: int, *, extras: int) -> list:
    """``size`` policyholders of ``agent``, each with ``extras`` tags and relationships to the next ones."""
    holders = [make.policyholder(agent) for _ in range(size)]
    for index, holder in enumerate(holders):
        session.add_all(PolicyholderTag(policyholder_id=holder.id, tag=f"tag{n}") for n in range(extras))
        session.add_all(PolicyholderRelationship(from_policyholder_id=holder.id,
                                                 to_policyholder_id=holders[(index + n + 1) % size].id,
                                                 kind=RelationshipKind.SIBLING) for n in range(min(extras, size - 1)))
    session.commit()
    return holders


@pytest.fixture
def every_request_checks_its_token(monkeypatch):
    """The token checked by its query on each request, as when the process's cache cannot answer (a first
    request, SQLite; tests/test_token_cache.py counts the requests it answers)."""
    from insurecrm.token_cache import cache

    monkeypatch.setattr(cache, "max_age", 0.0)


@pytest.mark.parametrize("size, extras", [(21, 1), (45, 4)])
def test_one_policyholder_and_a_page_of_20_in_fixed_queries(api, make, session, size, extras,
                                                             every_request_checks_its_token):
    agent = make.agent()
    client = api(make.user(Role.AGENT, agent_id=agent.id))
    holders = book(make, session, agent, size, extras=extras)
    with statements() as one:
        response = client.get(f"/api/v1/policyholders/{holders[0].id}")
    assert response.status_code == 200
    assert len(response.json["tags"]) == extras and len(response.json["relationships"]) == extras
    assert len(one) == 2, one  # token and user; the record with its tags and relationships
    with statements() as page:
        response = client.get("/api/v1/policyholders?per_page=20")
    assert response.status_code == 200 and response.json["meta"]["total"] == size
    assert len(response.json["items"]) == 20 and all(len(item["tags"]) == extras for item in response.json["items"])
    assert len(page) == 2, page  # token and user; the page with its tags and, in the same statement, the count
    with statements() as past_the_end:
        response = client.get("/api/v1/policyholders?per_page=20&page=9")
    assert response.status_code == 200 and response.json["items"] == []
    assert response.json["meta"] == {"total": size, "page": 9, "per_page": 20, "pages": -(-size // 20)}
    assert len(past_the_end) == 3, past_the_end  # a page with no row to carry the count counts apart


def test_a_revoked_expired_or_inactive_token_is_refused_by_the_same_query(api, make, session):
    from datetime import timedelta

    from insurecrm.auth import user_for_token
    from insurecrm.clock import now

    user = make.user(Role.AGENT, agent_id=make.agent().id)
    client = api(user)
    token = client.headers["Authorization"].removeprefix("Bearer ")
    assert user_for_token(token) is user
    assert user_for_token(token, now() + timedelta(days=365)) is None  # expired
    user.active = False
    session.commit()
    assert user_for_token(token) is None and client.get("/api/v1/policyholders").status_code == 401
    user.active = True
    session.commit()
    assert client.delete("/api/v1/auth/token").status_code == 204
    assert user_for_token(token) is None and client.get("/api/v1/policyholders").status_code == 401
    assert user_for_token("not a token") is None
