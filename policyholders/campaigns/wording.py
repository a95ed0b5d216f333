"""A campaign's words: its message in the policyholder's language (else in the other), rendered like the message
templates (Jinja in a sandbox, dates and amounts in the language's forms) with what the run put in the outbox row's
payload: ``policyholder_name``.

Registered with the outbox (:func:`insurecrm.outbox.hooks.wording`): the sender words a campaign's row from the
campaign's message as it stands when the row is sent, and the outbox page previews it the same way.
"""

from __future__ import annotations

from sqlalchemy import select

from insurecrm.db import db
from insurecrm.models import Outbox
from insurecrm.outbox import hooks
from insurecrm.outbox.rendering import FALLBACK_LANGUAGE, RenderError, render
from policyholders.campaigns.models import Campaign, CampaignMessage


def word(campaign: Campaign, language: str, payload: dict) -> tuple[str | None, str] | None:
    """``(subject, body)`` of ``campaign``'s message in ``language`` (else the fallback language, else any) for
    ``payload``; ``None`` when the campaign has no message. Raises ``RenderError`` for words that do not render."""
    messages = {message.language: message for message in db.session.scalars(
        select(CampaignMessage).where(CampaignMessage.campaign_id == campaign.id))}
    chosen = messages.get(language) or messages.get(FALLBACK_LANGUAGE) or next(iter(messages.values()), None)
    if chosen is None:
        return None
    return render(chosen.subject, chosen.body, payload, chosen.language)


@hooks.wording
def word_outbox_row(row: Outbox) -> tuple[str | None, str] | None:
    """The words of a campaign's outbox row (kind ``campaign``); ``None`` for any other row. A campaign deleted
    since, or without a message, is a ``RenderError`` (the row fails, never goes out in other words)."""
    from policyholders.campaigns.runs import OUTBOX_KIND

    if row.kind != OUTBOX_KIND:
        return None
    campaign = db.session.get(Campaign, (row.payload or {}).get("campaign_id"))
    words = None if campaign is None else word(campaign, row.language, dict(row.payload or {}))
    if words is None:
        raise RenderError("the campaign of this message has no message to send")
    return words
