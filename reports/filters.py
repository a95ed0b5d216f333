"""The filters every report takes (period, branch, channel, product), read the same way by the pages, the API and
the CLI, and turned into SQL conditions inside the user's scope.

A report with filters of its own (a grouping, a decrement, a month of persistency) extends :class:`ReportArgs`.
Bad filters are refused with field messages (422 on the API, the messages on the page, exit 2 on the CLI); a
period is bounded (:data:`MAX_PERIOD_YEARS`) so that no filter can ask the database for a century of days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, select, true

from agents.models import OrgUnit
from insurecrm.api import ArgsSchema, Date, Id, Integer
from insurecrm.models import User
from insurecrm.scope import visible
from policies.models import Policy, SalesChannel

MAX_PERIOD_YEARS = 30
#: the filters every report has (the page draws them itself); any other field of a report's args is its own
COMMON_FILTERS = ("start", "end", "org_unit_id", "channel", "product_id")


def last_twelve_months(today: date) -> tuple[date, date]:
    """The default period: the twelve complete calendar months before ``today``'s month (on 2026-12-06:
    2025-12-01 to 2026-11-30). Figures of complete months do not move from one day to the next."""
    end = today.replace(day=1) - timedelta(days=1)
    return date(end.year if end.month == 12 else end.year - 1, end.month % 12 + 1, 1), end


class ReportArgs(ArgsSchema):
    """Filters shared by every report. ``start`` and ``end`` are both inclusive."""

    start = Date(past_years=MAX_PERIOD_YEARS, future_years=1,
                 metadata={"description": "First day of the period (default: the period's usual start).",
                           "label": _l("From")})
    end = Date(past_years=MAX_PERIOD_YEARS, future_years=1,
               metadata={"description": "Last day of the period, included (default: the last complete month's end).",
                         "label": _l("To")})
    org_unit_id = Id(metadata={"description": "Only this branch (or team) and the units below it.",
                               "label": _l("Branch")})
    channel = ma.fields.String(validate=ma.validate.OneOf([c.value for c in SalesChannel]),
                               metadata={"description": "Only policies sold through this channel.",
                                         "label": _l("Channel")})
    product_id = Id(metadata={"description": "Only policies of this product.", "label": _l("Product")})
    page = Integer(load_default=1, minimum=1)
    per_page = Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))

    @ma.validates_schema
    def _period_in_order(self, data: dict, **_kwargs) -> None:
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ma.ValidationError(str(_l("The period ends before it starts.")), "end")


@dataclass(frozen=True)
class Filters:
    """Parsed filters, with the period resolved."""

    start: date
    end: date
    org_unit_id: int | None = None
    channel: str | None = None
    product_id: int | None = None

    @classmethod
    def from_args(cls, args: dict, today: date, *, default_period: tuple[date, date] | None = None) -> Filters:
        first, last = default_period or last_twelve_months(today)
        return cls(start=args.get("start") or first, end=args.get("end") or last,
                   org_unit_id=args.get("org_unit_id"), channel=args.get("channel"),
                   product_id=args.get("product_id"))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def policies_in_scope(user: User, filters: Filters) -> ColumnElement[bool]:
    """SQL condition on ``Policy``: the policies ``user`` may see that the branch, channel and product filters
    keep (the period is each report's own business)."""
    conditions = [visible(Policy, user)]
    if filters.org_unit_id is not None:
        subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(
            select(OrgUnit.path).where(OrgUnit.id == filters.org_unit_id).scalar_subquery(), autoescape=False))
        conditions.append(Policy.org_unit_id.in_(subtree))
    if filters.channel is not None:
        conditions.append(Policy.channel == filters.channel)
    if filters.product_id is not None:
        conditions.append(Policy.product_id == filters.product_id)
    return and_(true(), *conditions)


def choice(choices: dict[str, object], *, label, default: str | None = None, description: str = "") -> ma.fields.String:
    """A report's own filter that takes one of ``choices`` (code → lazy label), shown on the page as a select with
    ``label``; refused with the allowed codes otherwise."""
    return ma.fields.String(
        load_default=default, validate=ma.validate.OneOf(list(choices)),
        metadata={"label": label, "choices": choices, "description": description or f"One of {', '.join(choices)}."})


def flag(*, label, description: str = "") -> ma.fields.Boolean:
    """A report's own yes/no filter, shown on the page as a checkbox."""
    return ma.fields.Boolean(load_default=False, metadata={"label": label, "description": description or str(label)})
