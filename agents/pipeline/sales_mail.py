"""The scheduled sales reports (SPEC §4, §5): after each day, ISO week and month closes, each branch manager above
an agent receives the sales report of their branch for it, by email, with the report as a PDF.

The daily job ``agents.sales_reports`` runs for a logical date D. Day D−1 has then closed, and so has the ISO week
ending on D−1 when D is a Monday, and the month ending on D−1 when D is the first of a month. For each period that
closed and each recipient it queues one outbox email (kind ``sales_report``) under the key
``sales_report:<period>=<first day>:user=<id>``: unique in the outbox and inserted with ``ON CONFLICT DO NOTHING``
(:func:`insurecrm.outbox.queue.queue_once`), so reruns of the date, catch-ups after a restart and two runners racing
queue it once. A key already queued is not even prepared again (its PDF is not rebuilt). A run catching up on a
date older than yesterday (after an outage) sends that date's weekly and monthly reports but not its daily one,
which is news to no one by then (counted as ``sales_reports_skipped``).

The report is :mod:`reports.sales` run as the manager (their branch: the subtree of the unit they lead), grouped by
agent, and written by :func:`reports.exports.pdf_bytes` — the page's and the download's very figures — in the
recipient's language (``User.preferred_language``, through ``force_locale``), as is the email's wording.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from flask_babel import force_locale
from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from agents.models import Agent, AgentStatus, OrgUnit
from insurecrm import clock
from insurecrm.db import db
from insurecrm.jobs import daily_job
from insurecrm.models import OutboxChannel, Role, User
from insurecrm.outbox.gateways import Attachment
from insurecrm.outbox.queue import queue_once, taken_keys
from reports import modules  # noqa: F401 - registers the reports
from reports.catalogue import REPORTS
from reports.exports import pdf_bytes
from reports.report_views import heading
from reports.sales import FIGURES, SalesArgs, period_bounds
from reports.tables import cell

log = logging.getLogger(__name__)
KIND = "sales_report"
LANGUAGES = ("en", "zh")


def closed_periods(logical_date: date) -> list[tuple[str, date, date]]:
    """The periods that closed with the day before ``logical_date``: that day; its ISO week when it was a Sunday;
    its month when it was the month's last day. As (kind, first day, last day)."""
    day = logical_date - timedelta(days=1)
    periods = [("day", day, day)]
    for kind in ("week", "month"):
        start, end = period_bounds(kind, day)
        if end == day:
            periods.append((kind, start, end))
    return periods


def recipients() -> list[tuple[User, OrgUnit]]:
    """The active branch managers above at least one active agent (the agent's unit is the one they lead or lies
    below it), with the unit they lead, by user id. One query."""
    led, agent_unit = aliased(OrgUnit, name="led"), aliased(OrgUnit, name="agent_unit")
    above_an_agent = (exists().where(Agent.status == AgentStatus.ACTIVE, Agent.org_unit_id == agent_unit.id,
                                     agent_unit.path.startswith(led.path, autoescape=False)))
    return [tuple(row) for row in db.session.execute(
        select(User, led).join(led, led.id == User.org_unit_id)
        .where(User.role == Role.BRANCH_MANAGER, User.active.is_(True), above_an_agent).order_by(User.id))]


def language_of(user: User) -> str:
    """The language the user reads: their saved preference when the application speaks it, else English."""
    return user.preferred_language if user.preferred_language in LANGUAGES else "en"


def report_key(kind: str, start: date, user: User) -> str:
    return f"{KIND}:{kind}={start.isoformat()}:user={user.id}"


def sales_report_message(user: User, unit: OrgUnit, kind: str, start: date, today: date) -> tuple[dict, Attachment]:
    """The payload of the email and its PDF: the sales report of ``user``'s branch for the period, by agent, in
    the user's language. Refuses nothing; a period without events gives zeros."""
    report = REPORTS["sales"]
    args = SalesArgs().load({"period": kind, "day": start.isoformat()})
    with force_locale(language_of(user)):
        result = report.build(user, args, today)
        document = pdf_bytes(result, heading(report, args, user=user, today=today), pseudonymise=False)
    total = result.table("total")
    row = next(total.rows())
    figures = {column.key: cell(column, row, pseudonymise=False) for column in total.columns}
    payload = {"period": kind, "start": start.isoformat(), "end": period_bounds(kind, start)[1].isoformat(),
               "unit_name": unit.name, "manager_name": user.display_name,
               **{key: str(figures[key]) if kind_ == "money" else int(figures[key]) for key, _label, kind_ in FIGURES}}
    return payload, Attachment(f"sales-report-{kind}-{start.isoformat()}.pdf", "application/pdf", document)


#: how late a day's report may still be sent: a run for the date of today or yesterday
FRESH_DAYS = timedelta(days=1)


@daily_job("agents.sales_reports", order=95, reports_only=True)
def email_sales_reports(logical_date: date) -> dict[str, int]:
    """Queue the sales report of each period closed by ``logical_date`` (:func:`closed_periods`) to each manager
    above an agent, once per period and recipient (see the module's docstring). A manager without an email address
    gets none (counted). Commits after each message."""
    counts = {"sales_reports_queued": 0, "sales_reports_without_email": 0}
    periods = closed_periods(logical_date)
    if clock.today() - logical_date > FRESH_DAYS:
        # a catch-up after an outage: a day's report that old is news to no one; the week's and month's still go
        fresh = [period for period in periods if period[0] != "day"]
        if len(fresh) < len(periods):
            counts["sales_reports_skipped"] = len(periods) - len(fresh)
        periods = fresh
    for user, unit in recipients():
        if not (user.email or "").strip():
            counts["sales_reports_without_email"] += len(periods)
            continue
        keys = {kind: report_key(kind, start, user) for kind, start, _end in periods}
        done = taken_keys(keys.values())
        for kind, start, _end in periods:
            if keys[kind] in done:
                continue
            payload, pdf = sales_report_message(user, unit, kind, start, logical_date)
            if queue_once(key=keys[kind], kind=KIND, channel=OutboxChannel.EMAIL, recipient=user.email.strip(),
                          language=language_of(user), payload=payload, attachments=[pdf]) is not None:
                counts["sales_reports_queued"] += 1
            db.session.commit()
    log.info("sales reports for %s: %s", logical_date, counts)
    return counts
