"""Every write endpoint answers bad input with 422 and field messages, and writes nothing.

Domain tests check each endpoint's own rules field by field; this test sweeps every POST/PATCH/PUT route the
app serves, so that no endpoint can accept unknown fields, wrong types or broken JSON, or write half a record.
"""

from __future__ import annotations

import pytest

from insurecrm.models import Role
from tests.access.world import build_world
from tests.test_access_matrix import api_rules, fill, row_counts

BAD_BODIES = {
    "unknown field": ({"no_such_field": 1}, "no_such_field"),
    "not an object": ([1, 2, 3], None),
}


@pytest.fixture
def world(make, session):
    return build_world(make, session)


def write_calls(app, world):
    for rule in api_rules(app):
        for method in sorted(rule.methods & {"POST", "PATCH", "PUT"}):
            url = fill(rule, world.own) if "<" in rule.rule else rule.rule
            if url is not None:
                yield method, url


def test_every_write_endpoint_refuses_bad_bodies(app, api, world, session):
    admin = api(world.users[Role.ADMIN])
    referrer = api(world.users[Role.BANK_REFERRER])
    agent = api(world.users[Role.AGENT])  # tasks and activities are worked by agents and managers, not by admins
    before = row_counts(session)
    failures, calls = [], list(write_calls(app, world))
    assert len(calls) > 20
    for method, url in calls:
        worked_by_agents = url.startswith(("/api/v1/tasks/", "/api/v1/activities"))
        client = referrer if url == "/api/v1/referrals" else agent if worked_by_agents else admin
        for label, (body, field) in BAD_BODIES.items():
            response = client._call(method, url, json=body)
            if response.status_code != 422:
                failures.append(f"{method} {url} with {label}: {response.status_code}")
            elif field and field not in response.json["errors"]:
                failures.append(f"{method} {url} with {label}: errors {response.json['errors']}")
        broken = client._call(method, url, data="{not json", content_type="application/json")
        if broken.status_code != 422 or "errors" not in broken.json:
            failures.append(f"{method} {url} with broken JSON: {broken.status_code}")
    assert not failures, "\n".join(failures)
    assert row_counts(session) == before
