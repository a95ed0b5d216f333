"""Browser tests: Playwright driving Debian's Chromium against a live InsureCRM server.

The server is a real ``insurecrm run`` process on a free loopback port, over its own database (SQLite file or a
fresh PostgreSQL database) built the way an operator would: ``insurecrm db upgrade`` then ``insurecrm demo`` (once
per test run and database: each xdist worker's server runs on a copy of its own).
Without Chromium the tests are skipped, unless ``INSURECRM_REQUIRE_BROWSER=1`` (as in CI) makes that a failure.
Screenshots of each main page go to ``test-artifacts/screenshots/`` (git-ignored), and one of any failing page.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import databases

CHROMIUM = os.environ.get("INSURECRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DEMO_PASSWORD = "browser-demo"


def browser_required() -> bool:
    return os.environ.get("INSURECRM_REQUIRE_BROWSER", "").strip() in {"1", "true", "yes"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _insurecrm(env: dict, *args: str, **kwargs):
    command = [sys.executable, "-m", "insurecrm.cli", *args]
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=600, **kwargs)


@dataclass(frozen=True)
class LiveServer:
    base: str
    #: the server's database, for tests that pick suitable records to work on
    database_url: str

    def query(self, sql: str, **params):
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(sa.text(sql), params).first()
        finally:
            engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live_server(request, tmp_path_factory):
    """Base URL of a running server over a demo book, on each database."""
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        if browser_required():
            pytest.fail(f"Chromium is required (INSURECRM_REQUIRE_BROWSER=1) but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed")
    pg_url = None
    build = partial(_build_demo_database, instance_path=str(tmp_path_factory.mktemp("build-instance")))
    if request.param == "sqlite":
        url = databases.shared_sqlite_copy(tmp_path_factory, "browser", build)
    else:
        if not databases.pg_available():
            if databases.pg_required():
                pytest.fail("PostgreSQL is required (INSURECRM_REQUIRE_PG=1) but does not answer")
            pytest.skip("PostgreSQL not reachable")
        url = pg_url = databases.shared_pg_copy(tmp_path_factory, "browser", build, prefix="insurecrm_browser")
    env = {**os.environ, "INSURECRM_DATABASE_URL": url, "INSURECRM_SECRET_KEY": "browser-tests",
           "INSURECRM_INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
           "INSURECRM_LOGIN_RATE_LIMIT": "1000 per minute"}
    port = _free_port()
    log = open(tmp_path_factory.mktemp("log") / "server.log", "w")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen([sys.executable, "-m", "insurecrm.cli", "run", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server)
        yield LiveServer(base, url)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        if pg_url:
            databases.drop_pg_database(pg_url)


def _build_demo_database(url: str, *, instance_path: str) -> None:
    """The server's database as an operator builds it: ``insurecrm db upgrade`` then ``insurecrm demo`` (once per
    test run and database; each xdist worker's server gets a copy of its own)."""
    env = {**os.environ, "INSURECRM_DATABASE_URL": url, "INSURECRM_SECRET_KEY": "browser-tests",
           "INSURECRM_INSTANCE_PATH": instance_path}
    _insurecrm(env, "db", "upgrade")
    _insurecrm(env, "demo", "--policyholders", "300", "--seed", "11", "--password", DEMO_PASSWORD)


def _wait_until_up(base: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/login", timeout=2):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start in time")


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server, request):
    """A fresh browser page (own cookies); a screenshot of it is kept if the test fails."""
    context = chromium.new_context(base_url=live_server.base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        shoot(page, f"FAILED-{request.node.name}")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def shoot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name.replace('/', '_').replace('[', '-').replace(']', '')}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, username: str, password: str = DEMO_PASSWORD, language: str = "en") -> None:
    """Log in through the login form, then make sure the interface speaks ``language`` (demo users may
    prefer Chinese)."""
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    with page.expect_navigation():  # the page after the login, not the login page still idle
        page.locator("form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    expected = {"en": "en", "zh": "zh-CN"}[language]
    if page.locator("html").get_attribute("lang") != expected:
        # the switch's own form, posted by the test rather than by the page's script (tests/browser/test_security.py
        # drives the switch itself): no navigation of the page's own can then race the test's next step
        form = page.locator("form.lang")
        token = form.locator("input[name=csrf_token]").get_attribute("value")
        answer = page.request.post("/language", form={"csrf_token": token, "lang": language, "next": "/"})
        assert answer.ok, answer.status
        page.goto("/")
        page.wait_for_function("lang => document.documentElement.lang === lang", arg=expected)
        page.wait_for_load_state("networkidle")
