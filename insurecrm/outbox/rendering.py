"""Rendering outbox messages: the template of (kind, language, channel) with the outbox row's payload.

Templates are Jinja2 sources written by admins, so they run in Jinja2's sandbox
(:class:`jinja2.sandbox.SandboxedEnvironment`): no access to Python internals, only the payload's values and
two filters, ``day`` (an ISO date as the language writes it) and ``money`` (an amount in the insurer's
currency). A variable the payload lacks is an error (:class:`jinja2.StrictUndefined`) rather than a blank in a
letter to a customer; optional values are written ``{% if agent_name|default %}``.

A missing template falls back to the kind in English, then to the generic template in the message's language,
then to the generic one in English; a database without rows uses the built-in wording of
:mod:`insurecrm.outbox.defaults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_currency
from flask import current_app, has_app_context
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from insurecrm import clock
from insurecrm.outbox import hooks
from insurecrm.outbox.defaults import DEFAULT_TEMPLATES, GENERIC, STAFF_TEMPLATES
from insurecrm.outbox.models import MessageTemplate

FALLBACK_LANGUAGE = "en"


class RenderError(Exception):
    """A template that does not render with the payload it was given (a missing variable, a forbidden call)."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str | None
    body: str
    #: which template worded it: ``kind/language/channel``
    template: str


@lru_cache(maxsize=8)
def environment(language: str) -> SandboxedEnvironment:
    """The sandbox of one language: its ``day`` and ``money`` filters write dates and amounts its way."""
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True)
    env.filters["day"] = lambda value: _day(value, language)
    env.filters["money"] = lambda value: _money(value, language)
    return env


def _day(value, language: str) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, "long", locale=language) if isinstance(value, date) else str(value)


def _money(value, language: str) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    currency = current_app.config["CURRENCY"] if has_app_context() else "CNY"
    return format_currency(amount, currency, locale=language)


def compile_error(source: str | None) -> str | None:
    """Why ``source`` is not a usable template (with its line), or ``None`` when it compiles."""
    if not source:
        return None
    try:
        environment(FALLBACK_LANGUAGE).from_string(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return f"{exc.message or exc} (line {line})" if line else str(exc.message or exc)
    return None


def render(subject: str | None, body: str, payload: dict, language: str) -> tuple[str | None, str]:
    """``subject`` and ``body`` rendered with ``payload``; the subject on one line. Raises :class:`RenderError`."""
    env = environment(language)
    try:
        rendered_subject = " ".join(env.from_string(subject).render(payload).split())[:255] if subject else None
        rendered_body = env.from_string(body).render(payload).strip() + "\n"
    except TemplateError as exc:
        raise RenderError(str(exc.message or exc)) from exc
    return rendered_subject, rendered_body


def candidates(kind: str, language: str) -> list[tuple[str, str]]:
    """The (kind, language) pairs tried for a message, in order: the fallback chain."""
    chain = [(kind, language), (kind, FALLBACK_LANGUAGE), (GENERIC, language), (GENERIC, FALLBACK_LANGUAGE)]
    return list(dict.fromkeys(chain))


def resolve(session: Session, kind: str, language: str, channel: str) -> tuple[str, str | None, str]:
    """The template that words a message: ``(name, subject, body)`` — the first row of the fallback chain,
    else the first built-in default of the chain. One query."""
    chain = candidates(kind, language)
    rows = session.execute(
        select(MessageTemplate.kind, MessageTemplate.language, MessageTemplate.subject, MessageTemplate.body)
        .where(MessageTemplate.channel == channel, MessageTemplate.kind.in_({k for k, _ in chain}),
               MessageTemplate.language.in_({lang for _, lang in chain}))
    ).all()
    return _choose({(row.kind, row.language, channel): (row.subject, row.body) for row in rows}, kind, language,
                   channel)


def _choose(found: dict, kind: str, language: str, channel: str) -> tuple[str, str | None, str]:
    """The first of the fallback chain in ``found`` ((kind, language, channel) → (subject, body)), else in the
    built-in defaults. A message to staff (a kind of :data:`~insurecrm.outbox.defaults.STAFF_TEMPLATES`) is
    worded by its own kind only, never by the policyholders' generic template."""
    chain, sources = candidates(kind, language), (found, DEFAULT_TEMPLATES)
    if any(key[0] == kind for key in STAFF_TEMPLATES):
        chain, sources = [pair for pair in chain if pair[0] == kind], (found, STAFF_TEMPLATES)
    for source in sources:
        for key_kind, key_language in chain:
            if (key_kind, key_language, channel) in source:
                subject, body = source[(key_kind, key_language, channel)]
                return f"{key_kind}/{key_language}/{channel}", subject, body
    raise RenderError(f"no template for {kind}/{language}/{channel} and no generic one")


def as_sent_on(payload: dict | None, day: date) -> dict:
    """The payload as the message is worded on ``day``: ``days_left`` counted from the payload's ``expiry_date``
    to ``day``, not to the logical date of the job that queued it — so a reminder queued late, or sent after an
    outage of the sender, tells the days really left. A payload without a readable ``expiry_date`` is as is."""
    payload = dict(payload or {})
    try:
        expiry = date.fromisoformat(str(payload["expiry_date"])[:10])
    except (KeyError, ValueError):
        return payload
    payload["days_left"] = (expiry - day).days
    return payload


def previews(session: Session, rows) -> dict[int, tuple[str | None, str]]:
    """What each outbox row not worded yet (no body) would say if sent now: ``{id: (subject, body)}`` — for the
    outbox page, so every row shows its subject (an SMS has none: its text stands in). One query for the
    templates, whatever the number of rows; a row that does not render gets ``(None, "⚠ <why>")``. Worded as of
    today (:func:`as_sent_on`)."""
    pending = [row for row in rows if not row.body and row.channel in ("email", "sms")]
    if not pending:
        return {}
    kinds, today = {row.kind for row in pending} | {GENERIC}, clock.today()
    found = {(t.kind, t.language, t.channel.value if hasattr(t.channel, "value") else t.channel): (t.subject, t.body)
             for t in session.execute(select(MessageTemplate).where(MessageTemplate.kind.in_(kinds))).scalars()}
    worded = {}
    for row in pending:
        channel = row.channel.value if hasattr(row.channel, "value") else row.channel
        try:
            if (own := hooks.worded(row)) is not None:  # a domain's own words (a campaign's message)
                worded[row.id] = own
                continue
            name, subject, body = _choose(found, row.kind, row.language, channel)
            worded[row.id] = render(subject, body, as_sent_on(row.payload, today), name.split("/")[1])
        except RenderError as exc:
            worded[row.id] = (None, f"⚠ {exc}")
    return worded


def render_message(session: Session, *, kind: str, language: str, channel: str, payload: dict,
                   on: date | None = None) -> RenderedMessage:
    """Word one outbox message: resolve its template (see :func:`resolve`) and render it with ``payload`` (as of
    the day ``on``, when given: :func:`as_sent_on`). Dates and amounts are written in the language of the
    template used. Raises :class:`RenderError`."""
    if on is not None:
        payload = as_sent_on(payload, on)
    name, subject, body = resolve(session, kind, language, channel)
    try:
        rendered_subject, rendered_body = render(subject, body, payload or {}, name.split("/")[1])
    except RenderError as exc:
        raise RenderError(f"template {name}: {exc}") from exc
    return RenderedMessage(rendered_subject, rendered_body, name)
