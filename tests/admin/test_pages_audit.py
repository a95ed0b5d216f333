"""The admin audit page: entries newest first with actor, time, record and changes; filters, paging, both
languages; admins only; a fixed number of queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert

from insurecrm import audit
from insurecrm.actor import actor_display
from insurecrm.audit_views import ACTIONS, ENTITY_TYPES, PER_PAGE
from insurecrm.db import Base, db
from insurecrm.models import AuditLog, Role
from tests.api_client import csrf_token


@pytest.fixture
def chief(make):
    return make.user(Role.ADMIN, username="chief")


@pytest.fixture
def admin(web, chief):
    return web(chief)


def entry(**kw) -> dict:
    return {"occurred_at": datetime(2026, 11, 20, 3, 0, tzinfo=UTC), "actor_user_id": None, "actor_label": "cli:demo",
            "action": "update", "entity_type": "products", "entity_id": 1, "changes": {}, **kw}


def write(*entries: dict) -> None:
    db.session.execute(insert(AuditLog), list(entries))
    db.session.commit()


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.AGENT, Role.ACTUARY, Role.BANK_REFERRER,
                                  Role.BANCASSURANCE_SPECIALIST])
def test_admins_only(web, make, role):
    assert web(make.user(role)).get("/admin/audit").status_code == 403


def test_anonymous_goes_to_login(client):
    assert client.get("/admin/audit").status_code == 302


def test_a_change_made_on_an_admin_page_is_listed_with_actor_record_and_values(admin, chief, make):
    product = make.product(code="MOTOR-1", name="Motor")
    form = {"code": "MOTOR-1", "name": "Motor cover", "line": "motor", "term_months": "12", "frequencies": ["annual"],
            "grace_period_days": "30", "active": "true", "active__present": "1", "renewable__present": "1"}
    response = admin.post(f"/admin/products/{product.id}", data={"csrf_token": csrf_token(admin), **form})
    assert response.status_code == 302
    html = admin.get(f"/admin/audit?entity_type=products&entity_id={product.id}&action=update").get_data(as_text=True)
    [row] = rows(html)
    assert f'href="/admin/users/{chief.id}">chief</a>' in row
    assert f'href="/admin/products/{product.id}">Product #{product.id}</a>' in row
    assert "<code>name</code>:\n              Motor → Motor cover" in row
    assert "<code>grace_period_days</code>:\n              60 → 30" in row
    assert "Changed" in row


def test_newest_first_in_local_time_with_system_actors_and_secrets(admin, make):
    holder = make.policyholder()
    write(entry(occurred_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC), entity_type="policyholders",
                entity_id=holder.id, action="create", changes={"name": [None, "Zhang Wei"]}),
          entry(occurred_at=datetime(2026, 11, 21, 3, 0, tzinfo=UTC), actor_label="job:policies.grace_and_lapse",
                entity_type="users", entity_id=7, changes={"password_hash": ["***", "***"],
                                                           "display_name": ["x" * 200, None]}),
          entry(occurred_at=datetime(2026, 11, 22, 3, 0, tzinfo=UTC), entity_type="products", entity_id=9,
                action="delete", changes={"code": ["GONE", None]}))
    html = admin.get("/admin/audit?date_from=2026-11-20&date_to=2026-11-22").get_data(as_text=True)
    first, second, third = rows(html)
    assert "Deleted" in first and "Product #9" in first and 'href="/admin/products/9"' not in first  # gone
    assert "Daily job policies.grace_and_lapse" in second and "*** → ***" in second
    assert "x" * 79 + "…" in second and "x" * 80 not in second and "→ —" in second
    assert "Demo loader" in third and f'href="/policyholders/{holder.id}">Policyholder #{holder.id}</a>' in third
    assert "11/20/26, 11:00" in third  # 03:00 UTC is 11:00 in Asia/Shanghai


@pytest.mark.parametrize("query, expected", [
    ("entity_type=agents", {"agents/2"}),
    ("entity_type=products&entity_id=1", {"products/1"}),
    ("actor=anna", {"agents/2"}),
    ("action=create", {"products/3"}),
    ("date_from=2026-11-21", {"agents/2", "products/3"}),
    ("date_to=2026-11-20", {"products/1"}),
    ("date_from=2026-11-21&date_to=2026-11-21", {"agents/2"}),
])
def test_filters(admin, query, expected):
    write(entry(entity_id=1),
          entry(occurred_at=datetime(2026, 11, 21, 15, 59, tzinfo=UTC), actor_label="anna", entity_type="agents",
                entity_id=2),  # 23:59 local time on the 21st
          entry(occurred_at=datetime(2026, 11, 21, 16, 0, tzinfo=UTC), entity_id=3, action="create"))  # the 22nd
    html = admin.get(f"/admin/audit?{query}").get_data(as_text=True)
    found = {f"{kind}/{number}" for kind, number in re.findall(r'href="/admin/([a-z_-]+)/(\d+)">', html)
             if kind in ("agents", "products")}
    assert found == expected


@pytest.mark.parametrize("query, field", [("entity_id=abc", "entity_id"), ("date_from=yesterday", "date_from"),
                                          ("action=steal", "action"), ("entity_type=nope", "entity_type"),
                                          ("date_from=2026-11-22&date_to=2026-11-21", "date_to"),
                                          (f"actor={'a' * 121}", "actor"), ("entity_id=99999999999", "entity_id")])
def test_a_filter_that_cannot_be_read_is_422_next_to_its_field(admin, query, field):
    response = admin.get(f"/admin/audit?{query}")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="filter-{field}-error"' in html and "<tbody>" not in html


def test_paging(admin):
    write(*(entry(entity_id=n, occurred_at=datetime(2026, 11, 1, tzinfo=UTC).replace(minute=n % 60, hour=n // 60))
            for n in range(1, PER_PAGE + 6)))
    first = admin.get("/admin/audit?actor=cli:demo").get_data(as_text=True)
    assert len(rows(first)) == PER_PAGE and "55 entries" in first
    assert re.search(r'rel="next" href="[^"]*actor=cli(%3A|:)demo', first)  # the next page keeps the filters
    assert f'>Product #{PER_PAGE + 5}</a>' in rows(first)[0]  # the newest
    second = admin.get("/admin/audit?actor=cli:demo&page=2").get_data(as_text=True)
    assert len(rows(second)) == 5 and 'rel="prev"' in second and '>Product #1</a>' in rows(second)[-1]


def test_in_chinese(admin, make):
    write(entry(entity_id=make.product().id))
    assert admin.post("/language", data={"csrf_token": csrf_token(admin), "lang": "zh"}).status_code == 302
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert "<h1>审计日志</h1>" in html and "<td>演示数据加载</td>" in html
    assert "险种 #" in html and "<td>修改</td>" in html


def test_a_fixed_number_of_queries(admin, make):
    def count() -> int:
        seen = []

        def record(_conn, _cursor, statement, *_args):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert admin.get("/admin/audit").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return len(seen)

    write(entry())
    few = count()
    write(*(entry(entity_type=kind, entity_id=n, actor_label=f"user{n}") for n in range(30) for kind in ENTITY_TYPES))
    assert count() == few


def test_every_audited_table_has_a_label():
    audited = {mapper.local_table.name for mapper in Base.registry.mappers if getattr(mapper.class_, "__audited__", 0)}
    assert {"products", "agents", "service_requests", "message_templates"} <= audited <= set(ENTITY_TYPES)
    assert set(ACTIONS) == set(audit.ACTIONS)


def test_system_actors_are_shown_by_what_they_are(app):
    with app.test_request_context():
        assert actor_display("cli:demo") == "Demo loader"
        assert actor_display("job:policies.open_renewal_cases") == "Daily job policies.open_renewal_cases"
        assert actor_display("scheduler:outbox.send") == "Scheduler (sending messages)"
        assert actor_display("cli:users.create") == "Command line (creating a user)"
        assert actor_display("cli:import") == "Command line (import)"
        assert actor_display("system") == "System" and actor_display("anna") == "anna"
