"""A property-based fuzz of every operation of the API, from the app's own OpenAPI description (schemathesis).

Each operation is called as an admin and as an agent (real bearer tokens), with data that fits the description
(positive, on the records of the small world of tests/access/world.py, so that requests reach real rows) and
data that does not (negative, generated path ids included). Every answer must be no server error, a
documented status, a documented content type and a body that conforms to its documented schema.

Deterministic (hypothesis derandomized, no example database) so that CI is stable; each operation's requests
run inside a savepoint rolled back afterwards, so that one operation's writes (a revoked token, a deactivated
user) cannot change what the next one sees. ``INSURECRM_FUZZ_EXAMPLES`` sets the examples per operation, role,
and mode (default 4); the figures are printed and written to ``test-artifacts/api-fuzz.json``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from insurecrm.auth import issue_token
from insurecrm.db import db
from insurecrm.models import Role
from tests.access.world import build_world
from tests.test_access_matrix import fill

#: a fixed seed rather than ``derandomize``, which hashes the test's source on every run (seconds per operation)
SEED = 20261204
EXAMPLES = int(os.environ.get("INSURECRM_FUZZ_EXAMPLES", "4"))
ARTIFACT = Path(__file__).resolve().parent.parent / "test-artifacts" / "api-fuzz.json"
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, database=None, deadline=None, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck),
                         report_multiple_bugs=False)
#: the operation that ends its own token: it gets a fresh one for every call
LOGOUT = ("DELETE", "/api/v1/auth/token")


def _world_path_parameters(app, world) -> dict[str, dict[str, int]]:
    """OpenAPI path → the path parameters naming the world's own records (where the world has them)."""
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or "<" not in rule.rule or rule.rule.endswith(("docs", ".json")):
            continue
        url = fill(rule, world.own)
        if url is None:
            continue
        names = re.findall(r"<(?:int:)?(\w+)>", rule.rule)
        pattern = re.sub(r"<(?:int:)?\w+>", r"(\\d+)", rule.rule)
        values = [int(v) for v in re.fullmatch(pattern, url).groups()]
        found[re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule)] = dict(zip(names, values, strict=True))
    return found


def _failure_kinds(exc: BaseException) -> list[tuple[str, str]]:
    failures = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
    return [(type(f).__name__, getattr(f, "title", "") or str(f)[:200]) for f in failures if isinstance(f, Failure)]


class Fuzz:
    def __init__(self):
        self.counts = Counter()
        self.findings: dict[tuple[str, str, str], str] = {}

    def run(self, operation, role: str, headers: dict, mode: GenerationMode, path_parameters: dict | None):
        label = f"{operation.method.upper()} {operation.path}"

        @seed(SEED)
        @FUZZ_SETTINGS
        @given(operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=path_parameters))
        def call(case):
            if (operation.method.upper(), operation.path) == LOGOUT:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {self.fresh_token(role)}"}
            response = case.call()
            self.counts["requests"] += 1
            self.counts[f"status {response.status_code // 100}xx"] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (Failure, FailureGroup) as exc:
                kinds = _failure_kinds(exc)
                for kind, title in kinds:
                    self.counts[f"failure {kind}"] += 1
                    key = (label, role, kind)
                    self.findings.setdefault(key, f"{title}\n{case.as_curl_command()}\n{str(exc)[:1500]}")
                if any(kind == "ServerError" for kind, _ in kinds):
                    self.counts["server errors"] += 1
                if any(kind != "ServerError" for kind, _ in kinds):
                    self.counts["schema violations"] += 1

        try:
            call()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body): the positive run covers it
            assert mode is GenerationMode.NEGATIVE, label
            self.counts["runs without negative data"] += 1

    def fresh_token(self, role: str) -> str:
        token, _row = issue_token(self.users[role])
        db.session.commit()
        return token


@pytest.fixture
def world(make, session):
    return build_world(make, session)


@pytest.mark.slow
def test_fuzz_every_operation_as_admin_and_agent(app, world, backend):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzz = Fuzz()
    fuzz.users = {"admin": world.users[Role.ADMIN], "agent": world.users[Role.AGENT]}
    tokens = {role: issue_token(user)[0] for role, user in fuzz.users.items()}
    db.session.commit()  # into the test's outer transaction, below every operation's savepoint
    own_ids = _world_path_parameters(app, world)
    connection = db.session.connection()
    started = time.monotonic()
    for operation in operations:
        db.session.remove()
        scratch = connection.begin_nested()  # every operation starts from the same world
        try:
            for role, token in tokens.items():
                headers = {"Authorization": f"Bearer {token}"}
                # valid data on the world's own records (or none needed); invalid data with generated ids too
                fuzz.run(operation, role, headers, GenerationMode.POSITIVE, own_ids.get(operation.path))
                fuzz.run(operation, role, headers, GenerationMode.NEGATIVE, None)
        finally:
            db.session.remove()
            scratch.rollback()
    figures = {
        "backend": backend.split(":")[0], "operations": len(operations), "examples_per_run": EXAMPLES,
        "requests": fuzz.counts["requests"], "server_errors": fuzz.counts["server errors"],
        "schema_violations": fuzz.counts["schema violations"], "seconds": round(time.monotonic() - started),
        "by_status": {k: v for k, v in sorted(fuzz.counts.items()) if k.startswith("status")},
        "failures": {k: v for k, v in sorted(fuzz.counts.items()) if k.startswith("failure")},
    }
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.with_name(f"api-fuzz-{figures['backend']}.json").write_text(json.dumps(figures, indent=2))
    print("\napi fuzz:", json.dumps(figures))
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert len(operations) == sum(len(set(item) & {"get", "post", "put", "patch", "delete"})
                                  for item in spec["paths"].values())
    assert fuzz.counts["requests"] >= len(operations) * 2 * EXAMPLES
    details = "\n\n".join(f"{label} as {role}: {kind}\n{text}" for (label, role, kind), text in fuzz.findings.items())
    ARTIFACT.with_name(f"api-fuzz-{figures['backend']}-findings.txt").write_text(details)
    assert not fuzz.findings, f"{len(fuzz.findings)} findings:\n{details}"
