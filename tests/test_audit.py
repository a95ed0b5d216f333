"""The audit log: field-level changes with the actor, written with the change, readable by admins only."""

from __future__ import annotations

from sqlalchemy import select

from insurecrm.actor import acting_as
from insurecrm.models import AuditLog, Role
from policyholders.models import Policyholder


def audit_rows(session, entity_type, entity_id):
    return session.scalars(select(AuditLog).where(AuditLog.entity_type == entity_type,
                                                  AuditLog.entity_id == entity_id).order_by(AuditLog.id)).all()


def test_create_update_delete_are_recorded_field_by_field(make, session):
    with acting_as("test:clerk"):
        holder = make.policyholder(name="Zhang Wei")
        holder.name = "Zhang Wei (张伟)"
        session.commit()
        holder_id = holder.id
        session.delete(holder)
        session.commit()
    create, update, delete = audit_rows(session, "policyholders", holder_id)
    assert create.action == "create" and create.changes["name"] == [None, "Zhang Wei"]
    assert update.action == "update" and update.changes == {"name": ["Zhang Wei", "Zhang Wei (张伟)"]}
    assert delete.action == "delete" and delete.changes["name"] == ["Zhang Wei (张伟)", None]
    assert {row.actor_label for row in (create, update, delete)} == {"test:clerk"}


def test_rolled_back_change_leaves_no_audit_row(make, session):
    holder = make.policyholder()
    before = len(audit_rows(session, "policyholders", holder.id))
    holder.name = "Never saved"
    session.flush()
    session.rollback()
    assert len(audit_rows(session, "policyholders", holder.id)) == before
    assert session.get(Policyholder, holder.id).name != "Never saved"


def test_password_hash_never_written_to_audit(make, session):
    user = make.user(Role.AGENT)
    user.password_hash = "$argon2id$new"
    session.commit()
    changes = [row.changes for row in audit_rows(session, "users", user.id)]
    assert all(change.get("password_hash", ["***", "***"])[1] == "***" for change in changes)
    assert "$argon2id" not in str(changes)


def test_audit_api_is_admin_only_and_filters(api, make, session):
    holder = make.policyholder()
    admin = make.user(Role.ADMIN)
    response = api(admin).get(f"/api/v1/audit?entity_type=policyholders&entity_id={holder.id}")
    assert response.status_code == 200
    assert [item["action"] for item in response.json["items"]] == ["create"]
    for role in (Role.AGENT, Role.BRANCH_MANAGER, Role.ACTUARY, Role.BANK_REFERRER, Role.BANCASSURANCE_SPECIALIST):
        assert api(make.user(role)).get("/api/v1/audit").status_code == 403


def test_api_change_is_attributed_to_the_token_user(api, make, session):
    admin = make.user(Role.ADMIN, username="auditor")
    product = make.product(name="Health")
    assert api(admin).patch(f"/api/v1/products/{product.id}", json={"name": "Renamed"}).status_code == 200
    [entry] = api(admin).get(f"/api/v1/audit?entity_type=products&entity_id={product.id}&action=update").json["items"]
    assert (entry["actor_user_id"], entry["actor_label"]) == (admin.id, "auditor")
    assert entry["changes"] == {"name": ["Health", "Renamed"]}
