"""A segment's members as a table of the reports' kind (:class:`reports.tables.Table`), so that the CSV and XLSX
downloads are written by :mod:`reports.exports` as every other export is (pseudonyms, labels, typed cells)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from agents.models import Agent
from insurecrm import clock
from insurecrm.models import User
from policyholders.models import Policyholder
from policyholders.segments import services
from policyholders.segments.models import Segment
from reports.tables import Column, Table

COLUMNS = [
    Column("id", _l("Id"), "int"),
    Column("policyholder", _l("Policyholder"), "policyholder", name_key="policyholder_name"),
    Column("status", _l("Status"), "label:holder_status"),
    Column("region", _l("Region")),
    Column("occupation", _l("Occupation")),
    Column("date_of_birth", _l("Date of birth"), "date"),
    Column("phone", _l("Phone")),
    Column("email", _l("Email")),
    Column("agent", _l("Owner agent"), "agent", name_key="agent_name"),
]


def members_table(segment: Segment, user: User) -> Table:
    """The segment's members of ``user``'s scope today, by name then id, one row each."""
    ids = services.segment_query(segment, user, on=clock.today())
    statement = (
        select(Policyholder.id.label("id"), Policyholder.id.label("policyholder"),
               Policyholder.name.label("policyholder_name"), Policyholder.status.label("status"),
               Policyholder.region.label("region"), Policyholder.occupation.label("occupation"),
               Policyholder.date_of_birth.label("date_of_birth"), Policyholder.phone.label("phone"),
               Policyholder.email.label("email"), Policyholder.owner_agent_id.label("agent"),
               Agent.name.label("agent_name"))
        .outerjoin(Agent, Agent.id == Policyholder.owner_agent_id)
        .where(Policyholder.id.in_(ids)).order_by(Policyholder.name_sort_key, Policyholder.id)
    )
    return Table("members", _l("Members"), COLUMNS, statement)
