"""A pair of records of one person with a row in every table that refers to a policyholder, for the merge tests:
``two_records(make, org)`` → (survivor, merged, third). Rows are written through the tables (the merge finds the
tables in the metadata, so does this), with the required columns filled from their types."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count

from sqlalchemy import Table, insert, select

from insurecrm.db import Base, db
from policyholders.campaigns.models import Campaign, CampaignChannel, CampaignKind, CampaignRun
from policyholders.merging.services import references
from policyholders.models import PolicyholderStatus

_serial = count(1)


def row_for(table: Table, given: dict, refs: dict[str, int]) -> dict:
    """``given`` with every other NOT NULL column without a default filled: a foreign key from ``refs`` by the
    referred table's name, an enum's first member, a number, a date, a string of the column's length."""
    row = dict(given)
    for column in table.c:
        if (column.name in row or column.nullable or column.default is not None or column.server_default is not None
                or column.computed is not None or (column.primary_key and column.autoincrement in (True, "auto")
                                                   and len(table.primary_key.columns) == 1)):
            continue
        foreign = next(iter(column.foreign_keys), None)
        enum_class = getattr(column.type, "enum_class", None)
        if foreign is not None:
            row[column.name] = refs[foreign.column.table.name]
        elif enum_class is not None and issubclass(enum_class, enum.Enum):
            row[column.name] = next(iter(enum_class))
        else:
            python_type = getattr(column.type, "impl", column.type).python_type
            n = next(_serial)
            row[column.name] = {int: n % 50 + 1, Decimal: Decimal("1.00"), date: date(2026, 1, 1),
                                datetime: datetime(2026, 1, 1, tzinfo=UTC), bool: False}.get(
                python_type, f"x{n}"[: getattr(column.type, "length", None) or 40])
    return row


def add_row(table: Table, refs: dict[str, int], **given) -> None:
    db.session.execute(insert(table).values(row_for(table, given, refs)))


def two_records(make, org):
    """The survivor and the merged record (both of the agent's book), a third person, and rows: one per foreign
    key for the merged record, and the conflicts a merge must settle (a tag, a campaign both have, a relationship
    between the two, a relationship to the third person the survivor has too, a dismissal of the pair)."""
    survivor = make.policyholder(org.agent, name="张伟", date_of_birth=date(1990, 3, 7), phone="+8613800138000",
                                 email="zw@example.com")
    merged = make.policyholder(org.agent, name="Zhang Wei", date_of_birth=date(1990, 3, 7), phone="+8613900139000",
                               email=None, occupation="Engineer", status=PolicyholderStatus.PROSPECT)
    third = make.policyholder(org.agent, name="Li Na")
    policy = make.policy(merged)
    campaign = make._add(Campaign(name="Spring", kind=next(iter(CampaignKind)), channel=next(iter(CampaignChannel)),
                                  start_date=date(2026, 3, 1)))
    make.session.flush()
    run = make._add(CampaignRun(campaign_id=campaign.id, run_date=date(2026, 3, 1)))
    referral = make.referral(make.referrer())
    make.session.flush()
    refs = {"org_units": org.branch.id, "policies": policy.id, "products": policy.product_id,
            "pipeline_stages": make.stage().id, "campaigns": campaign.id, "campaign_runs": run.id,
            "referrers": referral.referrer_id,
            "bank_branches": referral.bank_branch_id, "agents": org.agent.id, "users": org.admin.id,
            "policyholders": third.id}
    make.session.flush()
    for table, column in references():
        if table.name == "policies":
            continue  # the policy above
        if table.name == "policy_figures":
            add_row(table, refs, policyholder_id=merged.id, policy_id=policy.id)
        elif table.name == "policyholder_duplicate_dismissals":
            # the lower id first: (merged, third) here, (survivor, merged) with the conflicts below
            if column.name == "policyholder_id":
                add_row(table, refs, policyholder_id=merged.id, other_policyholder_id=third.id)
        elif table.name == "policyholder_relationships":
            other = "to_policyholder_id" if column.name == "from_policyholder_id" else "from_policyholder_id"
            add_row(table, refs, **{column.name: merged.id, other: third.id, "kind": "sibling"})
        else:
            add_row(table, refs, **{column.name: merged.id})
    tables = {table.name: table for table, _column in references()}
    # the conflicts
    add_row(tables["policyholder_tags"], refs, policyholder_id=merged.id, tag="vip")
    add_row(tables["policyholder_tags"], refs, policyholder_id=survivor.id, tag="vip")
    campaign_2 = make._add(Campaign(name="Autumn", kind=next(iter(CampaignKind)), channel=next(iter(CampaignChannel)),
                                    start_date=date(2026, 9, 1)))
    make.session.flush()
    run_2 = make._add(CampaignRun(campaign_id=campaign_2.id, run_date=date(2026, 9, 1)))
    make.session.flush()
    # the survivor was in the run the merged record is in (above): one membership kept; the other run's moves
    add_row(tables["campaign_members"], refs, policyholder_id=survivor.id, campaign_id=campaign.id, run_id=run.id)
    add_row(tables["campaign_members"], refs, policyholder_id=merged.id, campaign_id=campaign_2.id, run_id=run_2.id)
    relationships = tables["policyholder_relationships"]
    add_row(relationships, refs, from_policyholder_id=merged.id, to_policyholder_id=survivor.id, kind="spouse")
    add_row(relationships, refs, from_policyholder_id=survivor.id, to_policyholder_id=merged.id, kind="spouse")
    add_row(relationships, refs, from_policyholder_id=survivor.id, to_policyholder_id=third.id, kind="sibling")
    low, high = sorted((merged.id, survivor.id))
    add_row(tables["policyholder_duplicate_dismissals"], refs, policyholder_id=low, other_policyholder_id=high)
    make.session.commit()
    return survivor, merged, third


def every_row() -> dict[str, list[dict]]:
    """Every row of ``policyholders`` and of each table referring to it, by table, sorted; without the columns a
    write touches by itself (``updated_at``, ``version``)."""
    tables = {table.name: table for table, _column in references()}
    tables["policyholders"] = Base.metadata.tables["policyholders"]
    found = {}
    for name, table in tables.items():
        rows = [{key: value for key, value in row.items() if key not in ("updated_at", "version")}
                for row in db.session.execute(select(table)).mappings()]
        found[name] = sorted(rows, key=repr)
    return found
