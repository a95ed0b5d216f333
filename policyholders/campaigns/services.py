"""Keeping campaigns: made by a branch manager or an admin over a segment they may see, edited, activated, paused,
ended; a draft that never ran may be deleted. How a campaign runs: :mod:`policyholders.campaigns.runs`.

A campaign that has run keeps its segment, channel, schedule and control share: its runs are measured by them (the
effectiveness page compares members with a control group drawn under that share). Its name, description, dates,
messages, budget and cost per message may still change. A built-in campaign (``system_key``: renewal reminders,
birthday greetings) is worded by the message templates of its kinds and runs through its own daily job: only its
name, description and status change here.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import exists, select
from werkzeug.exceptions import Conflict

from insurecrm import clock
from insurecrm.db import db, utcnow
from insurecrm.models import User
from insurecrm.outbox.rendering import RenderError, render
from insurecrm.scope import visible
from insurecrm.services import apply_changes, check_version
from policyholders.campaigns.models import Campaign, CampaignMessage, CampaignRun, CampaignStatus
from policyholders.campaigns.wording import word
from policyholders.models import Policyholder
from policyholders.segments.models import Segment
from policyholders.segments.services import segment_query, unit_of

#: the moves of a campaign's status a person may make
TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.ACTIVE}),
    CampaignStatus.ACTIVE: frozenset({CampaignStatus.PAUSED, CampaignStatus.ENDED}),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.ACTIVE, CampaignStatus.ENDED}),
    CampaignStatus.ENDED: frozenset(),
}
#: what a campaign that has run keeps
FIXED_ONCE_RUN = ("segment_id", "channel", "schedule", "control_percent", "kind")
#: what a built-in campaign lets a person change besides its status
SYSTEM_EDITABLE = {"name", "description", "version"}


def create_campaign(data: dict[str, Any], *, actor: User) -> Campaign:
    """A draft campaign of ``actor`` (in their unit) over a segment they may see. Refuses (422) a segment they may
    not see, and an end date before the start."""
    data = dict(data)
    messages = data.pop("messages", [])
    _check_segment(data.get("segment_id"), actor)
    campaign = Campaign(**data, status=CampaignStatus.DRAFT, owner_user_id=actor.id, org_unit_id=unit_of(actor))
    campaign.messages = [CampaignMessage(**message) for message in messages]
    db.session.add(campaign)
    db.session.flush()
    return campaign


def update_campaign(campaign: Campaign, data: dict[str, Any], *, actor: User) -> dict:
    """Change a campaign (``version`` as loaded: stale → 409); what changed. Refuses (422) a change of what a
    campaign that has run keeps (:data:`FIXED_ONCE_RUN`), anything but the name and description of a built-in one,
    a segment the user may not see, and an end date before the start."""
    data = dict(data)
    check_version(campaign, data.pop("version", None))
    if campaign.system_key is not None and (refused := set(data) - SYSTEM_EDITABLE):
        raise ValidationError({key: [gettext("A built-in campaign is worded by its message templates and runs by "
                                             "its own job: only its name and description change here.")]
                               for key in sorted(refused)})
    fixed = [key for key in FIXED_ONCE_RUN if key in data and data[key] != getattr(campaign, key)]
    if fixed and has_run(campaign):
        raise ValidationError({key: [gettext("The campaign has run: its runs are measured by this, which stays as "
                                             "it was. Make a new campaign instead.")] for key in fixed})
    if "segment_id" in data and data["segment_id"] != campaign.segment_id:
        _check_segment(data["segment_id"], actor)
    start, end = data.get("start_date", campaign.start_date), data.get("end_date", campaign.end_date)
    if end is not None and end < start:
        raise ValidationError({"end_date": [gettext("The end date is on or after the start date.")]})
    changed = {}
    if "messages" in data:
        changed.update(_replace_messages(campaign, data.pop("messages")))
    changed.update(apply_changes(campaign, data))
    db.session.flush()
    return changed


def set_status(campaign: Campaign, status: CampaignStatus) -> None:
    """Move a campaign to ``status`` (:data:`TRANSITIONS`). Refuses (422) another move, and activating a campaign
    (not a built-in one) without a segment or without a message, or whose end date has passed."""
    if status == campaign.status:
        return
    if status not in TRANSITIONS[campaign.status]:
        raise ValidationError({"status": [gettext("A campaign %(from)s cannot become %(to)s.",
                                                  **{"from": campaign.status.value, "to": status.value})]})
    if status == CampaignStatus.ACTIVE and campaign.system_key is None:
        problems = []
        if campaign.segment_id is None:
            problems.append(gettext("Choose the segment it reaches."))
        if not campaign.messages:
            problems.append(gettext("Write its message in at least one language."))
        if campaign.end_date is not None and campaign.end_date < clock.today():
            problems.append(gettext("Its end date has passed."))
        if problems:
            raise ValidationError({"status": problems})
    campaign.status = status
    db.session.flush()


def delete_campaign(campaign: Campaign) -> None:
    """Delete a draft that never ran. Refuses (409) any other: a campaign that ran is history (end it instead)."""
    if campaign.status != CampaignStatus.DRAFT or has_run(campaign) or campaign.system_key is not None:
        raise Conflict(gettext("Only a draft that never ran can be deleted: end the campaign instead."))
    db.session.delete(campaign)
    db.session.flush()


def has_run(campaign: Campaign) -> bool:
    return bool(db.session.scalar(select(exists().where(CampaignRun.campaign_id == campaign.id))))


def preview(campaign: Campaign, language: str, user: User, *, policyholder_id: int | None = None) -> dict[str, Any]:
    """The campaign's message in ``language`` as a member would get it: for ``policyholder_id`` (one of the segment
    the user may see), else the segment's first member, else a sample name. Never raises for words that do not
    render: ``problem`` says why."""
    holder = _sample_member(campaign.segment, user, policyholder_id)
    result = _preview_of(language, holder)
    try:
        worded = word(campaign, language, {"policyholder_name": _name(holder)})
    except RenderError as exc:
        result["problem"] = str(exc)
        return result
    if worded is None:
        result["problem"] = gettext("The campaign has no message yet.")
    else:
        result["subject"], result["body"] = worded
    return result


def preview_messages(messages: list[dict], segment_id: int | None, user: User) -> list[dict[str, Any]]:
    """The messages of a form not saved yet (the editor's "Preview"), each as the first member of the segment
    ``segment_id`` (one the user may see) would get it in its language; the same shape as :func:`preview`."""
    segment = db.session.scalar(select(Segment).where(Segment.id == segment_id, visible(Segment, user))) \
        if segment_id is not None else None
    holder = _sample_member(segment, user, None)
    previews = []
    for message in messages:
        result = _preview_of(message["language"], holder)
        try:
            result["subject"], result["body"] = render(message.get("subject"), message["body"],
                                                       {"policyholder_name": _name(holder)}, message["language"])
        except RenderError as exc:
            result["problem"] = str(exc)
        previews.append(result)
    return previews


def _sample_member(segment: Segment | None, user: User, policyholder_id: int | None):
    if segment is None:
        return None
    members = segment_query(segment, user)
    if policyholder_id is not None:
        members = members.where(Policyholder.id == policyholder_id)
    return db.session.execute(select(Policyholder.id, Policyholder.name).where(
        Policyholder.id.in_(members), visible(Policyholder, user)).order_by(Policyholder.id).limit(1)).first()


def _name(holder) -> str:
    return holder.name if holder is not None else gettext("Zhang Wei")


def _preview_of(language: str, holder) -> dict[str, Any]:
    return {"language": language, "policyholder_id": holder.id if holder is not None else None,
            "subject": None, "body": None, "problem": None}


def _replace_messages(campaign: Campaign, messages: list[dict]) -> dict:
    before = {message.language: (message.subject, message.body) for message in campaign.messages}
    after = {message["language"]: (message.get("subject"), message["body"]) for message in messages}
    if before == after:
        return {}
    kept = {message.language: message for message in campaign.messages}
    replaced = []
    for language, (subject, body) in after.items():
        message = kept.get(language) or CampaignMessage(language=language)
        message.subject, message.body = subject, body
        replaced.append(message)
    campaign.messages = replaced
    # the messages live in their own table; touching the row bumps ``version`` so a concurrent edit still sees 409
    campaign.updated_at = utcnow()
    return {"messages": (before, after)}


def _check_segment(segment_id: int | None, actor: User) -> None:
    if segment_id is None:
        return
    if db.session.scalar(select(Segment.id).where(Segment.id == segment_id, visible(Segment, actor))) is None:
        raise ValidationError({"segment_id": [gettext("No segment %(id)s that you may see.", id=segment_id)]})
