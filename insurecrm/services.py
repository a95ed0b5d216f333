"""Helpers shared by every domain's services."""

from __future__ import annotations

from typing import Any

from insurecrm.errors import VersionConflict


def check_version(obj: Any, expected: int | None) -> None:
    """Refuse (409) an update made against an older ``version`` than the record's current one.

    The database's version counter (``VersionedMixin``) also catches two writers racing past this
    check: the second UPDATE matches no row and is answered 409 as well.
    """
    if expected is None or obj.version != expected:
        raise VersionConflict()


def apply_changes(obj: Any, data: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Set the given attributes; returns ``{field: (before, after)}`` for those that changed."""
    changed = {}
    for key, value in data.items():
        before = getattr(obj, key)
        if before != value:
            setattr(obj, key, value)
            changed[key] = (before, value)
    return changed
