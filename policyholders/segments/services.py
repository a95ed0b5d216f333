"""Segments' rules, shared by the pages, the API and (later) campaigns: keep a segment by name, and evaluate a
filter — a saved segment's or one not saved — in SQL inside a user's scope.

Services validate, change and ``flush``; the caller commits. A refused change raises
:class:`marshmallow.ValidationError` on its field (422) before anything is written.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import Select, exists, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict

import policies.permissions  # noqa: F401 - registers the policy scope rules the filter's conditions use
import policyholders.permissions  # noqa: F401 - registers the policyholder scope rule
import policyholders.segments.permissions  # noqa: F401 - registers the segment scope rule
from agents.models import Agent
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible
from insurecrm.services import apply_changes, check_version
from policyholders.models import Policyholder
from policyholders.segments.filters import SegmentFilterSchema, conditions
from policyholders.segments.models import Segment

_FILTER = SegmentFilterSchema()


def load_filter(criteria: dict[str, Any]) -> dict[str, Any]:
    """A filter as the API takes it (JSON), checked: 422 with its field messages when it is not a filter."""
    try:
        return _FILTER.load(criteria)
    except ValidationError as error:
        raise ValidationError({"filter": error.messages}) from None


def stored_filter(loaded: dict[str, Any]) -> dict[str, Any]:
    """A loaded filter as it is kept (JSON: dates as ISO text), without its empty fields."""
    return {key: value for key, value in _FILTER.dump(loaded).items() if value not in (None, [], "")}


def segment_query(segment_or_filter: Segment | dict[str, Any], user: User, *, on: date | None = None) -> Select:
    """``SELECT policyholders.id`` of the members of a segment (or of a filter as the API takes it) that ``user``
    may see, judged on ``on`` (default today). Campaigns target a segment through this; it never loads a row."""
    criteria = segment_or_filter.criteria if isinstance(segment_or_filter, Segment) else segment_or_filter
    loaded = load_filter(criteria)
    return select(Policyholder.id).where(visible(Policyholder, user), *conditions(loaded, user, on or clock.today()))


def count(segment_or_filter: Segment | dict[str, Any], user: User, *, on: date | None = None) -> int:
    """How many policyholders of ``user``'s scope the segment (or filter) holds on ``on``: one query."""
    ids = segment_query(segment_or_filter, user, on=on).subquery()
    return db.session.scalar(select(func.count()).select_from(ids))


def members_as_of(segment: Segment, user: User, on: date) -> Select:
    """``SELECT Policyholder`` of the segment's members on ``on`` that ``user`` may see, by name then id: what a
    campaign sent on that date targeted (date-bound conditions judged on it; the profile as it stands)."""
    ids = segment_query(segment, user, on=on)
    return select(Policyholder).where(Policyholder.id.in_(ids)).order_by(Policyholder.name_sort_key, Policyholder.id)


# -- keeping segments -----------------------------------------------------------------------------------------

def create_segment(data: dict[str, Any], *, actor: User) -> Segment:
    """Keep a filter by name for ``actor`` (in their unit). Refuses a name they already use (422)."""
    _check_name_free(data["name"], actor.id)
    segment = Segment(name=data["name"], description=data.get("description"),
                      criteria=stored_filter(data.get("criteria") or {}), owner_user_id=actor.id,
                      org_unit_id=unit_of(actor))
    db.session.add(segment)
    db.session.flush()
    return segment


def update_segment(segment: Segment, data: dict[str, Any]) -> dict:
    """Rename, describe or change the filter of a segment (``version`` as loaded: stale → 409); returns what
    changed. Refuses a name its owner already uses for another segment (422)."""
    check_version(segment, data.pop("version", None))
    if "name" in data and data["name"] != segment.name:
        _check_name_free(data["name"], segment.owner_user_id, exclude_id=segment.id)
    if "criteria" in data:
        data["criteria"] = stored_filter(data["criteria"] or {})
    changed = apply_changes(segment, data)
    db.session.flush()
    return changed


def delete_segment(segment: Segment) -> None:
    """Forget a segment (its policyholders are untouched). Refused (409, saying why) while a record refers to it —
    a campaign that targets it — rather than the generic answer to a conflicting write."""
    try:
        with db.session.begin_nested():
            db.session.delete(segment)
            db.session.flush()
    except IntegrityError:
        raise Conflict(gettext("This segment is in use (a campaign targets it): it cannot be deleted.")) from None


def _check_name_free(name: str, owner_user_id: int, *, exclude_id: int | None = None) -> None:
    # lower() on both sides: the database's own folding (SQLite folds ASCII only), so that a name equal to one kept
    # is always found here, before the unique constraint would answer it with a 409
    taken = exists().where(Segment.owner_user_id == owner_user_id, func.lower(Segment.name) == func.lower(name))
    if exclude_id is not None:
        taken = taken.where(Segment.id != exclude_id)
    if db.session.scalar(select(taken)):
        raise ValidationError({"name": [gettext("You already have a segment of this name.")]})


def unit_of(user: User) -> int | None:
    """The user's unit; for an agent's user without one, their agent's unit (where what they keep is filed: their
    segments, their campaigns)."""
    if user.org_unit_id is not None or user.agent_id is None:
        return user.org_unit_id
    return db.session.scalar(select(Agent.org_unit_id).where(Agent.id == user.agent_id))
