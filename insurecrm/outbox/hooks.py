"""What the domains add to the sending of a message, without the outbox knowing the domains.

The outbox is ground every domain stands on, so it imports none of them; a domain registers here what the sender
must ask it (the policyholders' messaging, :mod:`policyholders.messaging.outbox_rules`):

- :func:`send_check`: ``check(row) -> str | None`` — run when a row is claimed, before it is worded: a reason not to
  send it (the row is then ``skipped`` with that reason), or ``None``. A check may correct the row's recipient to
  the contact on file now;
- :func:`footer`: ``footer(row) -> str`` — text added to the end of the worded body (an unsubscribe link, an opt-out
  keyword);
- :func:`after_sent`: ``listener(row)`` — run once the row is marked sent and committed (a timeline entry). A
  listener that fails is logged; the message stays sent;
- :func:`wording`: ``word(row) -> (subject, body) | None`` — the words of a row its domain keeps itself (a
  campaign's own message), instead of the message templates; ``None`` for a row it does not word. It raises
  :class:`~insurecrm.outbox.rendering.RenderError` when its words do not render.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from insurecrm.db import db
from insurecrm.models import Outbox

log = logging.getLogger(__name__)
_checks: list[Callable[[Outbox], str | None]] = []
_footers: list[Callable[[Outbox], str]] = []
_listeners: list[Callable[[Outbox], None]] = []
_wordings: list[Callable[[Outbox], tuple[str | None, str] | None]] = []


def _register(registry: list, function: Callable) -> Callable:
    if function not in registry:
        registry.append(function)
    return function


def send_check(function: Callable[[Outbox], str | None]) -> Callable[[Outbox], str | None]:
    """Register ``function`` as a check made before each row is sent (a decorator)."""
    return _register(_checks, function)


def footer(function: Callable[[Outbox], str]) -> Callable[[Outbox], str]:
    """Register ``function`` as a footer of each worded message (a decorator)."""
    return _register(_footers, function)


def after_sent(function: Callable[[Outbox], None]) -> Callable[[Outbox], None]:
    """Register ``function`` to run after each row is sent (a decorator)."""
    return _register(_listeners, function)


def wording(function: Callable[[Outbox], tuple[str | None, str] | None]) -> Callable:
    """Register ``function`` as the wording of the rows it recognises (a decorator)."""
    return _register(_wordings, function)


def worded(row: Outbox) -> tuple[str | None, str] | None:
    """``(subject, body)`` of ``row`` from the first registered wording that words it, else ``None`` (the message
    templates word it)."""
    for word in _wordings:
        if (words := word(row)) is not None:
            return words
    return None


def refusal(row: Outbox) -> str | None:
    """The first reason a registered check gives not to send ``row``, else ``None``."""
    for check in _checks:
        if (reason := check(row)) is not None:
            return reason
    return None


def footers(row: Outbox) -> str:
    """The registered footers of ``row``, in order of registration."""
    return "".join(footer_of(row) for footer_of in _footers)


def sent(row: Outbox) -> None:
    """Tell the registered listeners that ``row`` was sent; a listener's failure is logged, not raised."""
    for listener in _listeners:
        try:
            with db.session.begin_nested():  # a failing listener's writes are undone, the others' kept
                listener(row)
        except Exception:
            log.exception("outbox %s: a listener of sent messages failed", row.id)
