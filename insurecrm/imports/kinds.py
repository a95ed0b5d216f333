"""What a kind of import is: its columns (each with its English and Chinese header and how its cells are read),
its natural key, and how one row is written through the domain's own services.

Each domain declares its kinds (``policyholders/imports.py``, ``policies/imports.py``) and registers them with
:func:`register`; the engine (:mod:`insurecrm.imports.engine`) reads the file, maps its headers, reads each cell
with the column's parser and hands the row's values to :meth:`ImportKind.apply`, which loads them with the API's
schema and calls the service the API calls. A refused row raises :class:`RowError` before anything of the row is
written.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from flask_babel import force_locale
from flask_babel.speaklater import LazyString
from marshmallow import ValidationError

from insurecrm.imports.values import Choices, cell_text
from insurecrm.labels import LABELS
from insurecrm.models import User

#: what a row came to: a record created, one changed, or one already as the file says
OUTCOMES = ("created", "updated", "unchanged")


@dataclass(frozen=True)
class Column:
    """A column of a kind's file: ``field`` is the key of the row's values (and the header the API's name gives,
    ``id_number``), ``header`` its name for people, in English and, translated, in Chinese; any of the three
    names the column in a file. ``parse`` reads a non-empty cell (and raises ``ValueError`` with a message)."""

    field: str
    header: LazyString
    parse: Callable[[Any], Any] = cell_text
    required: bool = False
    example: str = ""
    note: LazyString | None = None
    #: other headers a file commonly gives the column (a core system's "客户姓名" for the name)
    aliases: tuple[str, ...] = ()

    def names(self) -> set[str]:
        names = {header_key(self.field)} | {header_key(alias) for alias in self.aliases}
        for language in ("en", "zh"):
            with force_locale(language):
                names.add(header_key(str(self.header)))
        return names


def choices(kind: str, **aliases: str) -> Choices:
    """The reader of a stored choice by the labels of ``kind`` (:data:`insurecrm.labels.LABELS`) and ``aliases``
    (other words a file uses: ``男`` for ``male``)."""
    return Choices(LABELS[kind], aliases=aliases or None)


def header_key(text: str) -> str:
    """A header as compared: full-width forms folded, case, spaces, ``_``, ``-`` and a required mark (``*``) and
    a note in brackets ignored: ``"ID number *"``, ``"id_number"`` and ``"ＩＤ Number"`` are the same header."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"\(.*?\)|\[.*?\]", "", text)
    return re.sub(r"[\s_\-*:：]+", "", text)


class RowError(Exception):
    """A row refused: messages by field (``{"id_number": ["..."]}``), or for the row as a whole (``None``)."""

    def __init__(self, errors: dict[str | None, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def from_validation(cls, error: ValidationError, fields: dict[str, str] | None = None) -> RowError:
        """From a schema's or a service's ``ValidationError``; ``fields`` renames the API's fields as the file's
        (``owner_agent_id`` is the file's ``owner_agent_code``). Nested messages (a list's item) are flattened."""
        messages = error.messages if isinstance(error.messages, dict) else {None: error.messages}
        errors: dict[str | None, list[str]] = {}
        for key, value in messages.items():
            name = (fields or {}).get(key, key) if isinstance(key, str) else None
            errors.setdefault(name, []).extend(_flatten(value))
        return cls(errors)


def _flatten(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [message for item in value.values() for message in _flatten(item)]
    if isinstance(value, list | tuple):
        return [message for item in value for message in _flatten(item)]
    return [str(value)]


@dataclass
class Context:
    """What one run of a kind knows while it works: the acting user, whether it only checks, what it found
    on the way (warnings by row), and the kind's own lookups (``state``)."""

    user: User
    checking: bool
    warnings: list[tuple[int, str | None, str]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def warn(self, row: int, column: str | None, message: str) -> None:
        self.warnings.append((row, column, message))


class ImportKind(ABC):
    """A kind of import. Subclasses set the class attributes and implement :meth:`build_columns` and
    :meth:`apply`."""

    name: ClassVar[str]
    label: ClassVar[LazyString]
    #: the fields whose values identify a record (its natural key): two rows with the same key are an error
    key_fields: ClassVar[tuple[str, ...]]
    #: the tables whose statistics a large import refreshes (``ANALYZE``)
    tables: ClassVar[tuple[str, ...]] = ()

    @cached_property
    def columns(self) -> tuple[Column, ...]:
        """The kind's columns, built on first use: their choices read the catalogues, which need the application."""
        return self.build_columns()

    @abstractmethod
    def build_columns(self) -> tuple[Column, ...]:
        """The kind's columns, in the order of its template."""

    def key(self, values: dict[str, Any]) -> tuple | None:
        """The row's natural key, as compared (``None``: the row has no key and is refused by :meth:`apply`)."""
        parts = tuple(values.get(name) for name in self.key_fields)
        return None if any(part in (None, "") for part in parts) else tuple(str(part).upper() for part in parts)

    def prepare(self, ctx: Context) -> None:  # noqa: B027 - an optional hook: most kinds need nothing first
        """Read once what every row looks up (products, agents, units by code) into ``ctx.state``."""

    def prefetch(self, batch: list[dict[str, Any]], ctx: Context) -> None:  # noqa: B027 - optional, like prepare
        """Read at once what the rows of ``batch`` (their values, in order) will look up one by one — the records
        on file by their keys — so that :meth:`apply` finds them in ``ctx.state``; the engine calls it before
        applying each batch of rows."""

    @abstractmethod
    def apply(self, row: int, values: dict[str, Any], ctx: Context) -> str:
        """Write the row (create, update or leave it) through the domain's services; one of :data:`OUTCOMES`.
        Raises :class:`RowError` before writing anything of a refused row."""

    def finish(self, ctx: Context) -> list[tuple[int, RowError]]:
        """Work that needs every row first (links between rows of the file); the rows it refuses."""
        return []

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.field == name)


#: every kind, by name, in the order the pages offer them
KINDS: dict[str, ImportKind] = {}


def register(kind: ImportKind) -> ImportKind:
    KINDS[kind.name] = kind
    return kind


def load_kinds() -> dict[str, ImportKind]:
    """Every kind, its domain's module imported."""
    import policies.claim_imports  # noqa: F401
    import policies.imports  # noqa: F401
    import policies.installment_imports  # noqa: F401
    import policies.payment_imports  # noqa: F401
    import policyholders.imports  # noqa: F401

    # a book's policyholders before their policies, and policies before their schedules, payments and claims
    order = ("policyholders", "policies", "installments", "payments", "claims")
    return dict(sorted(KINDS.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
