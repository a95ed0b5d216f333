"""The API token check answered from each process's memory (insurecrm/token_cache.py), and dropped the moment a token
or a user changes: by this process's own commit at once, by any other writer through PostgreSQL's notification.
SQLite has no notifications: there every request queries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text, update

from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import ApiToken, Role
from insurecrm.token_cache import cache
from tests import databases
from tests.helpers import counted_queries


def listening(timeout: float = 10.0) -> bool:
    """Start this process's listener (as a first request would) and wait until it listens."""
    listener = cache._ensure_listener()
    deadline = time.monotonic() + timeout
    while not listener.listening and time.monotonic() < deadline:
        time.sleep(0.01)
    return listener.listening


def token_checks(seen: list[str]) -> int:
    return sum("api_tokens" in statement for statement in seen)


@pytest.fixture
def agent_api(api, make):
    assert listening()
    user = make.user(Role.AGENT, agent_id=make.agent().id)
    return user, api(user)


def test_the_cache_serves_postgresql_only(app):
    assert cache.enabled == (db.dialect == "postgresql")  # SQLite has no notifications: every request queries


@pytest.mark.postgresql_only
def test_a_second_request_is_answered_without_checking_the_token_again(agent_api):
    _user, client = agent_api
    with counted_queries(fresh=False) as first:
        assert client.get("/api/v1/policyholders").status_code == 200
    with counted_queries(fresh=False) as second:
        assert client.get("/api/v1/policyholders").status_code == 200
    assert token_checks(first) == 1 and token_checks(second) == 0
    assert len(second) == len(first) - 1


@pytest.mark.postgresql_only
def test_deactivation_a_new_role_and_revocation_take_effect_at_once(agent_api, session):
    user, client = agent_api
    client.get("/api/v1/policyholders")
    user.role = Role.ACTUARY  # an actuary reads pseudonyms: the next answer must be the actuary's
    session.commit()
    holder_names = client.get("/api/v1/policyholders").json
    assert holder_names is not None
    with counted_queries(fresh=False) as seen:
        client.get("/api/v1/policyholders")
    assert token_checks(seen) == 0  # cached again, with the new role
    user.active = False
    session.commit()
    assert client.get("/api/v1/policyholders").status_code == 401
    user.active, user.role = True, Role.AGENT
    session.commit()
    assert client.get("/api/v1/policyholders").status_code == 200
    assert client.delete("/api/v1/auth/token").status_code == 204
    assert client.get("/api/v1/policyholders").status_code == 401


@pytest.mark.postgresql_only
def test_a_bulk_update_of_tokens_or_users_empties_the_cache_at_its_commit(agent_api, session):
    user, client = agent_api
    client.get("/api/v1/policyholders")
    session.execute(update(ApiToken).where(ApiToken.user_id == user.id).values(revoked_at=clock.now()))
    assert client.get("/api/v1/policyholders").status_code == 200  # not committed yet: still valid
    session.commit()
    assert client.get("/api/v1/policyholders").status_code == 401


@pytest.mark.postgresql_only
def test_an_expired_token_is_refused_even_when_remembered(agent_api):
    _user, client = agent_api
    client.get("/api/v1/policyholders")
    with clock.frozen(clock.now() + timedelta(days=2)):
        assert client.get("/api/v1/policyholders").status_code == 401


@pytest.mark.postgresql_only
def test_an_entry_read_before_a_change_is_not_kept(agent_api):
    _user, _client = agent_api
    generation = cache.generation()
    cache.forget_all()  # a change arrived while the token was being read
    cache.store("some-token-hash", {"id": 1}, clock.now() + timedelta(hours=1), generation)
    assert cache.lookup("some-token-hash", clock.now()) is None


@pytest.mark.postgresql_only
def test_a_lost_listening_connection_turns_the_cache_off_until_it_listens_again(agent_api, session):
    _user, client = agent_api
    client.get("/api/v1/policyholders")
    listener = cache._listener
    killer = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    with killer.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE query LIKE 'LISTEN insurecrm_auth%' AND datname = current_database()"))
    killer.dispose()
    deadline = time.monotonic() + 5
    while listener.listening and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not listener.listening
    with counted_queries(fresh=False) as seen:
        assert client.get("/api/v1/policyholders").status_code == 200
    assert token_checks(seen) == 1  # checked by its query while nobody listens
    assert listening(timeout=15)  # and listening again after a pause


# -- across processes: two gunicorn workers -----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def _requests(url: str, token: str, count: int = 40) -> list[int]:
    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(lambda _: _status(url, token), range(count)))


def _timed_requests(url: str, token: str, seconds: float) -> list[tuple[float, int]]:
    """(when it was sent, status) of requests sent a few at a time for ``seconds``."""
    end = time.monotonic() + seconds

    def keep_asking(_worker) -> list[tuple[float, int]]:
        answers = []
        while time.monotonic() < end:
            sent = time.monotonic()
            answers.append((sent, _status(url, token)))
        return answers

    with ThreadPoolExecutor(max_workers=4) as pool:
        return [answer for answers in pool.map(keep_asking, range(4)) for answer in answers]


def _workers(access_log, status: str | None = None) -> set[str]:
    lines = access_log.read_text().splitlines() if access_log.exists() else []
    return {line.split()[0] for line in lines if status is None or line.split()[1] == status}


MAKE_TOKEN = """
from insurecrm import create_app
from insurecrm.auth import issue_token
from insurecrm.db import db
from insurecrm.models import Role, User
app = create_app()
with app.app_context():
    user = User(username="cached", display_name="Cached", password_hash="x", role=Role.ADMIN)
    db.session.add(user)
    db.session.flush()
    token, _row = issue_token(user)
    db.session.commit()
    print(token)
"""


@pytest.mark.slow
def test_a_change_committed_anywhere_stops_the_token_on_every_worker(tmp_path):
    if not databases.pg_available():
        if databases.pg_required():
            pytest.fail("PostgreSQL is required (INSURECRM_REQUIRE_PG=1) but does not answer")
        pytest.skip("PostgreSQL not reachable")
    url = databases.create_pg_database("insurecrm_token_cache")
    env = {**os.environ, "INSURECRM_DATABASE_URL": url, "INSURECRM_SECRET_KEY": "token-cache-tests",
           "INSURECRM_INSTANCE_PATH": str(tmp_path)}
    port = _free_port()
    server = None
    try:
        subprocess.run([sys.executable, "-m", "insurecrm.cli", "db", "upgrade"], env=env, check=True,
                       capture_output=True, timeout=300)
        token = subprocess.run([sys.executable, "-c", MAKE_TOKEN], env=env, check=True, capture_output=True,
                               text=True, timeout=120).stdout.strip().splitlines()[-1]
        with open(tmp_path / "server.log", "w") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                 "--access-logfile", str(tmp_path / "access.log"), "--access-logformat", "%(p)s %(s)s",
                 "insurecrm:create_app()"], env=env, stdout=log, stderr=subprocess.STDOUT)
        read = f"http://127.0.0.1:{port}/api/v1/policyholders?per_page=1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _status(read, token) == 200:
                    break
            except OSError:
                time.sleep(0.2)
        # both workers answer (a few requests at a time), and remember the token
        access_log = tmp_path / "access.log"
        while time.monotonic() < deadline and len(_workers(access_log)) < 2:
            assert set(_requests(read, token)) == {200}
            time.sleep(0.2)
        assert len(_workers(access_log)) == 2
        # revoked by a hand-typed UPDATE outside the application, committed by another process: each worker stops
        # accepting the token when PostgreSQL's notification reaches it (a few milliseconds); requests are sent
        # from the commit on, and the last one accepted must have left within that time
        writer = create_engine(url)
        with writer.begin() as connection:
            connection.execute(text("UPDATE api_tokens SET revoked_at = now()"))
        committed = time.monotonic()
        writer.dispose()
        answers = _timed_requests(read, token, seconds=1.0)
        accepted_after = [sent - committed for sent, status in answers if status == 200]
        assert not accepted_after or max(accepted_after) < 0.25, accepted_after
        assert {status for sent, status in answers if sent - committed >= 0.25} == {401}
        time.sleep(0.5)
        assert len(_workers(access_log, "401")) == 2  # both workers refused it
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        databases.drop_pg_database(url)


@pytest.mark.postgresql_only
def test_the_users_table_and_the_tokens_table_announce_their_changes(app, session):
    triggers = set(session.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))
    assert {"users_announce_auth_change", "api_tokens_announce_auth_change"} <= triggers


@pytest.mark.postgresql_only
def test_the_cache_remembers_a_bounded_number_of_tokens(agent_api, monkeypatch):
    from insurecrm import token_cache

    monkeypatch.setattr(token_cache, "MAX_ENTRIES", 3)
    later = clock.now() + timedelta(hours=1)
    for number in range(7):
        cache.store(f"token-{number}", {"id": number}, later, cache.generation())
    assert len(cache._entries) <= 3 and cache.lookup("token-6", clock.now()) is not None
