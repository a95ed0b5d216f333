"""The catalogue of reports: each report registers here once, by name, with its title, its filters, the roles
that may run it and the function that builds it. The pages (``/reports/<name>``), the exports (CSV, XLSX, PDF),
the API (``GET /api/v1/reports/<name>``) and the CLI (``insurecrm report NAME``) all read this catalogue, so a
report written once is offered everywhere, with the same figures.

A report module (``reports/persistency.py``, ...) declares::

    @report("persistency", title=_l("Persistency"), args=PersistencyArgs, roles=ANALYSTS,
            description=_l("13th to 61st month persistency by count and premium."))
    def persistency(user: User, args: dict, today: date) -> ReportResult:
        ...

and is imported by :mod:`reports.modules` so that it registers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from insurecrm.models import Role, User
from reports.filters import ReportArgs
from reports.tables import ReportResult

#: the roles that analyse the book: branch managers (their branch), actuaries (the company, pseudonymised), admins
ANALYSTS = frozenset({Role.BRANCH_MANAGER, Role.ACTUARY, Role.ADMIN})
#: analysts, and agents for their own book
WITH_AGENTS = ANALYSTS | {Role.AGENT}

Builder = Callable[[User, dict, date], ReportResult]


@dataclass(frozen=True)
class Report:
    name: str
    title: Any  # lazy translated strings
    description: Any
    args: type[ReportArgs]
    build: Builder
    roles: frozenset[Role]
    #: the order of the reports index
    order: int = 100
    #: paragraphs of the help page's entry for the report (``/help#report-<name>``): how its figures are computed
    help: tuple = ()
    #: whether the report reads the period filters (a report of scores as of their day does not: no period shown)
    period: bool = True


REPORTS: dict[str, Report] = {}


def report(name: str, *, title, description, args: type[ReportArgs] = ReportArgs,
           roles: frozenset[Role] = ANALYSTS, order: int = 100, help: tuple = (),  # noqa: A002
           period: bool = True) -> Callable[[Builder], Builder]:
    """Decorator registering ``build(user, args, today) -> ReportResult`` as the report ``name`` (a URL slug);
    ``help`` holds the paragraphs of its entry on the help page (its description when none); ``period=False`` for a
    report that takes no period (its page offers none and its files state none)."""

    def register(build: Builder) -> Builder:
        if name in REPORTS:
            raise ValueError(f"report {name!r} registered twice")
        REPORTS[name] = Report(name, title, description, args, build, frozenset(roles), order,
                               tuple(help) or (description,), period)
        return build

    return register


def for_role(role: Role) -> list[Report]:
    """The reports ``role`` may run, in the index's order."""
    return sorted((r for r in REPORTS.values() if role in r.roles), key=lambda r: (r.order, r.name))
