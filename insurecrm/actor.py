"""Who is acting: the logged-in user of a request, or a named system actor (CLI, scheduler)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flask import g, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class SystemActor:
    """A non-human actor, e.g. ``SystemActor("cli:demo")`` or ``SystemActor("job:renewals.open_cases")``; or a
    user's work done by a process on their behalf (``SystemActor("import:12", id=7)``): the audit log names the
    process and links the user."""

    label: str
    id: int | None = None


_system_actor: ContextVar[SystemActor | None] = ContextVar("insurecrm_system_actor", default=None)


@contextmanager
def acting_as(label: str, *, user_id: int | None = None) -> Iterator[SystemActor]:
    """Attribute every change made inside the block to the system actor ``label``; with ``user_id``, on behalf
    of that user, and so even inside one of their requests (an import the user runs is recorded as the import)."""
    actor = SystemActor(label, user_id)
    token = _system_actor.set(actor)
    try:
        yield actor
    finally:
        _system_actor.reset(token)


def current_actor():
    """The process acting on a user's behalf, else the :class:`~insurecrm.models.User` of the request, else the
    system actor, else ``None``."""
    system = _system_actor.get()
    if system is not None and system.id is not None:
        return system
    if has_request_context():
        user = g.get("user")
        if user is not None:
            return user
    return _system_actor.get()


def actor_label(actor) -> str:
    """What the audit log stores of an actor: the username, or the system actor's label."""
    if actor is None:
        return "system"
    return getattr(actor, "username", None) or actor.label


#: system actors with a name of their own; others are shown by kind (a daily job, the scheduler, the command line)
NAMED_ACTORS = {"system": _l("System"), "cli:demo": _l("Demo loader"), "cli:simulate": _l("Simulation"),
                "scheduler:outbox.send": _l("Scheduler (sending messages)"),
                "cli:outbox.send": _l("Command line (sending messages)"),
                "cli:users.create": _l("Command line (creating a user)")}


def actor_display(label: str) -> str:
    """How pages show a stored actor label, in the user's language: a username as it is, a system actor by what
    it is ("Demo loader" for ``cli:demo``, "Daily job policies.grace_and_lapse" for
    ``job:policies.grace_and_lapse``)."""
    if label in NAMED_ACTORS:
        return str(NAMED_ACTORS[label])
    kind, _sep, name = label.partition(":")
    if kind == "job" and name:
        return _("Daily job %(job)s", job=name)
    if kind == "scheduler" and name:
        return _("Scheduler (%(task)s)", task=name)
    if kind == "cli" and name:
        return _("Command line (%(command)s)", command=name)
    if kind == "import" and name:
        return _("Import %(number)s", number=name)
    return label
