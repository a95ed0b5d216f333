"""Who is acting: the logged-in user of a request, or a named system actor (CLI, scheduler)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flask import g, has_request_context


@dataclass(frozen=True)
class SystemActor:
    """A non-human actor, e.g. ``SystemActor("cli:demo")`` or ``SystemActor("job:renewals.open_cases")``."""

    label: str
    id: None = None


_system_actor: ContextVar[SystemActor | None] = ContextVar("insurecrm_system_actor", default=None)


@contextmanager
def acting_as(label: str) -> Iterator[SystemActor]:
    """Attribute every change made inside the block to the system actor ``label``."""
    actor = SystemActor(label)
    token = _system_actor.set(actor)
    try:
        yield actor
    finally:
        _system_actor.reset(token)


def current_actor():
    """The :class:`~insurecrm.models.User` of the request, else the system actor, else ``None``."""
    if has_request_context():
        user = g.get("user")
        if user is not None:
            return user
    return _system_actor.get()


def actor_label(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "username", None) or actor.label
