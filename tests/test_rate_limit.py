"""The login rate limit holds per client across every process of a deployment: counters in the database.

The storage is tested on each database directly (its counters commit apart from any request, so they stay outside
the tests' rolled-back transaction), then end to end: real gunicorn with two workers, 30 login attempts from one
client, exactly 10 processed, on the web login and on the API's token endpoint.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import select, update
from werkzeug.test import Client
from werkzeug.wrappers import Response

from insurecrm.db import db
from insurecrm.models import RateLimitCounter
from insurecrm.ratelimit import DatabaseStorage
from insurecrm.web import behind_proxies
from tests import databases

# -- the storage ------------------------------------------------------------------------------------------------


@pytest.fixture
def storage(backend):
    """A ``database://`` storage on this backend's database, emptied before and after."""
    if db.engine is None or db.engine.url.render_as_string(hide_password=False) != backend:
        db.configure(backend)
    store = DatabaseStorage("database://")
    store.reset()
    yield store
    store.reset()


def test_database_is_a_storage_scheme_of_the_limits_library():
    assert isinstance(storage_from_string("database://"), DatabaseStorage)


def test_hits_are_counted_per_key(storage):
    assert [storage.incr("login/10.0.0.1", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.incr("login/10.0.0.2", 60) == 1
    assert storage.incr("login/10.0.0.1", 60, amount=2) == 5
    assert (storage.get("login/10.0.0.1"), storage.get("login/10.0.0.2"), storage.get("login/unseen")) == (5, 1, 0)
    assert storage.get_expiry("login/10.0.0.1") == pytest.approx(time.time() + 60, abs=5)


def test_a_window_that_has_ended_starts_over_and_is_cleared(storage):
    storage.incr("login/10.0.0.1", 60)
    storage.incr("login/10.0.0.1", 60)
    storage.incr("login/10.0.0.9", 60)
    past = datetime.now(UTC) - timedelta(seconds=1)
    with db.engine.begin() as connection:
        connection.execute(update(RateLimitCounter).values(expires_at=past))
    assert storage.get("login/10.0.0.1") == 0
    assert storage.incr("login/10.0.0.1", 60) == 1
    with db.engine.connect() as connection:  # the new window cleared the ended ones
        assert connection.execute(select(RateLimitCounter.key)).scalars().all() == ["login/10.0.0.1"]


def test_clear_reset_check_and_long_keys(storage):
    long_key = "LIMITER/" + "x" * 400
    assert storage.incr(long_key, 60) == 1 and storage.incr(long_key, 60) == 2
    storage.incr("login/10.0.0.1", 60)
    storage.clear(long_key)
    assert storage.get(long_key) == 0 and storage.get("login/10.0.0.1") == 1
    assert storage.reset() == 1
    assert storage.check() is True


def test_concurrent_hits_are_each_counted_once(storage):
    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(lambda _: storage.incr("login/10.0.0.1", 60), range(60)))
    assert sorted(counts) == list(range(1, 61))


def test_the_fixed_window_strategy_lets_exactly_the_limit_through(storage):
    limiter = FixedWindowRateLimiter(storage)
    ten_a_minute = RateLimitItemPerMinute(10)
    assert [limiter.hit(ten_a_minute, "10.0.0.1") for _ in range(12)] == [True] * 10 + [False] * 2
    assert limiter.hit(ten_a_minute, "10.0.0.2")  # another client has its own count
    assert limiter.get_window_stats(ten_a_minute, "10.0.0.1").remaining == 0


# -- end to end: two gunicorn workers ---------------------------------------------------------------------------

ATTEMPTS = 30
LIMIT = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def gunicorn(request, tmp_path):
    """Base URL of real gunicorn with 2 workers over a migrated database, and its access log (pid method path)."""
    if request.param == "postgresql":
        if not databases.pg_available():
            if databases.pg_required():
                pytest.fail("PostgreSQL is required (INSURECRM_REQUIRE_PG=1) but does not answer")
            pytest.skip("PostgreSQL not reachable")
        url = databases.create_pg_database("insurecrm_ratelimit")
    else:
        url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    env = {**os.environ, "INSURECRM_DATABASE_URL": url, "INSURECRM_SECRET_KEY": "rate-limit-tests",
           "INSURECRM_INSTANCE_PATH": str(tmp_path), "INSURECRM_LOGIN_RATE_LIMIT": f"{LIMIT} per minute"}
    env.pop("INSURECRM_RATELIMIT_STORAGE_URI", None)  # the default: the database
    subprocess.run([sys.executable, "-m", "insurecrm.cli", "db", "upgrade"], env=env, check=True,
                   capture_output=True, timeout=300)
    port, access_log = _free_port(), tmp_path / "access.log"
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(m)s %(U)s", "insurecrm:create_app()"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server)
        yield base, access_log
    finally:
        server.terminate()
        server.wait(timeout=30)
        if request.param == "postgresql":
            databases.drop_pg_database(url)


def _wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/login", timeout=2):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start in time")


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers={**headers, "Connection": "close"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def _attempts(send) -> list[int]:
    # a few at a time, as a guessing client would: both workers answer (the access log shows it)
    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(lambda _: send(), range(ATTEMPTS)))


def _web_login_attempts(base: str) -> list[int]:
    with urllib.request.urlopen(base + "/login") as page:  # noqa: S310 - loopback only
        html = page.read().decode()
        cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    body = f"username=nobody&password=guess&csrf_token={token}".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    return _attempts(lambda: _post(base + "/login", body, headers))


def _api_token_attempts(base: str) -> list[int]:
    body = json.dumps({"username": "nobody", "password": "guess"}).encode()
    return _attempts(lambda: _post(base + "/api/v1/auth/token", body, {"Content-Type": "application/json"}))


@pytest.mark.slow
def test_the_login_limit_holds_across_two_gunicorn_workers(gunicorn):
    base, access_log = gunicorn
    web = _web_login_attempts(base)
    api = _api_token_attempts(base)

    assert (web.count(422), web.count(429)) == (LIMIT, ATTEMPTS - LIMIT), web  # 422: refused credentials
    assert (api.count(401), api.count(429)) == (LIMIT, ATTEMPTS - LIMIT), api
    time.sleep(0.5)  # gunicorn writes its access log after answering
    answered_by = {line.split()[0] for line in access_log.read_text().splitlines() if line.split()[1] == "POST"}
    assert len(answered_by) == 2, "both workers must have answered login attempts"


# -- the client's address behind proxies ------------------------------------------------------------------------

def address_seen(trusted_proxies: int, forwarded_for: str) -> str:
    """The REMOTE_ADDR the application (and so the rate limit) sees for a request from 10.0.0.1."""
    seen = {}

    def application(environ, start_response):
        seen["address"] = environ["REMOTE_ADDR"]
        return Response("")(environ, start_response)

    Client(behind_proxies(application, trusted_proxies)).get(
        "/", headers={"X-Forwarded-For": forwarded_for}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    return seen["address"]


def test_without_trusted_proxies_a_client_cannot_claim_another_address():
    assert address_seen(0, "203.0.113.9") == "10.0.0.1"


def test_behind_one_trusted_proxy_the_limit_counts_the_forwarded_client():
    assert address_seen(1, "198.51.100.1, 203.0.113.9") == "203.0.113.9"
