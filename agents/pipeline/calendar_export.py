"""Activities as an iCalendar file (RFC 5545), written with the ``icalendar`` package.

Each activity is one ``VEVENT`` whose UID is stable (``activity-<id>@insurecrm``), so a calendar that imports the
file again updates the event instead of adding a second one; times are in UTC. A recurring series is exported as
its occurrences (each an activity of its own that may have been moved or cancelled alone), not as an ``RRULE``.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for
from icalendar import Calendar, Event

from agents.models import Activity, ActivityStatus, Priority
from agents.pipeline.activities import KIND_LABELS

PRODUCT_ID = "-//InsureCRM//Agenda//EN"
UID_DOMAIN = "insurecrm"
#: RFC 5545 priorities: 1 highest, 9 lowest
PRIORITIES = {Priority.URGENT: 1, Priority.HIGH: 3, Priority.NORMAL: 5, Priority.LOW: 9}
STATUSES = {ActivityStatus.PLANNED: "CONFIRMED", ActivityStatus.DONE: "CONFIRMED",
            ActivityStatus.CANCELLED: "CANCELLED"}


def uid(activity: Activity) -> str:
    return f"activity-{activity.id}@{UID_DOMAIN}"


def calendar_file(activities: Iterable[Activity], *, name: str) -> bytes:
    """The iCalendar file of ``activities``, named ``name`` in the calendar application."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for activity in activities:
        calendar.add_component(_event(activity))
    return calendar.to_ical()


def _event(activity: Activity) -> Event:
    event = Event()
    event.add("uid", uid(activity))
    event.add("dtstamp", activity.updated_at)
    event.add("dtstart", activity.planned_start)
    if activity.planned_end is not None:
        event.add("dtend", activity.planned_end)
    event.add("summary", activity.subject)
    if activity.description:
        event.add("description", activity.description)
    if activity.contact_name:
        event.add("contact", activity.contact_name)
    event.add("categories", [str(KIND_LABELS[activity.kind])])
    event.add("priority", PRIORITIES[activity.priority])
    event.add("status", STATUSES[activity.status])
    event.add("url", url_for("agenda_web.detail", activity_id=activity.id, _external=True))
    return event
