"""The API's faster dump (insurecrm/api_dump.py) answers exactly what marshmallow's own dump answers.

Every read of the OpenAPI (each list, and each item of the first row a list gives) is fetched twice on the demo
book, once with the fast plan and once with marshmallow's generic path, as an admin and as the actuary (whose
answers are pseudonymised after the dump); the two bodies must be equal.
"""

from __future__ import annotations

import re

import marshmallow as ma
import pytest
from sqlalchemy import select

from insurecrm.api_dump import FastDump
from insurecrm.models import Role, User


def _marshmallow_only(self, obj, *, many=False):
    return ma.Schema._serialize(self, obj, many=many)


def _reads(client) -> list[str]:
    """The GET paths of the OpenAPI: lists as they are, item paths with the first id their list gives."""
    spec = client.get("/api/v1/openapi.json").json
    lists = {path for path, operations in spec["paths"].items() if "get" in operations and "{" not in path}
    paths = sorted(lists)
    for path, operations in spec["paths"].items():
        parameters = re.findall(r"{(\w+)}", path)
        parent = path[:path.find("{")].rstrip("/")
        if "get" in operations and len(parameters) == 1 and path.endswith("}") and parent in lists:
            paths.append((parent, path, parameters[0]))
    return paths


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ACTUARY])
def test_the_fast_dump_answers_what_marshmallow_answers(book, session, api, client, monkeypatch, role):
    user = session.scalar(select(User).where(User.role == role, User.active.is_(True)).order_by(User.id).limit(1))
    caller = api(user)
    compared = 0
    for read in _reads(client):
        if isinstance(read, tuple):
            parent, template, parameter = read
            listed = caller.get(parent + "?per_page=1")
            if listed.status_code != 200 or not listed.json.get("items"):
                continue
            read = template.replace("{" + parameter + "}", str(listed.json["items"][0]["id"]))
        else:
            read += "?per_page=50"
        fast = caller.get(read)
        with monkeypatch.context() as patched:
            patched.setattr(FastDump, "_serialize", _marshmallow_only)
            plain = caller.get(read)
        assert (fast.status_code, fast.json) == (plain.status_code, plain.json), read
        compared += fast.status_code == 200
    assert compared >= 20  # the lists and items of every resource, not a handful
