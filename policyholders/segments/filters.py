"""A segment's filter: what it may say (:class:`SegmentFilterSchema`, every field bounded, unknown fields refused)
and what it means in SQL (:func:`conditions`), the same on SQLite and PostgreSQL.

Every condition is on ``Policyholder`` (correlated ``EXISTS`` / ``IN`` for what hangs off it) and they all hold
together. Conditions on dates are judged on the evaluation date ``on`` (today unless asked otherwise): age, in-force
policies (their status history, :func:`reports.book.in_force_as_of`), policy status, renewals due, and the
contribution × loyalty quadrant of the default period before ``on``. The profile, tags, consent and the churn score
(the latest the daily job stored) are as they stand. Policies count only when the reader may see them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import marshmallow as ma
from dateutil.relativedelta import relativedelta
from flask_babel import gettext
from marshmallow import fields, validate
from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from agents.models import OrgUnit
from insurecrm.api import Date, Id, Integer, Schema
from insurecrm.models import User
from insurecrm.scope import visible
from policies.models import (
    WORKED_CASE_STATUSES,
    Policy,
    PolicyStatus,
    Product,
    ProductLine,
    RenewalCase,
)
from policyholders.models import (
    AcquisitionChannel,
    ContactChannel,
    Gender,
    IncomeBand,
    MaritalStatus,
    PartyKind,
    Policyholder,
    PolicyholderStatus,
    PolicyholderTag,
)
from reports.book import in_force_as_of, status_on
from reports.filters import Filters
from reports.loyalty import LOYAL_FROM
from reports.models import ChurnScore
from reports.segments import QUADRANTS, median_contribution, quadrant_of, segment_rows

#: the profile fields a filter matches by a list of values (any of them), and their codes where they are coded
CODED_FIELDS = {"kind": PartyKind, "gender": Gender, "status": PolicyholderStatus, "income_band": IncomeBand,
                "marital_status": MaritalStatus, "preferred_channel": ContactChannel,
                "acquisition_channel": AcquisitionChannel}
TEXT_FIELDS = ("region", "occupation", "industry")
ID_FIELDS = ("bank_partner_id", "owner_agent_id")
CONSENTS = ("consent_marketing", "consent_sms", "consent_email")
MAX_AGE, MAX_RENEWAL_DAYS = 150, 366


def _codes(enum_or_codes, **metadata) -> fields.List:
    codes = [member.value for member in enum_or_codes] if isinstance(enum_or_codes, type) else list(enum_or_codes)
    return fields.List(fields.String(validate=validate.OneOf(codes)), validate=validate.Length(max=len(codes)),
                       metadata=metadata)


def _texts(max_length: int, max_items: int = 50, **metadata) -> fields.List:
    return fields.List(fields.String(validate=validate.Length(min=1, max=max_length)),
                       validate=validate.Length(max=max_items), metadata=metadata)


def _ids(**metadata) -> fields.List:
    return fields.List(Id(), validate=validate.Length(max=100), metadata=metadata)


class FilterDate(Date):
    """A date of the filter; a stored filter keeps it as its ISO text, which is written out as it is."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kwargs)


class SegmentFilterSchema(Schema):
    """A segment's filter. Every field is optional; a list matches any of its values; the fields given all hold."""

    kind = _codes(PartyKind, description="Person or organisation.")
    gender = _codes(Gender)
    status = _codes(PolicyholderStatus, description="The policyholder's status.")
    income_band = _codes(IncomeBand)
    marital_status = _codes(MaritalStatus)
    preferred_channel = _codes(ContactChannel)
    acquisition_channel = _codes(AcquisitionChannel)
    region = _texts(64)
    occupation = _texts(64)
    industry = _texts(64)
    bank_partner_id = _ids(description="Acquired through one of these bank partners.")
    owner_agent_id = _ids(description="Owned by one of these agents.")
    org_unit_id = Id(metadata={"description": "In this unit or a unit below it."})
    tags_any = _texts(48, 20, description="Has at least one of these tags.")
    tags_all = _texts(48, 20, description="Has every one of these tags.")
    age_min = Integer(minimum=0, maximum=MAX_AGE, metadata={"description": "Aged at least this (completed years)."})
    age_max = Integer(minimum=0, maximum=MAX_AGE, metadata={"description": "Aged at most this (completed years)."})
    age_on = FilterDate(past_years=10, future_years=5,
                        metadata={"description": "The date the age is taken on (default: the evaluation date)."})
    birthday_month = fields.List(Integer(minimum=1, maximum=12), validate=validate.Length(max=12),
                                 metadata={"description": "Born in one of these months (1 to 12)."})
    product_id = _ids(description="Holds an in-force policy of one of these products.")
    product_line = _codes(ProductLine, description="Holds an in-force policy of one of these lines.")
    policy_status = _codes(PolicyStatus, description="Holds a policy in one of these statuses.")
    renewal_due_days = Integer(minimum=0, maximum=MAX_RENEWAL_DAYS, metadata={
        "description": "A renewal case still worked, or an in-force policy's expiry, within this many days."})
    quadrant = _codes(QUADRANTS, description="Contribution × loyalty quadrant, as the Segments report places them.")
    churn_min = Integer(minimum=0, maximum=100, metadata={"description": "Stored churn score at least this."})
    churn_max = Integer(minimum=0, maximum=100, metadata={"description": "Stored churn score at most this."})
    consent_marketing = fields.Boolean()
    consent_sms = fields.Boolean()
    consent_email = fields.Boolean()

    @ma.validates_schema
    def _ranges_in_order(self, data: dict, **_kwargs) -> None:
        for low, high in (("age_min", "age_max"), ("churn_min", "churn_max")):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                raise ma.ValidationError(gettext("Must not be below the lower bound."), high)


class SegmentFilterForm(SegmentFilterSchema):
    """The same filter read from a form or a query string: integers arrive as digits."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        for candidate in (field_obj, getattr(field_obj, "inner", None)):
            if isinstance(candidate, fields.Integer):
                candidate.strict = False


# -- the filter in SQL --------------------------------------------------------------------------------------------

Condition = Callable[[dict, User, date], ColumnElement[bool] | None]


def conditions(criteria: dict, user: User, on: date) -> list[ColumnElement[bool]]:
    """The SQL conditions on ``Policyholder`` of a loaded filter, judged on ``on`` for ``user`` (whose scope the
    policies and the quadrant are taken in; the caller adds the policyholders' own scope)."""
    built = [rule(criteria, user, on) for rule in RULES]
    return [condition for condition in built if condition is not None]


def _profile(criteria: dict, _user: User, _on: date) -> ColumnElement[bool] | None:
    listed = [getattr(Policyholder, key).in_(criteria[key])
              for key in (*CODED_FIELDS, *TEXT_FIELDS, *ID_FIELDS) if criteria.get(key)]
    listed += [getattr(Policyholder, key) == criteria[key] for key in CONSENTS if criteria.get(key) is not None]
    return and_(*listed) if listed else None


def _org_unit(criteria: dict, _user: User, _on: date) -> ColumnElement[bool] | None:
    if criteria.get("org_unit_id") is None:
        return None
    path = select(OrgUnit.path).where(OrgUnit.id == criteria["org_unit_id"]).scalar_subquery()
    return Policyholder.org_unit_id.in_(select(OrgUnit.id).where(OrgUnit.path.startswith(path, autoescape=False)))


def _tags(criteria: dict, _user: User, _on: date) -> ColumnElement[bool] | None:
    found = []
    if criteria.get("tags_any"):
        found.append(exists().where(PolicyholderTag.policyholder_id == Policyholder.id,
                                    PolicyholderTag.tag.in_(criteria["tags_any"])))
    if criteria.get("tags_all"):
        wanted = set(criteria["tags_all"])
        held = (select(func.count()).select_from(PolicyholderTag)
                .where(PolicyholderTag.policyholder_id == Policyholder.id, PolicyholderTag.tag.in_(wanted))
                .scalar_subquery())
        found.append(held == len(wanted))
    return and_(*found) if found else None


def _age(criteria: dict, _user: User, on: date) -> ColumnElement[bool] | None:
    """Age in completed years as a range of birth dates (an index can serve it), as the policyholder list's age
    bands count it (:func:`policyholders.services.born_in_age_band`)."""
    day = criteria.get("age_on") or on
    found = []
    if criteria.get("age_min") is not None:
        found.append(Policyholder.date_of_birth <= day - relativedelta(years=criteria["age_min"]))
    if criteria.get("age_max") is not None:
        found.append(Policyholder.date_of_birth > day - relativedelta(years=criteria["age_max"] + 1))
    return and_(*found) if found else None


def _birthday_month(criteria: dict, _user: User, _on: date) -> ColumnElement[bool] | None:
    """The stored ``birthday`` (``month * 100 + day``, indexed) in one of the months."""
    months = sorted(set(criteria.get("birthday_month") or ()))
    if not months:
        return None
    return or_(*(Policyholder.birthday.between(month * 100 + 1, month * 100 + 31) for month in months))


def _holds(user: User, *where) -> ColumnElement[bool]:
    """The policyholder holds a policy the reader may see for which ``where`` holds."""
    return exists().where(Policy.policyholder_id == Policyholder.id, visible(Policy, user), *where)


def _policies(criteria: dict, user: User, on: date) -> ColumnElement[bool] | None:
    found = []
    if criteria.get("product_id"):
        found.append(_holds(user, in_force_as_of(on), Policy.product_id.in_(criteria["product_id"])))
    if criteria.get("product_line"):
        lines = select(Product.id).where(Product.line.in_(criteria["product_line"]))
        found.append(_holds(user, in_force_as_of(on), Policy.product_id.in_(lines)))
    if criteria.get("policy_status"):
        found.append(_holds(user, status_on(on).in_(criteria["policy_status"])))
    return and_(*found) if found else None


def _renewal_due(criteria: dict, user: User, on: date) -> ColumnElement[bool] | None:
    """A renewal case still worked due within the days, or a policy in force on ``on`` expiring within them."""
    if criteria.get("renewal_due_days") is None:
        return None
    last = on + timedelta(days=criteria["renewal_due_days"])
    case_due = exists().where(RenewalCase.policy_id == Policy.id, RenewalCase.status.in_(WORKED_CASE_STATUSES),
                              RenewalCase.due_date.between(on, last))
    expiring = and_(in_force_as_of(on), Policy.expiry_date <= last)
    return _holds(user, or_(case_due, expiring))


def _quadrants(criteria: dict, user: User, on: date) -> ColumnElement[bool] | None:
    """The quadrant the Segments report places the policyholder in for ``user``, over the default period before
    ``on``, at its default split (the median contribution of the policyholders in the reader's scope; loyal from
    :data:`reports.loyalty.LOYAL_FROM`)."""
    if not criteria.get("quadrant"):
        return None
    rows = segment_rows(user, Filters.from_args({}, on))
    placed = quadrant_of(rows.c.contribution > median_contribution(rows).scalar_subquery(), rows.c.score >= LOYAL_FROM)
    return Policyholder.id.in_(select(rows.c.policyholder_id).where(placed.in_(criteria["quadrant"])))


def _churn(criteria: dict, _user: User, _on: date) -> ColumnElement[bool] | None:
    """The stored churn score (the latest the daily job wrote) within the band; a policyholder without one is in
    no band."""
    low, high = criteria.get("churn_min"), criteria.get("churn_max")
    if low is None and high is None:
        return None
    scored = select(ChurnScore.policyholder_id).where(ChurnScore.score >= (low or 0), ChurnScore.score <= (
        100 if high is None else high))
    return Policyholder.id.in_(scored)


RULES: tuple[Condition, ...] = (_profile, _org_unit, _tags, _age, _birthday_month, _policies, _renewal_due,
                                _quadrants, _churn)
